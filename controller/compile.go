package controller

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/endpoints"
	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

// Snapshot is the part of the cluster a build reads. It is taken from the
// informer caches and must be treated as read-only.
type Snapshot struct {
	Ingresses []*networkingv1.Ingress
	Classes   []*networkingv1.IngressClass
	Services  map[types.NamespacedName]*corev1.Service
	Slices    map[types.NamespacedName][]*discoveryv1.EndpointSlice // by the Service they belong to
	Secrets   map[types.NamespacedName]*corev1.Secret
	// ConfigMaps, for custom-headers; nil when Portico may not read them.
	ConfigMaps map[types.NamespacedName]*corev1.ConfigMap
	// AuthSecrets are the Opaque Secrets, stripped to what basic
	// authentication reads (basicauth.go).
	AuthSecrets map[types.NamespacedName]*corev1.Secret
	// Nginx is the ingress-nginx ConfigMap's global defaults
	// (--nginx-configmap, nginxconfig.go); nil without the flag.
	Nginx *NginxConfig
}

// CompileConfig is what flags contribute to a build.
type CompileConfig struct {
	Class          ClassConfig
	DefaultBackend *ServiceRef           // --default-backend-service; nil for none
	DefaultCert    *types.NamespacedName // --default-ssl-certificate; nil for the generated one
	HSTS           string                // Strict-Transport-Security for TLS hosts whose Ingress sets none
	// SnippetsDisabled ignores (and reports) configuration-snippet and
	// server-snippet annotations: ingress-nginx's allow-snippet-annotations
	// "false". The zero value allows them (controller/snippet.go).
	SnippetsDisabled bool
	// SSLPassthrough is --enable-ssl-passthrough: the ssl-passthrough
	// annotation is honoured (passthrough.go).
	SSLPassthrough bool
	// AllowedResponseHeaders, when not nil, are the only header names a
	// custom-headers ConfigMap may set (ingress-nginx's
	// global-allowed-response-headers); nil allows any (customheaders.go).
	AllowedResponseHeaders []string
	certs                  *certCache // set by the Controller; nil parses every time
}

// ServiceRef names a Service port: "namespace/name:port".
type ServiceRef struct {
	Namespace, Name, Port string
}

// ParseServiceRef reads "namespace/name:port" (port by number or name).
func ParseServiceRef(s string) (*ServiceRef, error) {
	nsName, port, ok := strings.Cut(s, ":")
	ns, name, ok2 := strings.Cut(nsName, "/")
	if !ok || !ok2 || ns == "" || name == "" || port == "" {
		return nil, fmt.Errorf("%q: want namespace/name:port", s)
	}
	return &ServiceRef{Namespace: ns, Name: name, Port: port}, nil
}

func (r ServiceRef) String() string { return r.Namespace + "/" + r.Name + ":" + r.Port }

// Problem is something wrong with one Ingress. It becomes a Warning Event on
// that Ingress and a log line; nothing else is affected.
type Problem struct {
	Ingress *networkingv1.Ingress // nil when the problem is with a flag
	Reason  string                // CamelCase, e.g. "ServiceNotFound"
	Message string
}

// Result is the output of Compile.
type Result struct {
	Table    *router.Table
	Admitted []*networkingv1.Ingress // Portico's Ingresses with at least one live route or default backend
	Rejected []*networkingv1.Ingress // Portico's Ingresses of which nothing could be used
	Problems []Problem
	// Certificates from Secrets, in priority order (oldest Ingress first).
	Certificates []*tlsstore.Certificate
	// DefaultCertificate from --default-ssl-certificate; nil when unset or invalid.
	DefaultCertificate *tlsstore.Certificate
	// InvalidSecrets counts referenced TLS Secrets whose data cannot be used.
	InvalidSecrets int
	// ACMEHosts are the rule hosts of Ingresses annotated
	// portico.dev/acme: "true", sorted: the only hosts ACME may order for.
	ACMEHosts []string
	// ClientCertHosts are the hosts whose TLS handshakes ask for a client
	// certificate (auth-tls-*), with the CAs the request names.
	ClientCertHosts map[string]*x509.CertPool
}

