package controller

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

// redirectOptions are the ingress-nginx redirects of an Ingress
// (internal/ingress/annotations/redirect and rewrite's app-root).
type redirectOptions struct {
	// redirect answers every path of the Ingress (permanent-redirect,
	// temporal-redirect); nil for none.
	redirect *router.Redirect
	// appRoot: requests for "/" on the Ingress's hosts are answered 302 to
	// this path; "" for none. appRootForm is how the Location is built:
	// router.FormAppRoot, or router.FormAppRootArgs for an app-root that
	// ends in nginx's "$is_args$args" (the query is kept).
	appRoot     string
	appRootForm router.RedirectForm
	// fromToWWW: requests for www.<host> are redirected to <host> (or the
	// other way for a host that starts with "www.").
	fromToWWW bool
}

// redirectURLRE is the value check ingress-nginx applies to redirect URLs
// (parser.URLIsValidRegex): no spaces, quotes or nginx variables.
var redirectURLRE = regexp.MustCompile(`^[\-._~a-zA-Z0-9/:,?&=]*$`)

// appRootRE is ingress-nginx's check for app-root (RegexPathWithCapture).
var appRootRE = regexp.MustCompile(`^/?[\-._~a-zA-Z0-9/$:]*$`)

// appRootArgs is the one use of nginx variables app-root keeps: nginx's
// "return 302 $scheme://$http_host<app-root>" expands it to the request's
// query ("?" and the arguments, or nothing).
const appRootArgs = "$is_args$args"

var redirectAnnotations = []annotationGroup{
	{names: []string{"permanent-redirect", "permanent-redirect-code", "temporal-redirect", "temporal-redirect-code", "relative-redirects"},
		nginx: true, parse: parseRedirect},
	{names: []string{"app-root"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		v, _ := a.get("app-root")
		form := router.FormAppRoot
		if rest, ok := strings.CutSuffix(v, appRootArgs); ok {
			v, form = rest, router.FormAppRootArgs
		}
		if !strings.HasPrefix(v, "/") || !appRootRE.MatchString(v) || strings.Contains(v, "$") {
			bad("app-root", `want an absolute path such as "/app" (of nginx variables only a final "$is_args$args")`)
			return
		}
		o.redirects.appRoot, o.redirects.appRootForm = v, form
	}},
	{names: []string{"from-to-www-redirect"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		o.redirects.fromToWWW, _ = boolAnnotation(a, "from-to-www-redirect", bad)
	}},
}

// parseRedirect: temporal-redirect wins over permanent-redirect, as in
// ingress-nginx; a code outside 300–307 (temporal) or 300–308 (permanent)
// falls back to 302 or 301.
func parseRedirect(a annotations, o *ingressOptions, bad badFunc) {
	for _, k := range []struct {
		name, codeName string
		def, max       int
	}{
		{"temporal-redirect", "temporal-redirect-code", http.StatusFound, http.StatusTemporaryRedirect},
		{"permanent-redirect", "permanent-redirect-code", http.StatusMovedPermanently, http.StatusPermanentRedirect},
	} {
		target, ok := a.get(k.name)
		if !ok || target == "" {
			continue
		}
		form := router.FormURL
		if strings.HasPrefix(target, "/") && k.name == "permanent-redirect" && redirectURLRE.MatchString(target) {
			// ingress-nginx checks only temporal-redirect for a scheme:
			// "return 301 /path" is made absolute by nginx, or kept as
			// it is with relative-redirects.
			form = router.FormPath
		} else if msg := checkRedirectURL(target); msg != "" {
			bad(k.name, msg)
			continue
		}
		code := k.def
		if v, ok := a.get(k.codeName); ok {
			n, err := strconv.Atoi(v)
			switch {
			case err != nil:
				bad(k.codeName, "want a whole number")
			case n < http.StatusMultipleChoices || n > k.max:
				bad(k.codeName, "want a redirect status from 300 to "+strconv.Itoa(k.max))
			default:
				code = n
			}
		}
		o.redirects.redirect = &router.Redirect{Form: form, URL: target, Status: code}
		if form == router.FormPath {
			o.redirects.redirect.Relative, _ = boolAnnotation(a, "relative-redirects", bad)
		} else if _, set := a.get("relative-redirects"); set {
			boolAnnotation(a, "relative-redirects", bad) // checked; nothing else Portico answers is relative
		}
		return
	}
}

