package controller

import (
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// ACMEHosts is told the hosts that may get ACME certificates before each
// table goes live, like the certificate store, so that a new ACME host can
// be ordered for as soon as it is routed. Implementations must make the
// set visible atomically.
type ACMEHosts interface {
	SetHosts(hosts []string)
}

// acmeHosts records the rule hosts of an Ingress annotated
// portico.dev/acme: "true". Wildcard hosts are refused: the HTTP-01 and
// TLS-ALPN-01 challenges cannot prove control of a whole zone (RFC 8555,
// section 7.1.3), so an order for one could never succeed.
func (c *compiler) acmeHosts(ing *networkingv1.Ingress) {
	for i, rule := range ing.Spec.Rules {
		host := strings.ToLower(rule.Host)
		switch {
		case host == "":
			c.problem(ing, "ACMEHostMissing", fmt.Sprintf(
				"spec.rules[%d]: a rule without a host cannot get an ACME certificate", i))
		case strings.HasPrefix(host, "*."):
			c.problem(ing, "ACMEWildcardHost", fmt.Sprintf(
				"spec.rules[%d].host %q: wildcard hosts cannot get ACME certificates through HTTP-01 or TLS-ALPN-01", i, truncate(host, 64)))
		case checkHost(host) == "" && strings.Contains(host, "."):
			c.acme[host] = true
		}
	}
}

// sortedHosts returns the set's members in order, for a stable Result.
func sortedHosts(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for h := range set {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}
