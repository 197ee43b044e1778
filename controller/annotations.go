package controller

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"portico.dev/portico/router"
)

// Annotation names are a contract with users: never rename one. Every
// annotation is read as portico.dev/<name>; those that ingress-nginx also
// defines are read as nginx.ingress.kubernetes.io/<name> too, with
// ingress-nginx's meaning (see nginxcatalog.go). When an Ingress sets both,
// the portico.dev/ one wins.
const (
	porticoPrefix = "portico.dev/"
	nginxPrefix   = "nginx.ingress.kubernetes.io/"
)

const (
	annLoadBalance       = porticoPrefix + "load-balance"
	annNextUpstreamTries = porticoPrefix + "proxy-next-upstream-tries"
	annConnectTimeout    = porticoPrefix + "proxy-connect-timeout"
	annReadTimeout       = porticoPrefix + "proxy-read-timeout"
	annSendTimeout       = porticoPrefix + "proxy-send-timeout"
	annBodySize          = porticoPrefix + "proxy-body-size"
	annBackendProtocol   = porticoPrefix + "backend-protocol"
	annUpstreamHost      = porticoPrefix + "upstream-host"
	annSSLRedirect       = porticoPrefix + "ssl-redirect"
	annForceSSLRedirect  = porticoPrefix + "force-ssl-redirect"
	annHSTS              = porticoPrefix + "hsts"
	annACME              = porticoPrefix + "acme"
)

// Limits that keep an annotation from turning into a denial of service.
const (
	maxTimeout = 24 * time.Hour
	maxTries   = 10
)

// ingressOptions is what an Ingress's annotations say, parsed once per build.
type ingressOptions struct {
	route         router.Options
	forceRedirect bool // redirect even hosts without a TLS section
	redirectSet   bool // ssl-redirect was given explicitly
	acme          bool
	// filters are applied to every route of the Ingress; see
	// (*ingressOptions).routeFilters.
	filters router.Filters
	// redirects answer requests instead of a backend (permanent-redirect,
	// temporal-redirect, app-root, from-to-www-redirect).
	redirects redirectOptions
	// rewrite is use-regex, rewrite-target and x-forwarded-prefix.
	rewrite rewriteOptions
	// canary is set for a canary Ingress (canary: "true"), see canary.go.
	canary *canaryOptions
	// globalAuth is the ConfigMap's global-auth-url (the route's Auth until
	// the Ingress sets its own, see enable-global-auth).
	globalAuth *router.Auth
	// authTLS is auth-tls-*: client certificates for the Ingress's hosts
	// (authtls.go).
	authTLS *authTLSOptions
	// proxySSL is proxy-ssl-*: TLS to the Ingress's HTTPS backends.
	proxySSL *proxySSLOptions
	// snippets are configuration-snippet and server-snippet (snippet.go).
	snippets *snippetOptions
	// customHeaders is the custom-headers ConfigMap (customheaders.go).
	customHeaders *customHeadersRef
	// basicAuth is auth-type basic and its Secret (basicauth.go).
	basicAuth *basicAuthOptions
	// aliases are server-alias's host names (alias.go).
	aliases []string
	// errorPages are custom-http-errors and default-backend (errorpages.go).
	errorPages *errorPageOptions
	// serviceUpstream: proxy to the Service's cluster IP (serviceupstream.go).
	serviceUpstream bool
	// sslPassthrough: TLS of the hosts is spliced unterminated (passthrough.go).
	sslPassthrough bool
}

// annotations is an Ingress's annotations by name, the prefix resolved:
// "ssl-redirect" for portico.dev/ssl-redirect or
// nginx.ingress.kubernetes.io/ssl-redirect. key gives the full name a value
// came from, for messages.
type annotations struct {
	vals  map[string]string
	nginx map[string]bool // the value came from nginx.ingress.kubernetes.io/
}

func (a annotations) get(name string) (string, bool) {
	v, ok := a.vals[name]
	return v, ok
}

func (a annotations) key(name string) string {
	if a.nginx[name] {
		return nginxPrefix + name
	}
	return porticoPrefix + name
}