func checkRedirectURL(s string) string {
	if !redirectURLRE.MatchString(s) {
		return "want an http or https URL without spaces, quotes or variables"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "want an absolute http or https URL"
	}
	return ""
}

// wwwRedirectFrom is the host from-to-www-redirect answers for host.
func wwwRedirectFrom(host string) string {
	if rest, ok := strings.CutPrefix(host, "www."); ok {
		return rest
	}
	return "www." + host
}

// routeFilters are the filters every route of the Ingress gets, nil for
// none: one value shared by all of them.
func (o *ingressOptions) routeFilters() *router.Filters {
	f := o.filters
	if r := o.redirects.redirect; r != nil {
		f.Redirect = r
	}
	if f.CORS == nil && f.Redirect == nil && f.Rewrite == nil && f.RequestHeaders.Empty() &&
		f.ResponseHeaders.Empty() && len(f.Mirrors) == 0 {
		return nil
	}
	return &f
}

// wwwRedirects adds, for each host of an Ingress annotated
// from-to-www-redirect, a route for its www twin (or, for a www. host, the
// bare name) that answers 308 to the host, as ingress-nginx's redirect
// servers do. A twin some Ingress routes itself is left alone, as
// ingress-nginx does (it logs a warning; here it is a problem on the
// Ingress that asked).
func (c *compiler) wwwRedirects(routes []router.Route, ings []*networkingv1.Ingress) []router.Route {
	var hosts map[string]bool
	for _, ing := range ings {
		_, n := ing.Annotations[nginxPrefix+"from-to-www-redirect"]
		_, p := ing.Annotations[porticoPrefix+"from-to-www-redirect"]
		if !n && !p {
			continue // cheap pre-check; the parsed value decides below
		}
		opts, _ := parseAnnotations(ing.Annotations)
		if !opts.redirects.fromToWWW {
			continue
		}
		if hosts == nil {
			hosts = make(map[string]bool, len(routes))
			for i := range routes {
				hosts[routes[i].Host] = true
			}
		}
		src := ing.Namespace + "/" + ing.Name
		for _, rule := range ing.Spec.Rules {
			host := strings.ToLower(rule.Host)
			if host == "" || strings.HasPrefix(host, "*.") || checkHost(host) != "" {
				continue
			}
			from := wwwRedirectFrom(host)
			if hosts[from] {
				if !c.wwwAdded(routes, from, host) {
					c.problem(ing, "RedirectSkipped", "from-to-www-redirect: an Ingress already routes "+from+"; no redirect from it to "+host)
				}
				continue
			}
			hosts[from] = true
			routes = append(routes, router.Route{Host: from, Path: "/", Type: router.Prefix, Options: router.DefaultOptions,
				Filters: &router.Filters{Redirect: &router.Redirect{Form: router.FormWWW, Hostname: host, Status: http.StatusPermanentRedirect}},
				Source:  src})
		}
	}
	return routes
}

// wwwAdded reports whether routes already has the redirect from -> to
// (two Ingresses of one host both asking).
func (c *compiler) wwwAdded(routes []router.Route, from, to string) bool {
	for i := range routes {
		if r := &routes[i]; r.Host == from && r.Filters != nil && r.Filters.Redirect != nil &&
			r.Filters.Redirect.Form == router.FormWWW && r.Filters.Redirect.Hostname == to {
			return true
		}
	}
	return false
}
