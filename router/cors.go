package router

import (
	"net/http"
	"strconv"
	"strings"
)

// CORS is the Gateway API HTTPCORSFilter. The proxy answers preflight
// requests itself (Preflight) and adds the response headers to actual
// cross-origin requests (Actual); requests without an Origin are left alone.
type CORS struct {
	// AllowOrigins as written: "https://www.foo.com", "https://*.bar.com"
	// (the "*" matches any number of labels to its left), or "*" alone for
	// any origin. A missing port is the scheme's (80 for http, 443 for
	// https) on either side.
	AllowOrigins []string
	// AllowMethods and AllowHeaders, or "*" alone for any.
	AllowMethods []string
	AllowHeaders []string
	// ExposeHeaders, or "*" alone for all (only without credentials).
	ExposeHeaders    []string
	MaxAge           int // seconds; 0 means the spec's default, 5
	AllowCredentials bool
	// Static answers as ingress-nginx's enable-cors does, not as the
	// Gateway API filter: origins are compared as written (case aside,
	// a "*." label standing for exactly one label, ports as written);
	// AllowOrigins "*" answers "Access-Control-Allow-Origin: *" on every
	// response, Origin or not; every response to an allowed origin
	// carries all the headers, with the lists as written (never echoed);
	// and any OPTIONS request from an allowed origin is answered 204.
	Static bool `json:",omitempty"`
}

// DefaultCORSMaxAge is Access-Control-Max-Age when MaxAge is unset: "When
// the MaxAge field is unspecified, the gateway sets the response header
// "Access-Control-Max-Age: 5" by default."
const DefaultCORSMaxAge = 5

// IsPreflight reports whether r is a CORS preflight request: OPTIONS with
// an Origin and an Access-Control-Request-Method (Fetch standard, "CORS
// preflight request"). Any other OPTIONS request is an ordinary one.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header["Origin"]) > 0 && len(r.Header["Access-Control-Request-Method"]) > 0
}

// AllowsOrigin reports whether origin is one of AllowOrigins.
func (c *CORS) AllowsOrigin(origin string) bool {
	if c.Static && isWildcard(c.AllowOrigins) {
		return true
	}
	if origin == "" {
		return false
	}
	for _, p := range c.AllowOrigins {
		if c.Static && staticOriginMatches(p, origin) || !c.Static && originMatches(p, origin) {
			return true
		}
	}
	return false
}

// IsPreflight reports whether the proxy answers r itself: a CORS
// preflight request (see IsPreflight), or with Static any OPTIONS request
// from an allowed origin, as ingress-nginx does.
func (c *CORS) IsPreflight(r *http.Request) bool {
	if !c.Static {
		return IsPreflight(r)
	}
	return r.Method == http.MethodOptions && c.AllowsOrigin(r.Header.Get("Origin"))
}

