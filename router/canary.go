package router

import (
	"net/http"
	"regexp"
)

// Canary is an alternative backend for a route (an ingress-nginx canary
// Ingress merged into the route of its main Ingress). Chooses decides, per
// request, in ingress-nginx's order: the Header rule, then the Cookie
// rule, then Weight over Total.
type Canary struct {
	Backend *Backend
	// Header, when set, is a request header (canonical form) that
	// decides: with HeaderValue set, a value equal to it chooses the
	// canary; else with HeaderPattern set, a value it matches does; else
	// "always" chooses the canary and "never" the main backend. Any other
	// value, or no header, leaves the decision to the next rule.
	Header        string
	HeaderValue   string
	HeaderPattern *regexp.Regexp
	// Cookie, when set, is a cookie name: "always" chooses the canary,
	// "never" the main backend, anything else goes on to the weight.
	Cookie string
	// Weight out of Total requests go to the canary (Total is at least 1).
	Weight, Total uint32
	// AffinityLegacy: the canary Ingress says affinity-canary-behavior:
	// legacy, so an affinity cookie does not hold a client on either
	// backend (see Affinity.CanaryLegacy).
	AffinityLegacy bool
}

// Chooses reports whether the request goes to the canary backend; n is a
// uniformly random number for the weight.
func (c *Canary) Chooses(r *http.Request, n uint64) bool {
	if c.Header != "" {
		if vs := r.Header[c.Header]; len(vs) > 0 {
			v := vs[0]
			switch {
			case c.HeaderValue != "":
				if v == c.HeaderValue {
					return true
				}
			case c.HeaderPattern != nil:
				if c.HeaderPattern.MatchString(v) {
					return true
				}
			case v == "always":
				return true
			case v == "never":
				return false
			}
		}
	}
	if c.Cookie != "" {
		if ck, err := r.Cookie(c.Cookie); err == nil {
			switch ck.Value {
			case "always":
				return true
			case "never":
				return false
			}
		}
	}
	if c.Weight == 0 || c.Total == 0 {
		return false
	}
	return n%uint64(c.Total) < uint64(c.Weight)
}
