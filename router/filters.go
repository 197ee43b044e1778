package router

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Filters change a request on its way to the backend, or answer it
// instead (Gateway API HTTPRouteFilter; ingress-nginx rewrites and
// redirects). A nil *Filters, as on every plain Ingress rule, does nothing.
type Filters struct {
	RequestHeaders  HeaderEdits // applied to the upstream request
	ResponseHeaders HeaderEdits // applied to the response the client gets
	Redirect        *Redirect   // answer with a redirect; no backend is used
	Rewrite         *Rewrite    // change host and path before forwarding
	// Mirrors get a copy of each request they sample, fire and forget:
	// the client's answer never waits for them (Gateway API RequestMirror).
	Mirrors []Mirror `json:",omitempty"`
	// CORS answers preflight requests and adds the CORS response headers
	// to actual ones (Gateway API CORS filter); nil for none.
	CORS *CORS `json:",omitempty"`
	// Snippet is what an ingress-nginx snippet adds to the header edits
	// (router/snippet.go); nil for none.
	Snippet *SnippetRules `json:",omitempty"`
}

// Mirror is one RequestMirror filter: a copy of the request, as the
// backend gets it after the rule's header edits and rewrite, goes to one
// endpoint of Backend for the sampled share of requests.
type Mirror struct {
	Backend *Backend
	// URL, when set instead of Backend, is a target outside the cluster's
	// Services (ingress-nginx mirror-target); see MirrorURL.
	URL *MirrorURL `json:",omitempty"`
	// Numerator/Denominator is the share of requests mirrored; a zero
	// Denominator means all of them (the filter sets neither percent nor
	// fraction).
	Numerator, Denominator uint32
}

// Sampled reports whether a request whose uniformly random draw is n is
// mirrored.
func (m *Mirror) Sampled(n uint64) bool {
	if m.Denominator == 0 || m.Numerator >= m.Denominator {
		return true
	}
	return n%uint64(m.Denominator) < uint64(m.Numerator)
}

// HeaderField is one header name and value.
type HeaderField struct{ Name, Value string }

// HeaderEdits are the header modifications of one direction, applied in the
// order Set, Add, Remove. Names are compared case-insensitively.
type HeaderEdits struct {
	Set    []HeaderField // replace every value of the header
	Add    []HeaderField // append a value
	Remove []string      // delete the header
}

// Empty reports whether e changes nothing.
func (e *HeaderEdits) Empty() bool { return len(e.Set)+len(e.Add)+len(e.Remove) == 0 }

// Apply edits h in place.
func (e *HeaderEdits) Apply(h http.Header) {
	for _, f := range e.Set {
		h[http.CanonicalHeaderKey(f.Name)] = []string{f.Value}
	}
	for _, f := range e.Add {
		k := http.CanonicalHeaderKey(f.Name)
		h[k] = append(h[k], f.Value)
	}
	for _, n := range e.Remove {
		delete(h, http.CanonicalHeaderKey(n))
	}
}

// PathRewriteType is how a path modifier replaces the path.
type PathRewriteType uint8

const (
	// ReplaceFullPath replaces the whole path with Value.
	ReplaceFullPath PathRewriteType = iota
	// ReplacePrefixMatch replaces the part of the path the route's Prefix
	// matched with Value, keeping the rest.
	ReplacePrefixMatch
)

// PathRewrite is a Gateway API HTTPPathModifier.
type PathRewrite struct {
	Type  PathRewriteType
	Value string
}

// Apply returns the new path for a request path that matched a Prefix rule
// on prefix (for ReplacePrefixMatch; other rules use ReplaceFullPath). The
// Gateway API (HTTPPathModifier): prefix "/foo" replaced by "/xyz" turns
// "/foo/bar" into "/xyz/bar", and replaced by "/" turns "/foo/bar" into
// "/bar" and "/foo" into "/". Matching is element-wise, so only whole
// segments are replaced, and a trailing slash of the prefix is ignored.
func (p *PathRewrite) Apply(path, prefix string) string {
	if p.Type == ReplaceFullPath {
		return p.Value
	}
	prefix = strings.TrimRight(prefix, "/")
	rest := path[min(len(prefix), len(path)):] // "" or starts with '/'
	repl := strings.TrimRight(p.Value, "/")
	switch {
	case rest == "" && repl == "":
		return "/"
	case rest == "":
		return repl
	}
	return repl + rest
}

