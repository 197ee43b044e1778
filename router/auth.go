package router

import (
	"net/url"
	"strings"
)

// Auth is what a route requires of a request before it reaches a backend.
type Auth struct {
	// Deny answers every request 503: the Ingress's auth settings could
	// not be used, and the paths must not be served without them.
	Deny bool
	// External asks an HTTP service whether to let the request through
	// (ingress-nginx auth-url).
	External *ExternalAuth
}

// ExternalAuth sends a subrequest to URL; 2xx lets the request through,
// 401 answers 401 (or redirects to Signin), 403 answers 403, anything else
// or no answer 500.
type ExternalAuth struct {
	URL    URLTemplate
	Method string // "" is GET
	// Signin, when set, is where a 401 redirects to (302), the original
	// URL in the query parameter SigninParam ("rd" by default).
	Signin      URLTemplate
	SigninParam string
	// ResponseHeaders are copied from the auth answer to the upstream
	// request; a request header of the same name the client sent is
	// dropped when the auth answer has none.
	ResponseHeaders []string
	// RequestRedirect is X-Auth-Request-Redirect; empty sends the
	// request's URI.
	RequestRedirect string
	// AlwaysSetCookie copies the auth answer's Set-Cookie to the final
	// response on success too, not only on 401.
	AlwaysSetCookie bool
}

// URLTemplate is a URL with nginx variables, parsed once: literal text and
// variables alternate; Expand substitutes values, never evaluates text.
type URLTemplate []URLPart

// URLPart is literal text (Var == VarNone) or a variable.
type URLPart struct {
	Lit string
	Var URLVar
}

// URLVar is an nginx variable an auth URL may use.
type URLVar uint8

const (
	VarNone              URLVar = iota
	VarHost                     // $host: the request's host, without port
	VarScheme                   // $scheme: http or https
	VarRequestURI               // $request_uri: path and query as received
	VarEscapedRequestURI        // $escaped_request_uri: $request_uri, query-escaped
	VarURI                      // $uri: the cleaned path
	VarRequestMethod            // $request_method
	VarArgs                     // $args / $query_string: the raw query
)

// URLVars are the variable names a URLTemplate knows.
var URLVars = map[string]URLVar{
	"host":                VarHost,
	"scheme":              VarScheme,
	"request_uri":         VarRequestURI,
	"escaped_request_uri": VarEscapedRequestURI,
	"uri":                 VarURI,
	"request_method":      VarRequestMethod,
	"args":                VarArgs,
	"query_string":        VarArgs,
}

// URLValues are what the variables stand for in one request.
type URLValues struct {
	Host, Scheme, RequestURI, URI, Method, Args string
}

// Expand writes the template with v's values.
func (t URLTemplate) Expand(v *URLValues) string {
	if len(t) == 1 && t[0].Var == VarNone {
		return t[0].Lit
	}
	var b strings.Builder
	for _, p := range t {
		switch p.Var {
		case VarNone:
			b.WriteString(p.Lit)
		case VarHost:
			b.WriteString(v.Host)
		case VarScheme:
			b.WriteString(v.Scheme)
		case VarRequestURI:
			b.WriteString(v.RequestURI)
		case VarEscapedRequestURI:
			b.WriteString(url.QueryEscape(v.RequestURI))
		case VarURI:
			b.WriteString(v.URI)
		case VarRequestMethod:
			b.WriteString(v.Method)
		case VarArgs:
			b.WriteString(v.Args)
		}
	}
	return b.String()
}
