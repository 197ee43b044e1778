package controller

import (
	"regexp"
	"strings"

	"portico.dev/portico/router"
)

// responseRewriteAnnotations are ingress-nginx's proxy-redirect-from/-to,
// proxy-cookie-domain and proxy-cookie-path (nginx proxy_redirect,
// proxy_cookie_domain, proxy_cookie_path), applied to the backend's
// response headers by router.ResponseRewrite. Only literal text: the
// regular-expression (~) forms and nginx variables are refused.
var responseRewriteAnnotations = []annotationGroup{{
	names: []string{"proxy-redirect-from", "proxy-redirect-to", "proxy-cookie-domain", "proxy-cookie-path"},
	nginx: true,
	parse: parseResponseRewrite,
}}

// rewriteTokenRE is one literal URL, domain or path: no white space,
// quotes, semicolons or nginx variables.
var rewriteTokenRE = regexp.MustCompile(`^[A-Za-z0-9\-._~/:?#\[\]@!&'()*+,=%]+$`)

func parseResponseRewrite(a annotations, o *ingressOptions, bad badFunc) {
	var rw router.ResponseRewrite
	// ingress-nginx: "off" or "default" in proxy-redirect-from turns
	// proxy-redirect-to off; otherwise both are needed. "default" is
	// nginx's rewrite of the proxy_pass URL, which under ingress-nginx is
	// the internal upstream_balancer name no backend sends back: off.
	if from, ok := a.get("proxy-redirect-from"); ok && from != "off" && from != "default" {
		to, hasTo := a.get("proxy-redirect-to")
		switch {
		case !rewriteTokenRE.MatchString(from) || strings.HasPrefix(from, "~"):
			bad("proxy-redirect-from", "want off, default, or a literal URL prefix without spaces or variables")
		case !hasTo || to == "off" || to == "default":
			bad("proxy-redirect-to", "proxy-redirect-from needs proxy-redirect-to, a URL prefix")
		case !rewriteTokenRE.MatchString(to):
			bad("proxy-redirect-to", "want a literal URL prefix without spaces or variables")
		default:
			rw.RedirectFrom, rw.RedirectTo = from, to
		}
	}
	pair := func(name string) (from, to string) {
		v, ok := a.get(name)
		if !ok || strings.TrimSpace(v) == "off" {
			return "", ""
		}
		f := strings.Fields(v)
		if len(f) != 2 || !rewriteTokenRE.MatchString(f[0]) || !rewriteTokenRE.MatchString(f[1]) || strings.HasPrefix(f[0], "~") {
			bad(name, `want "off" or two literal values, from and to, separated by a space`)
			return "", ""
		}
		return f[0], f[1]
	}
	rw.CookieDomainFrom, rw.CookieDomainTo = pair("proxy-cookie-domain")
	rw.CookiePathFrom, rw.CookiePathTo = pair("proxy-cookie-path")
	if rw != (router.ResponseRewrite{}) {
		o.route.ResponseRewrite = &rw
	}
}

// accessLogAnnotations: enable-access-log "false" leaves the Ingress's
// requests out of the access log (metrics still count them).
var accessLogAnnotations = []annotationGroup{{
	names: []string{"enable-access-log"}, nginx: true,
	parse: func(a annotations, o *ingressOptions, bad badFunc) {
		if on, ok := boolAnnotation(a, "enable-access-log", bad); ok {
			o.route.NoAccessLog = !on
		}
	},
}}
