package router

import "slices"

// ErrorPages sends some failed requests to a default backend instead
// (ingress-nginx custom-http-errors and default-backend). The request goes
// to DefaultBackend with path "/" and headers X-Code, X-Format,
// X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name,
// X-Service-Port and X-Request-ID; the client gets its answer.
type ErrorPages struct {
	// Codes are the statuses that go to the default backend: answers of
	// the route's backend with one of them (unless Intercept is false), and
	// the proxy's own 502, 503 (no endpoint) and 504 when listed.
	Codes     []int
	Intercept bool // false: disable-proxy-intercept-errors, the backend's own answers pass
	// Backend is the default backend; nil answers 404 (as ingress-nginx's
	// built-in default backend does).
	Backend *Backend
	// NoEndpoints: Backend also serves, with X-Code 503, requests whose
	// backend has no endpoint (the default-backend annotation).
	NoEndpoints bool
}

// Catches reports whether code goes to the default backend.
func (e *ErrorPages) Catches(code int) bool { return slices.Contains(e.Codes, code) }

// ServesNoEndpoint reports whether a request whose backend has no
// endpoint goes to the default backend.
func (e *ErrorPages) ServesNoEndpoint() bool {
	return e.NoEndpoints && e.Backend != nil || e.Catches(503)
}
