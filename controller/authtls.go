package controller

import "portico.dev/portico/router"

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
	},
}}
