package controller

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

// authTLSAnnotations: client-certificate authentication (auth-tls-*) is
// not built. An Ingress that asks for it must not be served without it:
// its paths fail closed (503) with a problem saying why, as an unusable
// auth-type does. auth-tls-verify-client "off" asks for nothing.
var authTLSAnnotations = []annotationGroup{{
	names: []string{"auth-tls-secret", "auth-tls-verify-client", "auth-tls-verify-depth", "auth-tls-error-page",
		"auth-tls-match-cn", "auth-tls-pass-certificate-to-upstream"},
	nginx: true,
	parse: func(a annotations, o *ingressOptions, bad badFunc) {
		secret, ok := a.get("auth-tls-secret")
		if v, _ := a.get("auth-tls-verify-client"); !ok || secret == "" || v == "off" {
			return // ingress-nginx: without a CA Secret there is no client-certificate check
		}
		bad("auth-tls-secret", "client-certificate authentication (auth-tls-*) is not supported yet; the Ingress's paths answer 503 rather than serve without it")
		o.route.Auth = &router.Auth{Deny: true}
		o.authTLS = true
	},
}}

// noteAuthTLS records the hosts of an Ingress that asks for client
// certificates: ingress-nginx checks them for the whole server, every
// Ingress's paths of the host, so all of them fail closed here.
func (c *compiler) noteAuthTLS(ing *networkingv1.Ingress) {
	for _, r := range ing.Spec.Rules {
		h := strings.ToLower(r.Host)
		if h == "" {
			continue
		}
		if c.authTLS == nil {
			c.authTLS = make(map[string]string)
		}
		if _, seen := c.authTLS[h]; !seen {
			c.authTLS[h] = ing.Namespace + "/" + ing.Name
		}
	}
}

// authTLSHostsDeny makes every route of a host some Ingress asks client
// certificates for answer 503, with a problem on each other Ingress of
// the host saying why.
func (c *compiler) authTLSHostsDeny(routes []router.Route, bySource map[string]*networkingv1.Ingress) {
	if len(c.authTLS) == 0 {
		return
	}
	told := map[string]bool{}
	var denied map[*router.Options]*router.Options // one copy per shared Options
	for i := range routes {
		r := &routes[i]
		asker, ok := c.authTLS[r.Host]
		if !ok || r.Options == nil || (r.Options.Auth != nil && r.Options.Auth.Deny) {
			continue
		}
		if denied == nil {
			denied = make(map[*router.Options]*router.Options)
		}
		o, ok := denied[r.Options]
		if !ok {
			cp := *r.Options
			cp.Auth = &router.Auth{Deny: true}
			o, denied[r.Options] = &cp, &cp
		}
		r.Options = o
		if ing := bySource[r.Source]; ing != nil && !told[r.Source] {
			told[r.Source] = true
			c.problem(ing, "AuthTLSNotSupported", fmt.Sprintf("host %s: Ingress %s asks for client certificates (auth-tls-secret), which Portico does not support yet; this Ingress's paths of the host answer 503", r.Host, asker))
		}
	}
}
