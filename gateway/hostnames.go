// Package gateway translates Gateway API objects (GatewayClass, Gateway,
// HTTPRoute, ReferenceGrant) into Portico's routing model. Like the Ingress
// translator it is pure: objects in, tables and status out; it never
// imports the Ingress code, nor the reverse.
package gateway

import "strings"

// Hostnames returns the hostnames a route serves on a listener: the
// intersection of the listener's hostname and the route's hostnames, as the
// Gateway API defines it (HTTPRouteSpec.Hostnames, v1.6):
//
//   - "If both the Listener and HTTPRoute have specified hostnames, any
//     HTTPRoute hostnames that do not match the Listener hostname MUST be
//     ignored." A wildcard matches any name with more labels under its
//     suffix ("*.example.com" matches "test.example.com" and
//     "foo.test.example.com", not "example.com"); where one side is a
//     wildcard covering the other, the more specific one is served.
//   - "If both the Listener and HTTPRoute have specified hostnames, and
//     none match with the criteria above, then the HTTPRoute is not
//     accepted": ok is false (NoMatchingListenerHostname).
//   - A listener without a hostname serves every hostname of the route; a
//     route without hostnames serves the listener's hostname; neither gives
//     []string{""}, any host.
//
// Hostnames are compared case-insensitively and returned in lower case, in
// the route's order, without duplicates.
func Hostnames(listener string, route []string) (hosts []string, ok bool) {
	listener = lower(listener)
	if len(route) == 0 {
		return []string{listener}, true
	}
	seen := make(map[string]bool, len(route))
	for _, h := range route {
		h = lower(h)
		served, match := intersect(listener, h)
		if !match || seen[served] {
			continue
		}
		seen[served] = true
		hosts = append(hosts, served)
	}
	return hosts, len(hosts) > 0
}

// intersect returns the more specific of a listener and a route hostname
// when one covers the other.
func intersect(listener, route string) (string, bool) {
	switch {
	case listener == "" || listener == route:
		return route, true
	case covers(listener, route):
		return route, true
	case covers(route, listener):
		return listener, true
	}
	return "", false
}

// covers reports whether wildcard w ("*.example.com") covers h: h is a
// name, or a narrower wildcard, with at least one more label under w's
// suffix.
func covers(w, h string) bool {
	suffix, ok := strings.CutPrefix(w, "*")
	if !ok || !strings.HasPrefix(suffix, ".") {
		return false
	}
	rest, ok := strings.CutSuffix(h, suffix)
	return ok && rest != "" && rest != "*" // "*" would be w itself
}

// lower lower-cases ASCII letters only: hostnames are ASCII (the CRD
// validates them), and other bytes must not change.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