// annotationGroup is a set of annotations parsed together: a feature whose
// settings depend on each other (auth-type and auth-secret) is one group.
// parse is called when any of names is set; it reads them from a and
// reports each invalid value through bad, leaving that setting at its
// default.
type annotationGroup struct {
	names []string
	// nginx: these names are ingress-nginx's too and are read under its
	// prefix with its meaning.
	nginx bool
	parse func(a annotations, o *ingressOptions, bad badFunc)
}

// badFunc reports an invalid value of annotation name.
type badFunc func(name, why string)

// annotationGroups lists every annotation Portico reads. Each feature
// adds its group here; names must not repeat (TestAnnotationGroups).
var annotationGroups = slices.Concat(coreAnnotations, redirectAnnotations, corsAnnotations, rewriteAnnotations,
	canaryAnnotations, affinityAnnotations, hashByAnnotations, accessAnnotations, authAnnotations, basicAuthAnnotations,
	responseRewriteAnnotations, accessLogAnnotations, proxySSLAnnotations, snippetAnnotations, customHeadersAnnotations, satisfyAnnotations,
	globalAuthAnnotations, aliasAnnotations, mirrorAnnotations, errorPageAnnotations, serviceUpstreamAnnotations, nextUpstreamAnnotations, authTLSAnnotations, sslPassthroughAnnotations)

// annotationIndex finds a name's group.
var annotationIndex = func() map[string]*annotationGroup {
	m := make(map[string]*annotationGroup)
	for i := range annotationGroups {
		for _, n := range annotationGroups[i].names {
			m[n] = &annotationGroups[i]
		}
	}
	return m
}()

// annotationName splits an annotation key into the name Portico reads
// and whether it came under ingress-nginx's prefix; ours is false for
// keys of neither prefix.
func annotationName(key string) (name string, nginx, ours bool) {
	if n, ok := strings.CutPrefix(key, porticoPrefix); ok {
		return n, false, true
	}
	if n, ok := strings.CutPrefix(key, nginxPrefix); ok {
		return n, true, true
	}
	return "", false, false
}

// annotationProblem is one problem with an Ingress's annotations.
type annotationProblem struct {
	reason, msg string
	key         string // the annotation's full name
}

// parseAnnotations never fails as a whole: an invalid value is reported and
// that one setting keeps its default, so a typo cannot take a route down.
// An unknown portico.dev/ annotation, or an ingress-nginx one Portico does
// not honour, is reported (UnsupportedAnnotation) and ignored.
func parseAnnotations(ann map[string]string) (ingressOptions, []annotationProblem) {
	return parseAnnotationsOver(ann, nil)
}

// parseAnnotationsOver is parseAnnotations starting from the global
// defaults of an ingress-nginx ConfigMap (nil for Portico's own).
func parseAnnotationsOver(ann map[string]string, nc *NginxConfig) (ingressOptions, []annotationProblem) {
	var o ingressOptions
	o.route.SSLRedirect = true // applied only to hosts with TLS, see compile
	if nc != nil {
		o.route, o.forceRedirect = nc.Route, nc.ForceSSLRedirect // nginxconfig.go
		o.globalAuth = nc.Route.Auth
	}
	var probs []annotationProblem
	a := annotations{}
	for key, val := range ann {
		name, nginx, ours := annotationName(key)
		if !ours {
			continue
		}
		g := annotationIndex[name]
		switch {
		case g == nil && nginx:
			probs = append(probs, annotationProblem{"UnsupportedAnnotation", nginxUnsupported(name), key})
			continue
		case g == nil:
			probs = append(probs, annotationProblem{"InvalidAnnotation", fmt.Sprintf("unknown annotation %s is ignored", truncate(key, 80)), key})
			continue
		case nginx && !g.nginx:
			probs = append(probs, annotationProblem{"UnsupportedAnnotation", nginxUnsupported(name), key})
			continue
		}
		if _, set := a.vals[name]; set && nginx && !a.nginx[name] {
			continue // portico.dev/ wins
		}
		if a.vals == nil {
			a.vals, a.nginx = make(map[string]string, len(ann)), make(map[string]bool)
		}
		a.vals[name], a.nginx[name] = val, nginx
	}
	if len(a.vals) == 0 {
		sortProblems(probs)
		return o, probs
	}
	bad := func(name, why string) {
		probs = append(probs, annotationProblem{"InvalidAnnotation", fmt.Sprintf("annotation %s: invalid value %q: %s; using the default",
			a.key(name), truncate(a.vals[name], 64), why), a.key(name)})
	}
	for i := range annotationGroups {
		g := &annotationGroups[i]
		for _, n := range g.names {
			if _, ok := a.vals[n]; ok {
				g.parse(a, &o, bad)
				break
			}
		}
	}
	sortProblems(probs)
	return o, probs
}