// Compile translates a snapshot into a routing table. It is a pure function:
// no I/O, no clock, the same snapshot always gives the same table.
//
// Ingresses are taken oldest first (creationTimestamp, then namespace/name),
// so when two claim the same host, path and path type, the older one wins and
// keeps winning however the newer one changes. A broken piece of an Ingress
// is skipped and reported; the rest of it, and every other Ingress, go live.
func Compile(s *Snapshot, cfg CompileConfig) Result {
	c := compiler{snap: s, backends: make(map[backendKey]*router.Backend, len(s.Services)), certs: cfg.certs, hsts: cfg.HSTS,
		badSecrets: make(map[types.NamespacedName]bool), acme: make(map[string]bool),
		noSnippets:     cfg.SnippetsDisabled || (s.Nginx != nil && !s.Nginx.AllowSnippetAnnotations),
		allowedHeaders: cfg.AllowedResponseHeaders, defaultRef: cfg.DefaultBackend, passthroughOn: cfg.SSLPassthrough}
	if c.certs == nil {
		c.certs = newCertCache(nil)
	}
	if nc := s.Nginx; nc != nil && (nc.HSTSSet || c.hsts == "") {
		c.hsts = nc.HSTS // the ConfigMap's hsts* keys, else --hsts, else ingress-nginx's default
	}
	cls := newClassifier(cfg.Class, s.Classes)
	var ours []*networkingv1.Ingress
	for _, ing := range s.Ingresses {
		if cls.owns(ing) {
			ours = append(ours, ing)
		}
	}
	sort.Slice(ours, func(i, j int) bool { return older(ours[i], ours[j]) })
	c.regexHosts = regexHosts(ours)
	if !c.noSnippets {
		c.serverSnippets = c.hostSnippets(ours)
	}

	// One slice for every route of the build, sized up front: with 10k
	// Ingresses, growing it was a fifth of the build time.
	routes := make([]router.Route, 0, countPaths(ours))
	var defaults []router.Route
	var certs []*tlsstore.Certificate
	live := make(map[*networkingv1.Ingress]int, len(ours))
	bySource := make(map[string]*networkingv1.Ingress, len(ours))
	for _, ing := range ours {
		src := ing.Namespace + "/" + ing.Name
		bySource[src] = ing
		certs = append(certs, c.ingressTLS(ing)...)
		var def *router.Route
		routes, def = c.ingress(routes, ing, src)
		if def != nil {
			defaults = append(defaults, *def)
		}
	}
	routes = c.wwwRedirects(routes, ours)
	// Every route counts for its Ingress, less those that lose a conflict
	// below (counting here spares sorting the table's routes).
	for i := range routes {
		live[bySource[routes[i].Source]]++
	}
	for ing, n := range c.mergeCanaries(routes) {
		live[ing] += n
	}
	c.authTLSHosts(routes) // authtls.go; aliases are hosts of the same server
	routes = c.serverAliases(routes)
	c.passthroughOwners(routes, bySource) // passthrough.go

	var def *router.Route
	if len(defaults) > 0 {
		def = &defaults[0]
		for _, loser := range defaults[1:] {
			c.problem(bySource[loser.Source], "DefaultBackendConflict", fmt.Sprintf(
				"spec.defaultBackend is ignored: the older Ingress %s already sets the default backend", def.Source))
		}
	} else if ref := cfg.DefaultBackend; ref != nil {
		b, err := c.backend(keyOf(ref.Namespace, ref.Name, ref.Port))
		if err != nil {
			c.problem(nil, "DefaultBackendInvalid", "--default-backend-service "+ref.String()+": "+err.Error())
		} else {
			def = &router.Route{Path: "/", Type: router.Prefix, Backend: b, Source: "flag"}
		}
	}

	table, conflicts := router.New(routes, def, router.WithPassthrough(c.passthrough))
	for _, cf := range conflicts {
		c.problem(bySource[cf.Loser.Source], "RuleConflict", fmt.Sprintf(
			"host %q path %q (%s) is ignored: the older Ingress %s already routes it",
			cf.Loser.Host, cf.Loser.Path, cf.Loser.Type, cf.Winner.Source))
		live[bySource[cf.Loser.Source]]--
	}
	if def != nil && def.Source != "flag" {
		live[bySource[def.Source]]++
	}
	res := Result{Table: table, Certificates: certs}
	if k := cfg.DefaultCert; k != nil {
		if sec := s.Secrets[*k]; sec == nil {
			c.problem(nil, "SecretNotFound", fmt.Sprintf("--default-ssl-certificate: no Secret %s of type kubernetes.io/tls", k))
		} else if cert, err := c.certs.get(sec); err != nil {
			c.problem(nil, "InvalidCertificate", "--default-ssl-certificate: "+err.Error())
			c.badSecrets[*k] = true
			res.DefaultCertificate = cert
		} else {
			res.DefaultCertificate = cert
		}
	}
	res.Problems, res.InvalidSecrets = c.problems, len(c.badSecrets)
	res.ACMEHosts = sortedHosts(c.acme)
	res.ClientCertHosts = clientCertHosts(routes)
	for _, ing := range ours {
		if live[ing] > 0 {
			res.Admitted = append(res.Admitted, ing)
		} else {
			res.Rejected = append(res.Rejected, ing)
		}
	}
	return res
}