// staticOriginMatches is ingress-nginx's comparison: the Origin equals the
// pattern case-insensitively, where the pattern's first "*" stands for one
// label of letters, digits and dashes.
func staticOriginMatches(pattern, origin string) bool {
	before, after, wild := strings.Cut(pattern, "*")
	if !wild {
		return strings.EqualFold(pattern, origin)
	}
	if len(origin) <= len(before)+len(after) || !strings.EqualFold(origin[:len(before)], before) ||
		!strings.EqualFold(origin[len(origin)-len(after):], after) {
		return false
	}
	for _, ch := range origin[len(before) : len(origin)-len(after)] {
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}

// Preflight sets the headers of the answer to a preflight request from
// origin asking for method and the comma-separated request headers. For an
// origin that is not allowed it sets nothing: "the gateway returns 204/200
// response but doesn't set the relevant cross-origin response headers".
//
// Wildcards are answered with what was asked for rather than "*", which the
// spec allows in every case and requires with credentials ("the gateway
// must not return `*` ... Instead, it must return a single HTTP method
// matching the value of the `Access-Control-Request-Method` request
// header"); an absent request header means the answer header is omitted.
func (c *CORS) Preflight(h http.Header, origin, method, headers string) {
	if !c.AllowsOrigin(origin) {
		return
	}
	if c.Static {
		c.static(h, origin)
		h["Content-Type"] = []string{"text/plain charset=UTF-8"}
		h["Content-Length"] = []string{"0"}
		return
	}
	c.common(h, origin)
	switch {
	case isWildcard(c.AllowMethods):
		if method != "" {
			h["Access-Control-Allow-Methods"] = []string{method}
		}
	case len(c.AllowMethods) > 0:
		h["Access-Control-Allow-Methods"] = []string{strings.Join(c.AllowMethods, ", ")}
	}
	switch {
	case isWildcard(c.AllowHeaders):
		if headers = strings.TrimSpace(headers); headers != "" {
			h["Access-Control-Allow-Headers"] = []string{headers}
		}
	case len(c.AllowHeaders) > 0:
		h["Access-Control-Allow-Headers"] = []string{strings.Join(c.AllowHeaders, ", ")}
	}
	age := c.MaxAge
	if age <= 0 {
		age = DefaultCORSMaxAge
	}
	h["Access-Control-Max-Age"] = []string{strconv.Itoa(age)}
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
}

// Actual sets the CORS headers of a response to an actual request from
// origin, replacing any the backend sent; nothing for an origin that is not
// allowed (the backend's own headers are then left as they are).
func (c *CORS) Actual(h http.Header, origin string) {
	if !c.AllowsOrigin(origin) {
		return
	}
	if c.Static {
		c.static(h, origin)
		return
	}
	c.common(h, origin)
	h.Add("Vary", "Origin")
}

// common: the headers both answers carry. The origin is always echoed
// (never "*"): valid with or without credentials, and what a browser
// compares anyway.
func (c *CORS) common(h http.Header, origin string) {
	h["Access-Control-Allow-Origin"] = []string{origin}
	if c.AllowCredentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	} else {
		delete(h, "Access-Control-Allow-Credentials")
	}
	switch {
	case isWildcard(c.ExposeHeaders):
		// "If the configuration contains the wildcard `*` in
		// `exposeHeaders` and `allowCredentials` is set to `true`, the
		// gateway cannot use the `*`": nothing can be listed then.
		if !c.AllowCredentials {
			h["Access-Control-Expose-Headers"] = []string{"*"}
		}
	case len(c.ExposeHeaders) > 0:
		h["Access-Control-Expose-Headers"] = []string{strings.Join(c.ExposeHeaders, ", ")}
	}
}

// static sets ingress-nginx's CORS headers: the origin as the client sent
// it ("*" for a wildcard list), the lists joined as written.
func (c *CORS) static(h http.Header, origin string) {
	if isWildcard(c.AllowOrigins) {
		origin = "*"
	}
	h["Access-Control-Allow-Origin"] = []string{origin}
	if c.AllowCredentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
	h["Access-Control-Allow-Methods"] = []string{strings.Join(c.AllowMethods, ", ")}
	h["Access-Control-Allow-Headers"] = []string{strings.Join(c.AllowHeaders, ",")}
	if len(c.ExposeHeaders) > 0 {
		h["Access-Control-Expose-Headers"] = []string{strings.Join(c.ExposeHeaders, ",")}
	}
	h["Access-Control-Max-Age"] = []string{strconv.Itoa(c.MaxAge)}
}

func isWildcard(list []string) bool { return len(list) == 1 && list[0] == "*" }

// originMatches compares an allowOrigins entry with a request's Origin:
// scheme and port exactly (a missing port is the scheme's default), the
// host case-insensitively, where a leading "*" in the pattern stands for
// one or more labels ("https://*.bar.com" matches https://www.bar.com and
// https://a.www.bar.com, not https://bar.com).
func originMatches(pattern, origin string) bool {
	if pattern == "*" {
		return true
	}
	ps, ph, pp, ok := splitOrigin(pattern)
	if !ok {
		return false
	}
	osch, oh, op, ok := splitOrigin(origin)
	if !ok || ps != osch || pp != op {
		return false
	}
	if ph == "*" {
		return true
	}
	if suffix, wild := strings.CutPrefix(ph, "*"); wild {
		return len(oh) > len(suffix) && strings.HasSuffix(oh, suffix)
	}
	return ph == oh
}

// splitOrigin splits "scheme://host[:port]" into lower-case scheme and
// host and the port, the scheme's default when missing.
func splitOrigin(s string) (scheme, host, port string, ok bool) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#") {
		return "", "", "", false
	}
	scheme, host = strings.ToLower(scheme), rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
		if port == "" {
			return "", "", "", false
		}
	}
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme, strings.ToLower(host), port, host != ""
}
