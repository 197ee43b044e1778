package controller

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"portico.dev/portico/router"
)

// nextUpstreamAnnotations: ingress-nginx proxy-next-upstream and
// proxy-next-upstream-timeout (proxy-next-upstream-tries is a core
// setting).
var nextUpstreamAnnotations = []annotationGroup{
	{names: []string{"proxy-next-upstream", "proxy-next-upstream-timeout"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		// ingress-nginx's default: "error timeout", no time limit.
		n := &router.NextUpstream{Error: true, Timeout: true}
		set := false
		if val, ok := a.get("proxy-next-upstream"); ok {
			if p, err := parseNextUpstream(val); err != nil {
				bad("proxy-next-upstream", err.Error())
			} else {
				n, set = p, true
			}
		}
		if val, ok := a.get("proxy-next-upstream-timeout"); ok {
			if d, err := parseNextUpstreamTimeout(val); err != nil {
				bad("proxy-next-upstream-timeout", err.Error())
			} else {
				n.Within, set = d, true
			}
		}
		if set {
			o.route.NextUpstream = n
		}
	}},
}

// parseNextUpstream reads nginx's proxy_next_upstream conditions, separated
// by spaces, as ingress-nginx's validation allows them.
func parseNextUpstream(s string) (*router.NextUpstream, error) {
	n := &router.NextUpstream{}
	off := false
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("want conditions such as \"error timeout http_502\", or \"off\"")
	}
	for _, f := range fields {
		switch f {
		case "error":
			n.Error = true
		case "timeout":
			n.Timeout = true
		case "invalid_header":
			n.InvalidHeader = true
		case "non_idempotent":
			n.NonIdempotent = true
		case "off":
			off = true
		case "http_500", "http_502", "http_503", "http_504", "http_403", "http_404", "http_429":
			code, _ := strconv.Atoi(f[len("http_"):])
			n.Codes = append(n.Codes, code)
		default:
			return nil, fmt.Errorf("unknown condition %q: want error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429, non_idempotent or off", truncate(f, 32))
		}
	}
	if off {
		return &router.NextUpstream{}, nil // nginx: off wins
	}
	return n, nil
}

// parseNextUpstreamTimeout reads whole seconds (ingress-nginx's unit; 0 is
// no limit; more than a day is a day) or a duration such as "10s".
func parseNextUpstreamTimeout(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		// Longer than maxTimeout is no limit in practice (the e2e's 999999).
		return time.Duration(min(n, int64(maxTimeout/time.Second))) * time.Second, nil
	}
	return parseTimeout(s)
}