func countPaths(ings []*networkingv1.Ingress) int {
	n := 0
	for _, ing := range ings {
		for _, r := range ing.Spec.Rules {
			if r.HTTP != nil {
				n += len(r.HTTP.Paths)
			}
		}
	}
	return n
}

func older(a, b *networkingv1.Ingress) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

type compiler struct {
	snap       *Snapshot
	certs      *certCache
	hsts       string
	badSecrets map[types.NamespacedName]bool
	backends   map[backendKey]*router.Backend // resolved once per build, shared by routes
	last       *router.Backend                // the backend ingressBackend resolved last, and its key
	lastKey    backendKey
	acme       map[string]bool // hosts of Ingresses annotated portico.dev/acme
	problems   []Problem
	// regexHosts: hosts whose paths are regular expressions (rewrite.go).
	regexHosts map[string]bool
	// emptyReported: NoEndpoints already reported (noendpoints.go).
	emptyReported map[emptyKey]bool
	canaries      []canaryPath // paths of canary Ingresses (canary.go)
	// noSnippets: CompileConfig.SnippetsDisabled; serverSnippets: each
	// host's server-snippet (snippet.go).
	noSnippets bool
	// authTLS are the client-certificate settings of hosts, from the
	// oldest Ingress that sets them (authtls.go).
	authTLS map[string]*router.ClientAuth
	// passthrough are the ssl-passthrough hosts and their backends, with
	// the Ingress that set each (passthrough.go); passthroughOn is
	// CompileConfig.SSLPassthrough.
	passthrough    map[string]*router.Backend
	passthroughSrc map[string]string
	passthroughOn  bool
	// authTLSHostless: the refusal of an Ingress's hostless rules that
	// ask for client certificates, by source.
	authTLSHostless map[string]*router.ClientAuth
	// proxyTLS is each Ingress's proxy-ssl-* configuration, by source
	// ("namespace/name"), for the canaries merged into its routes.
	proxyTLS       map[string]*router.BackendTLS
	serverSnippets map[string]*hostSnippet
	allowedHeaders []string      // CompileConfig.AllowedResponseHeaders
	aliases        []hostAliases // server-alias of rule hosts (alias.go)
	defaultRef     *ServiceRef   // --default-backend-service (errorpages.go)
	// clusterBackends: service-upstream backends by "ns/name:port" (serviceupstream.go).
	clusterBackends map[string]*router.Backend
}

func (c *compiler) problem(ing *networkingv1.Ingress, reason, msg string) {
	c.problems = append(c.problems, Problem{Ingress: ing, Reason: reason, Message: msg})
}

