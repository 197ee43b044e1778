package proxy

import (
	"net/http"
	"strconv"

	"portico.dev/portico/router"
)

// snippetHeaders applies the response header edits of a route with an
// ingress-nginx snippet to an answer Portico gives itself (a snippet's
// return, a redirect, an error), with its status: nginx runs add_header
// ... always and the headers-more directives on those too. Routes without
// a snippet cost a nil check.
func (c *call) snippetHeaders(h http.Header, status int) {
	if c.route == nil {
		return // no route matched (404)
	}
	if f := c.route.Filters; f != nil && f.Snippet != nil {
		f.Snippet.ApplyResponse(h, status, &f.ResponseHeaders)
	}
}

// snippetReturn answers with a snippet's return directive (nginx: return
// CODE TEXT). The body is the administrator's text, never the client's;
// without one, an error status gets its standard text.
func (c *call) snippetReturn(fr *router.FixedResponse) {
	h := c.w.Header()
	body := fr.Body
	if body == "" && fr.Status >= 400 {
		body = strconv.Itoa(fr.Status) + " " + http.StatusText(fr.Status) + "\n"
	}
	if body != "" {
		// ingress-nginx's default_type.
		h["Content-Type"] = []string{"text/html"}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	c.snippetHeaders(h, fr.Status)
	c.corsHeaders(h)
	c.status = fr.Status
	c.w.WriteHeader(fr.Status)
	if body != "" && c.in.Method != http.MethodHead {
		_, _ = c.w.Write([]byte(body))
	}
}
