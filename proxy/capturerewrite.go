package proxy

import (
	"net/http"

	"portico.dev/portico/router"
)

// captureRewrite applies an ingress-nginx rewrite-target to the outgoing
// request: the path from the matched path's capture groups (the query is
// kept) and, where the Ingress asks for it, X-Forwarded-Prefix. It runs
// after the X-Forwarded-* headers are set, so the prefix replaces any a
// client sent.
func (c *call) captureRewrite(out *http.Request, cr *router.CaptureRewrite) {
	path, prefix, ok := cr.Apply(c.path)
	out.URL.Path = path
	if ok {
		out.Header["X-Forwarded-Prefix"] = []string{prefix}
	}
}