// ingress compiles one Ingress, appending its routes to routes, and returns
// them with its default route, if any.
func (c *compiler) ingress(routes []router.Route, ing *networkingv1.Ingress, src string) ([]router.Route, *router.Route) {
	opts, probs := parseAnnotationsOver(ing.Annotations, c.snap.Nginx)
	for _, p := range probs {
		c.problem(ing, p.reason, p.msg)
	}
	if opts.canary != nil {
		c.canaryRoutes(ing, opts.canary)
		return routes, nil
	}
	if opts.errorPages != nil {
		opts.route.ErrorPages = c.errorPages(ing, opts.errorPages)
	}
	if opts.basicAuth != nil {
		c.basicAuth(ing, &opts) // basicauth.go
	}
	if l := opts.route.Limits; l != nil {
		// Limits count per Ingress, as ingress-nginx's zones do; a
		// re-created Ingress starts afresh.
		l.Zone = src + "/" + string(ing.UID)
	}
	var tlsHosts map[string]bool // a nil map reads as false: no TLS, no allocation
	for _, t := range ing.Spec.TLS {
		for _, h := range t.Hosts {
			if tlsHosts == nil {
				tlsHosts = make(map[string]bool)
			}
			tlsHosts[strings.ToLower(h)] = true
		}
	}
	if opts.acme {
		// ACME hosts are TLS hosts: they redirect and get HSTS like them.
		c.acmeHosts(ing)
		if tlsHosts == nil {
			tlsHosts = make(map[string]bool, len(ing.Spec.Rules))
		}
		for _, rule := range ing.Spec.Rules {
			tlsHosts[strings.ToLower(rule.Host)] = true
		}
	}
	// Two variants of the options: hosts with and without TLS differ only
	// in whether plain HTTP is redirected.
	if ar := opts.redirects.appRoot; ar != "" {
		opts.route.AppRoot = &router.Redirect{Form: opts.redirects.appRootForm, Status: http.StatusFound,
			Path: &router.PathRewrite{Type: router.ReplaceFullPath, Value: ar}}
	}
	filters := opts.routeFilters()
	if opts.authTLS != nil {
		c.noteAuthTLS(ing, c.clientAuth(ing, opts.authTLS)) // authtls.go
	}
	if opts.sslPassthrough {
		c.notePassthrough(ing) // passthrough.go
	}
	var btls *router.BackendTLS // proxy-ssl-*
	if opts.proxySSL != nil {
		btls = c.backendTLS(ing, opts.proxySSL)
		if c.proxyTLS == nil {
			c.proxyTLS = make(map[string]*router.BackendTLS)
		}
		c.proxyTLS[src] = btls
	}
	if opts.snippets != nil && c.noSnippets {
		c.problem(ing, "InvalidAnnotation", "configuration-snippet and server-snippet are ignored: snippet annotations are disabled (allow-snippet-annotations)")
		opts.snippets = nil
	}
	var custom *snippet
	if ref := opts.customHeaders; ref != nil {
		custom, filters = c.customHeaders(ing, ref, filters) // customheaders.go
	}
	var snippetCache map[string]*router.Filters
	if opts.snippets != nil || c.serverSnippets != nil || custom != nil {
		snippetCache = make(map[string]*router.Filters, 1)
	}
	plain, secure := opts.route, opts.route
	plain.SSLRedirect = opts.forceRedirect
	secure.SSLRedirect = opts.route.SSLRedirect || opts.forceRedirect
	if secure.HSTS == "" {
		secure.HSTS = c.hsts
	}
	if !opts.forceRedirect {
		plain.HSTS = "" // HSTS on a host that may be served without TLS would strand its users
	}

	if len(opts.aliases) > 0 {
		c.recordAliases(ing, opts.aliases)
	}

	var def *router.Route
	if db := ing.Spec.DefaultBackend; db != nil {
		if b, err := c.ingressBackend(ing.Namespace, db); err != nil {
			c.problem(ing, reasonOf(err), "spec.defaultBackend: "+err.Error())
		} else {
			if opts.serviceUpstream {
				b = c.clusterIPBackend(ing, b)
			}
			b = withBackendTLS(b, btls, opts.route.Protocol)
			def = &router.Route{Path: "/", Type: router.Prefix, Backend: b, Options: &plain,
				Filters: c.snippetFilters(filters, "", opts.snippets, custom, snippetCache), Source: src}
			c.checkEndpoints(ing, b)
		}
	}

	for i, rule := range ing.Spec.Rules {
		host := strings.ToLower(rule.Host)
		if msg := checkHost(host); msg != "" {
			c.problem(ing, "InvalidHost", fmt.Sprintf("spec.rules[%d].host: %s; rule ignored", i, msg))
			continue
		}
		if rule.HTTP == nil {
			continue
		}
		o := &plain
		if tlsHosts[host] {
			o = &secure
		}
		filters := c.snippetFilters(filters, host, opts.snippets, custom, snippetCache)
		for j := range rule.HTTP.Paths {
			p := &rule.HTTP.Paths[j]
			// Only built for a message: formatting it for every path was
			// a tenth of a 10k-Ingress build.
			where := func() string { return fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j) }
			typ, msg := checkPath(p)
			if msg != "" {
				c.problem(ing, "InvalidPath", where()+": "+msg+"; path ignored")
				continue
			}
			regexHost := c.regexHosts[host]
			if (!regexHost || typ == router.Exact) && hasRegexChars(p.Path) {
				c.problem(ing, "RegexNotSupported", fmt.Sprintf(
					"%s: path %q contains regular expression characters; Portico matches paths literally", where(), truncate(p.Path, 64)))
			}
			path := pathOrRoot(p.Path)
			route := router.Route{Host: host, Path: path, Type: typ, Options: o, Filters: filters, Source: src}
			var err error
			if opts.rewrite.rewrites(path) {
				rf, err := opts.rewrite.captureRewrite(path)
				if err != nil {
					c.problem(ing, "InvalidPath", where()+": "+invalidRegex(path, err)+"; path ignored")
					continue
				}
				if filters != nil { // the Ingress's own filters, with this path's rewrite
					f := *filters
					f.Rewrite = rf.Rewrite
					rf = &f
				}
				route.Filters = rf
			}
			var rs []router.Route // the path's routes on a regex host
			if regexHost && typ != router.Exact {
				if rs, err = regexRoutes(route, opts.rewrite.regexPath(path), p.PathType); err != nil {
					c.problem(ing, "InvalidPath", where()+": "+invalidRegex(path, err)+"; path ignored")
					continue
				}
			}
			b, err := c.ingressBackend(ing.Namespace, &p.Backend)
			if err != nil {
				if b = missingBackend(o, ing.Namespace, &p.Backend); b == nil {
					c.problem(ing, reasonOf(err), where()+": "+err.Error()+"; path ignored")
					continue
				}
				c.problem(ing, reasonOf(err), where()+": "+err.Error()+"; served by the default-backend")
			} else if opts.serviceUpstream {
				b = c.clusterIPBackend(ing, b)
			}
			c.checkEndpoints(ing, b)
			b = withBackendTLS(b, btls, opts.route.Protocol)
			if rs == nil {
				route.Backend = b
				routes = append(routes, route)
			}
			for _, r := range rs {
				r.Backend = b
				routes = append(routes, r)
			}
		}
	}
	return routes, def
}