// sortProblems orders problems by message: map order must not reorder
// Events from one build to the next.
func sortProblems(p []annotationProblem) {
	slices.SortFunc(p, func(x, y annotationProblem) int { return strings.Compare(x.msg, y.msg) })
}

// coreAnnotations are the settings of router.Options.
var coreAnnotations = []annotationGroup{
	// load-balance takes Portico's names and ingress-nginx's: round_robin,
	// and ewma (latency-weighted) as least-request, the nearest Portico has.
	{names: []string{"load-balance"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		switch val, _ := a.get("load-balance"); val {
		case "round-robin", "round_robin":
			o.route.Balance = router.RoundRobin
		case "least-request", "ewma":
			o.route.Balance = router.LeastRequest
		default:
			bad("load-balance", `want "round-robin" or "least-request" (ingress-nginx: "round_robin" or "ewma"; hashing and stickiness are set with upstream-hash-by and affinity)`)
		}
	}},
	{names: []string{"proxy-next-upstream-tries"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		val, _ := a.get("proxy-next-upstream-tries")
		n, err := strconv.Atoi(val)
		if err == nil && n == 0 && a.nginx["proxy-next-upstream-tries"] {
			n = maxTries // ingress-nginx: 0 is "no limit"; Portico's limit is maxTries
		}
		if err != nil || n < 1 || n > maxTries {
			bad("proxy-next-upstream-tries", fmt.Sprintf("want a whole number from 1 to %d", maxTries))
			return
		}
		o.route.NextUpstreamTries = n
	}},
	{names: []string{"proxy-connect-timeout", "proxy-read-timeout", "proxy-send-timeout"}, nginx: true,
		parse: func(a annotations, o *ingressOptions, bad badFunc) {
			for name, dst := range map[string]*time.Duration{
				"proxy-connect-timeout": &o.route.ConnectTimeout,
				"proxy-read-timeout":    &o.route.ReadTimeout,
				"proxy-send-timeout":    &o.route.SendTimeout,
			} {
				val, ok := a.get(name)
				if !ok {
					continue
				}
				d, err := parseTimeout(val)
				if err != nil {
					bad(name, err.Error())
					continue
				}
				*dst = d
			}
		}},
	{names: []string{"proxy-body-size"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		val, _ := a.get("proxy-body-size")
		n, err := parseSize(val)
		if err != nil {
			bad("proxy-body-size", err.Error())
			return
		}
		o.route.MaxBodyBytes = n
	}},
	{names: []string{"backend-protocol"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		val, _ := a.get("backend-protocol")
		p, ok := parseProtocol(val)
		if !ok {
			bad("backend-protocol", "want one of http, https, h2c, grpc, grpcs (or AUTO_HTTP)")
			return
		}
		o.route.Protocol = p
	}},
	// upstream-vhost is ingress-nginx's name for upstream-host; when both
	// are set, upstream-host (after it in this list) wins.
	{names: []string{"upstream-vhost"}, nginx: true, parse: upstreamHost("upstream-vhost")},
	{names: []string{"upstream-host"}, parse: upstreamHost("upstream-host")},
	{names: []string{"ssl-redirect", "force-ssl-redirect", "preserve-trailing-slash"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		if b, ok := boolAnnotation(a, "ssl-redirect", bad); ok {
			o.route.SSLRedirect, o.redirectSet = b, true
		}
		if b, ok := boolAnnotation(a, "force-ssl-redirect", bad); ok {
			o.forceRedirect = b
		}
		// ingress-nginx drops a trailing "/" from the redirect's Location
		// unless preserve-trailing-slash; Portico's own redirect keeps the
		// URI, so the trimming is ingress-nginx's where it is asked for
		// under its prefix.
		preserve, _ := boolAnnotation(a, "preserve-trailing-slash", bad)
		o.route.SSLRedirectTrimSlash = !preserve &&
			(a.nginx["ssl-redirect"] || a.nginx["force-ssl-redirect"] || a.nginx["preserve-trailing-slash"])
	}},
	{names: []string{"acme"}, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		if b, ok := boolAnnotation(a, "acme", bad); ok {
			o.acme = b
		}
	}},
	{names: []string{"hsts"}, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		val, _ := a.get("hsts")
		h, err := parseHSTS(val)
		if err != nil {
			bad("hsts", err.Error())
			return
		}
		o.route.HSTS = h
	}},
}

