package proxy

import (
	"net/http"
	"strings"

	"portico.dev/portico/router"
)

// cors is the route's CORS filter, nil for none.
func (c *call) cors() *router.CORS {
	if f := c.route.Filters; f != nil {
		return f.CORS
	}
	return nil
}

// preflight answers a CORS preflight request on a route with a CORS
// filter: 204 with the filter's headers when the origin is allowed, 204
// without them when not (HTTPCORSFilter: "the gateway returns 204/200
// response but doesn't set the relevant cross-origin response headers").
// The backend never sees it.
func (c *call) preflight(cors *router.CORS) {
	r := c.in
	cors.Preflight(c.w.Header(), r.Header.Get("Origin"), r.Header.Get("Access-Control-Request-Method"),
		strings.Join(r.Header["Access-Control-Request-Headers"], ", "))
	c.status = http.StatusNoContent
	c.w.WriteHeader(c.status)
}

// corsHeaders adds the route's CORS response headers for an actual
// cross-origin request to h (a backend's answer, a redirect or an error
// the proxy gives), so that the browser lets the page read it.
func (c *call) corsHeaders(h http.Header) {
	cors := c.cors()
	if cors == nil {
		return
	}
	if o := c.in.Header["Origin"]; len(o) > 0 {
		cors.Actual(h, o[0])
	} else if cors.Static {
		cors.Actual(h, "") // ingress-nginx's "*" answers requests without an Origin too
	}
}
