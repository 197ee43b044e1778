package controller

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"portico.dev/portico/router"
)

// Bounds on rate-limit annotations, so a value cannot overflow the
// limiter's arithmetic.
const (
	maxRateLimit      = 1_000_000
	maxBurstMultipler = 1000
	maxPrefixes       = 1000
)

// accessAnnotations are ingress-nginx's source-address access lists and
// per-client limits (ipallowlist, ipdenylist, ratelimit).
var accessAnnotations = []annotationGroup{
	{names: []string{"whitelist-source-range", "allowlist-source-range", "denylist-source-range"}, nginx: true,
		parse: func(a annotations, o *ingressOptions, bad badFunc) {
			acl := &router.AccessList{}
			// whitelist-source-range is an alias of allowlist-source-range,
			// which wins when both are set.
			if name, ok := alias(a, "allowlist-source-range", "whitelist-source-range"); ok {
				acl.Allow, acl.Invalid = accessPrefixes(a, name, bad)
			}
			if _, ok := a.get("denylist-source-range"); ok {
				var invalid bool
				acl.Deny, invalid = accessPrefixes(a, "denylist-source-range", bad)
				acl.Invalid = acl.Invalid || invalid
			}
			o.route.Access = acl
		}},
	{names: []string{"limit-rps", "limit-rpm", "limit-connections", "limit-burst-multiplier", "limit-allowlist", "limit-whitelist"}, nginx: true,
		parse: func(a annotations, o *ingressOptions, bad badFunc) {
			rps, _ := count(a, "limit-rps", maxRateLimit, bad)
			rpm, _ := count(a, "limit-rpm", maxRateLimit, bad)
			conns, _ := count(a, "limit-connections", maxRateLimit, bad)
			mult := 5 // ingress-nginx's default burst multiplier
			if m, ok := count(a, "limit-burst-multiplier", maxBurstMultipler, bad); ok {
				mult = m
			}
			var exempt []netip.Prefix
			// limit-whitelist is an alias of limit-allowlist.
			if name, ok := alias(a, "limit-allowlist", "limit-whitelist"); ok {
				ps, err := parsePrefixList(a.vals[name])
				if err != nil {
					// ingress-nginx drops every limit then; Portico keeps
					// them and exempts nobody.
					bad(name, err.Error()+"; no address is exempt from the limits")
				}
				exempt = ps
			}
			if rps == 0 && rpm == 0 && conns == 0 {
				return
			}
			o.route.Limits = &router.RateLimits{
				RPS: rps, BurstRPS: rps * mult,
				RPM: rpm, BurstRPM: rpm * mult,
				Connections: conns,
				Exempt:      exempt,
			}
		}},
}

// alias returns the name of an annotation and its older alias that is set,
// preferring the name.
func alias(a annotations, name, old string) (string, bool) {
	if _, ok := a.get(name); ok {
		return name, true
	}
	_, ok := a.get(old)
	return old, ok
}

// accessPrefixes parses an access list; an invalid one is reported and
// makes the Ingress refuse every request (fail closed, as ingress-nginx
// denies the location).
func accessPrefixes(a annotations, name string, bad badFunc) (ps []netip.Prefix, invalid bool) {
	ps, err := parsePrefixList(a.vals[name])
	if err != nil {
		bad(name, err.Error()+"; every request to this Ingress is refused (503)")
		return nil, true
	}
	return ps, false
}

// count reads a whole number from 0 to max; ok is false when it is unset
// or invalid (reported).
func count(a annotations, name string, max int, bad badFunc) (n int, ok bool) {
	val, set := a.get(name)
	if !set {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(val))
	if err != nil || n < 0 || n > max {
		bad(name, fmt.Sprintf("want a whole number from 0 to %d", max))
		return 0, false
	}
	return n, true
}

// parsePrefixList reads ingress-nginx's comma-separated list of CIDRs and
// addresses ("10.0.0.0/8, 192.168.1.1, 2001:db8::/32"). Like ingress-nginx,
// one invalid entry (an empty one included) makes the whole list invalid.
// Host bits are cleared; an address is a /32 or /128; duplicates go.
func parsePrefixList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, part := range strings.Split(s, ",") {
		if i >= maxPrefixes {
			return nil, fmt.Errorf("more than %d entries", maxPrefixes)
		}
		part = strings.TrimSpace(part)
		var p netip.Prefix
		if strings.IndexByte(part, '/') >= 0 {
			var err error
			if p, err = netip.ParsePrefix(part); err != nil || p.Addr().Zone() != "" {
				return nil, fmt.Errorf("entry %d is not a CIDR or IP address", i+1)
			}
		} else {
			ip, err := netip.ParseAddr(part)
			if err != nil || ip.Zone() != "" {
				return nil, fmt.Errorf("entry %d is not a CIDR or IP address", i+1)
			}
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96) // clients are compared unmapped
		}
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out), nil
}