func upstreamHost(name string) func(a annotations, o *ingressOptions, bad badFunc) {
	return func(a annotations, o *ingressOptions, bad badFunc) {
		if val, _ := a.get(name); !validHost(val) {
			bad(name, "want a DNS name, optionally with :port")
		} else {
			o.route.UpstreamHost = val
		}
	}
}

// boolAnnotation reads a "true"/"false" annotation; ok is false when it is
// unset or invalid (reported).
func boolAnnotation(a annotations, name string, bad badFunc) (v, ok bool) {
	val, set := a.get(name)
	if !set {
		return false, false
	}
	b, err := strconv.ParseBool(val)
	if err != nil {
		bad(name, `want "true" or "false"`)
		return false, false
	}
	return b, true
}

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		// Bare numbers are seconds, as in other controllers' annotations.
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, fmt.Errorf(`want a duration such as "30s" or "2m"`)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 || d > maxTimeout {
		return 0, fmt.Errorf("want a duration above 0 and at most %s", maxTimeout)
	}
	return d, nil
}

// parseSize reads "0" (unlimited), "1024", "8k", "10m", "1g" (binary units).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.ToLower(s)
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'k':
			mult, num = 1<<10, num[:n-1]
		case 'm':
			mult, num = 1<<20, num[:n-1]
		case 'g':
			mult, num = 1<<30, num[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > (1<<40)/mult {
		return 0, fmt.Errorf(`want a size such as "0" (unlimited), "512k", "8m" or "1g"`)
	}
	return v * mult, nil
}

func parseProtocol(s string) (router.Protocol, bool) {
	if strings.EqualFold(s, "AUTO_HTTP") { // ingress-nginx: HTTP/1.1, or HTTP/2 if the client spoke it; Portico's HTTP
		return router.HTTP, true
	}
	for p := router.HTTP; p <= router.GRPCS; p++ {
		if p.String() == strings.ToLower(s) {
			return p, true
		}
	}
	return 0, false
}

// parseHSTS takes "max-age=31536000; includeSubDomains; preload" (or just a
// number of seconds) and returns a canonical header value. User text is never
// copied into the header: only the parsed parts are written back.
func parseHSTS(s string) (string, error) {
	var maxAge int64 = -1
	var sub, preload bool
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.EqualFold(part, "includeSubDomains"):
			sub = true
		case strings.EqualFold(part, "preload"):
			preload = true
		case strings.HasPrefix(strings.ToLower(part), "max-age="):
			v, err := strconv.ParseInt(part[len("max-age="):], 10, 64)
			if err != nil || v < 0 {
				return "", fmt.Errorf("max-age must be a whole number of seconds")
			}
			maxAge = v
		default:
			if v, err := strconv.ParseInt(part, 10, 64); err == nil && v >= 0 && maxAge < 0 {
				maxAge = v
				continue
			}
			return "", fmt.Errorf(`want "max-age=SECONDS[; includeSubDomains][; preload]"`)
		}
	}
	if maxAge < 0 {
		return "", fmt.Errorf("max-age is required")
	}
	h := "max-age=" + strconv.FormatInt(maxAge, 10)
	if sub {
		h += "; includeSubDomains"
	}
	if preload {
		h += "; preload"
	}
	return h, nil
}

// validHost accepts a DNS name with an optional port; it guards the Host
// header Portico sends upstream against header injection.
func validHost(s string) bool {
	host, port, found := strings.Cut(s, ":")
	if found {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
