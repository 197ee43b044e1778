package proxy

import "net/http"

// nginxTries is ingress-nginx's default proxy-next-upstream-tries, used
// with a proxy-next-upstream that sets no tries of its own.
const nginxTries = 3

// nextStatus: under proxy-next-upstream, an answer with code goes to the
// next endpoint when code is listed and the request may be sent again
// (nginx sends a non-idempotent one again only with non_idempotent).
func (c *call) nextStatus(req *http.Request, code int) bool {
	return c.next.RetriesStatus(code) && (c.next.NonIdempotent || nginxIdempotent(req))
}

// nextError: under proxy-next-upstream, a failed attempt goes on when its
// condition is listed: a connection that could not be made ("error", or
// "timeout" for a connect timeout) whatever the method, as nothing was
// sent; a connection that broke before the response ("error",
// "invalid_header") only for idempotent requests or with non_idempotent.
// An attempt whose response did not come in time is not sent again (a
// read timeout ends the request).
func (c *call) nextError(req *http.Request, err error, dial bool) bool {
	n := c.next
	if dial {
		if isTimeout(err) {
			return n.Timeout
		}
		return n.Error
	}
	if c.tryTimedOut.Load() || isTimeout(err) {
		return false
	}
	return (n.Error || n.InvalidHeader) && (n.NonIdempotent || nginxIdempotent(req))
}

// nginxIdempotent: nginx counts every method but POST, LOCK and PATCH as
// idempotent (ngx_http_upstream_non_idempotent).
func nginxIdempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, "LOCK", http.MethodPatch:
		return false
	}
	return true
}
