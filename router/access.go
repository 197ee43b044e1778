package router

import "net/netip"

// AccessList admits or refuses requests by client address (ingress-nginx
// whitelist-source-range / allowlist-source-range and
// denylist-source-range). The client is the peer, or the X-Forwarded-For
// client when the peer is a trusted proxy, or the PROXY protocol source.
type AccessList struct {
	// Deny is checked first: a client in it is refused (403) even when
	// Allow holds it too.
	Deny []netip.Prefix
	// Allow, when not empty, admits only clients in it; others get 403.
	Allow []netip.Prefix
	// Invalid is set when a list could not be parsed: every request is
	// refused (503), as ingress-nginx denies such a location, so a typo
	// cannot open a restricted Ingress to everyone.
	Invalid bool
}

// Allows reports whether a client at ip may pass.
func (a *AccessList) Allows(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ContainsAddr(a.Deny, ip) {
		return false
	}
	return len(a.Allow) == 0 || ContainsAddr(a.Allow, ip)
}

// Grants reports whether the lists positively let a client at ip in: it
// is in the allowlist and not denied. nginx's satisfy any counts only
// such a match: an address no allow rule names (a denylist alone) still
// has to authenticate.
func (a *AccessList) Grants(ip netip.Addr) bool {
	ip = ip.Unmap()
	return len(a.Allow) > 0 && !ContainsAddr(a.Deny, ip) && ContainsAddr(a.Allow, ip)
}

// ContainsAddr reports whether any prefix holds ip (already unmapped).
func ContainsAddr(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// RateLimits bound what one client address may send to an Ingress
// (ingress-nginx limit-rps, limit-rpm, limit-connections). Their state is
// the Ingress's, shared by all its routes (nginx zones are per Ingress),
// and kept across table swaps while Zone and the limits stay the same.
type RateLimits struct {
	// Zone names the state: the Ingress's namespace, name and UID.
	Zone string
	// RPS and RPM are sustained request rates (0: none); BurstRPS and
	// BurstRPM are the requests a client may send above the rate at once
	// (nginx limit_req burst with nodelay): a client that was idle gets
	// Burst+1 requests through before it is held to the rate.
	RPS, BurstRPS int
	RPM, BurstRPM int
	// Connections bounds the requests in flight from one address (0: none).
	Connections int
	// Exempt addresses are not limited (limit-allowlist).
	Exempt []netip.Prefix
}