// Redirect answers a request with a redirect (Gateway API
// HTTPRequestRedirectFilter). Empty fields keep the request's.
type Redirect struct {
	Scheme   string       // "http", "https", or "" for the request's
	Hostname string       // "" for the request's host
	Port     int          // 0: derived, see Location
	Path     *PathRewrite // nil keeps the path
	Status   int          // 301 or 302 (Gateway API), 307, 308; 0 means 302
	// Form, when not FormGateway, builds the Location as ingress-nginx
	// does instead (see Form).
	Form RedirectForm `json:",omitempty"`
	// URL is the Location of FormURL, verbatim, or the path of FormPath.
	URL string `json:",omitempty"`
	// Relative: FormPath answers with the path alone (ingress-nginx
	// relative-redirects, nginx "absolute_redirect off").
	Relative bool `json:",omitempty"`
}

// RedirectForm is how a redirect's Location is built.
type RedirectForm uint8

const (
	// FormGateway: the Gateway API's rules (Location).
	FormGateway RedirectForm = iota
	// FormURL: the URL field as it is (ingress-nginx permanent-redirect,
	// temporal-redirect).
	FormURL
	// FormAppRoot: scheme://<Host as the client sent it, port
	// included><Path.Value>, without the query (ingress-nginx app-root:
	// "return 302 $scheme://$http_host<app-root>").
	FormAppRoot
	// FormWWW: scheme://<Hostname>:<port><request URI less one trailing
	// "/">, the port always written (ingress-nginx from-to-www-redirect,
	// ngx_srv_redirect.lua).
	FormWWW
	// FormAppRootArgs is FormAppRoot followed by "?" and the request's
	// query when it has one (an app-root ending in nginx's
	// "$is_args$args").
	FormAppRootArgs
	// FormPath: URL is a path; the Location is scheme://<Host without
	// its port><URL>, as nginx makes "return 301 /path" absolute
	// (ingress-nginx sets port_in_redirect off), or URL alone when
	// Relative.
	FormPath
)

// NginxLocation builds the Location of a redirect whose Form is not
// FormGateway, for a request that arrived with scheme on port, Host host
// and request URI (path and query as sent).
func (r *Redirect) NginxLocation(scheme, host string, port int, requestURI string) string {
	switch r.Form {
	case FormURL:
		return r.URL
	case FormPath:
		if r.Relative {
			return r.URL
		}
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
		return scheme + "://" + host + r.URL
	case FormAppRoot, FormAppRootArgs:
		p := ""
		if r.Path != nil {
			p = r.Path.Value
		}
		if _, q, ok := strings.Cut(requestURI, "?"); ok && q != "" && r.Form == FormAppRootArgs {
			return scheme + "://" + host + p + "?" + q
		}
		return scheme + "://" + host + p
	}
	requestURI = strings.TrimSuffix(requestURI, "/")
	return scheme + "://" + r.Hostname + ":" + strconv.Itoa(port) + requestURI
}

// StatusCode is the redirect's status.
func (r *Redirect) StatusCode() int {
	if r.Status == 0 {
		return http.StatusFound
	}
	return r.Status
}

// Location builds the Location header for a request that arrived with
// scheme and Host host on a listener port, for a route whose Prefix (or
// Exact path) was prefix. The Gateway API's port rules: without Port, a
// redirect that changes the scheme goes to that scheme's well-known port
// (http 80, https 443), otherwise to the listener's port; and the port is
// left out when it is the scheme's well-known one. The query is kept.
func (r *Redirect) Location(scheme, host string, listenerPort int, path, rawQuery, prefix string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if r.Hostname != "" {
		host = r.Hostname
	}
	port := r.Port
	if r.Scheme != "" {
		scheme = r.Scheme
		if port == 0 {
			port = wellKnownPort(scheme)
		}
	}
	if port == 0 {
		port = listenerPort
	}
	if r.Path != nil {
		path = r.Path.Apply(path, prefix)
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if strings.IndexByte(host, ':') >= 0 { // IPv6 literal
		b.WriteString("[" + host + "]")
	} else {
		b.WriteString(host)
	}
	if port != 0 && port != wellKnownPort(scheme) {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(port))
	}
	b.WriteString(path)
	if rawQuery != "" {
		b.WriteByte('?')
		b.WriteString(rawQuery)
	}
	return b.String()
}

func wellKnownPort(scheme string) int {
	switch scheme {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

// Rewrite changes the request before it is forwarded (Gateway API
// HTTPURLRewriteFilter).
type Rewrite struct {
	Hostname string       // "" keeps the Host
	Path     *PathRewrite // nil keeps the path
	// Captures, when set, rewrites the path with an expression's capture
	// groups (ingress-nginx rewrite-target); it replaces Path.
	Captures *CaptureRewrite `json:",omitempty"`
}