// checkHost re-validates what the API server should already have checked:
// a lower-case DNS name, optionally starting with "*.".
func checkHost(h string) string {
	if h == "" {
		return ""
	}
	name := strings.TrimPrefix(h, "*.")
	if len(h) > 253 {
		return "host is longer than 253 characters"
	}
	if strings.Contains(name, "*") {
		return fmt.Sprintf("host %q: a wildcard may only be the whole first label", truncate(h, 64))
	}
	for label, rest, more := strings.Cut(name, "."); ; label, rest, more = strings.Cut(rest, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Sprintf("host %q is not a valid DNS name", truncate(h, 64))
		}
		for k := 0; k < len(label); k++ {
			ch := label[k]
			if !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-') {
				return fmt.Sprintf("host %q is not a valid DNS name", truncate(h, 64))
			}
		}
		if !more {
			return ""
		}
	}
}

// checkPath maps the path type (ImplementationSpecific is Prefix in Portico)
// and refuses paths that could never match a cleaned request path.
func checkPath(p *networkingv1.HTTPIngressPath) (router.PathType, string) {
	typ := router.Prefix
	if p.PathType != nil && *p.PathType == networkingv1.PathTypeExact {
		typ = router.Exact
	}
	path := p.Path
	if path == "" && typ == router.Prefix {
		return typ, "" // an empty prefix path means "/"
	}
	if !strings.HasPrefix(path, "/") {
		return typ, fmt.Sprintf("path %q must start with /", truncate(path, 64))
	}
	if len(path) > 4096 {
		return typ, "path is longer than 4096 characters"
	}
	// Requests are matched on their cleaned path, so a rule that is not
	// clean itself (dot segments, "//") could never match as written.
	if strings.TrimSuffix(router.CleanPath(path), "/") != strings.TrimSuffix(path, "/") {
		return typ, fmt.Sprintf("path %q has dot segments or repeated slashes", truncate(path, 64))
	}
	return typ, ""
}

func hasRegexChars(p string) bool { return strings.ContainsAny(p, "^$*+?()[]{}|\\") }

// backendError carries the Event reason with the message.
type backendError struct{ reason, msg string }

func (e *backendError) Error() string { return e.msg }

func reasonOf(err error) string {
	if be, ok := err.(*backendError); ok {
		return be.reason
	}
	return "InvalidBackend"
}

func (c *compiler) ingressBackend(ns string, b *networkingv1.IngressBackend) (*router.Backend, error) {
	if b.Resource != nil {
		return nil, &backendError{"UnsupportedBackend", fmt.Sprintf("resource backend %s %s is not supported; use a Service", b.Resource.Kind, b.Resource.Name)}
	}
	if b.Service == nil {
		return nil, &backendError{"InvalidBackend", "backend names no Service"}
	}
	k := backendKey{ns, b.Service.Name, b.Service.Port.Name, b.Service.Port.Number}
	if b.Service.Port.Name != "" {
		k.portNum = 0 // the API server allows only one of them; the name decides
	}
	// The paths of one Ingress mostly share a backend: remembering the
	// last one spares hashing the key, a third of a 10k-Ingress build.
	if c.last != nil && c.lastKey == k {
		return c.last, nil
	}
	be, err := c.backend(k)
	if err == nil {
		c.last, c.lastKey = be, k
	}
	return be, err
}

// backendKey names a Service port, by name or else by number, without
// building a string: looking a backend up costs no allocation.
type backendKey struct {
	ns, name, portName string
	portNum            int32
}

// keyOf is the key of "namespace/name:port" with port a name or a number.
func keyOf(ns, name, port string) backendKey {
	if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 65536 && strconv.Itoa(n) == port {
		return backendKey{ns: ns, name: name, portNum: int32(n)}
	}
	return backendKey{ns: ns, name: name, portName: port}
}

// backend resolves a Service port to its endpoints, once per build.
func (c *compiler) backend(key backendKey) (*router.Backend, error) {
	if b, ok := c.backends[key]; ok {
		return b, nil
	}
	ns, name, port := key.ns, key.name, key.portName
	if port == "" {
		port = strconv.Itoa(int(key.portNum))
	}
	svcKey := types.NamespacedName{Namespace: ns, Name: name}
	svc := c.snap.Services[svcKey]
	if svc == nil {
		return nil, &backendError{"ServiceNotFound", fmt.Sprintf("Service %s not found", svcKey)}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, &backendError{"UnsupportedBackend", fmt.Sprintf("Service %s is of type ExternalName, which Portico does not route to", svcKey)}
	}
	sp, ok := servicePort(svc, port)
	if !ok {
		return nil, &backendError{"ServicePortNotFound", fmt.Sprintf("Service %s has no port %s", svcKey, port)}
	}
	b := &router.Backend{
		ID: ns + "/" + name + ":" + port, Namespace: ns, Service: name, Port: port,
		Endpoints: endpoints.Addrs(sp, c.snap.Slices[svcKey]),
	}
	c.backends[key] = b
	return b, nil
}

func servicePort(svc *corev1.Service, port string) (corev1.ServicePort, bool) {
	n, err := strconv.Atoi(port)
	for _, sp := range svc.Spec.Ports {
		if (err == nil && int(sp.Port) == n) || (err != nil && sp.Name == port) {
			return sp, true
		}
	}
	return corev1.ServicePort{}, false
}
