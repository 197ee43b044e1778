package proxy

import (
	"net/http"
	"strings"
	"testing"

	"portico.dev/portico/router"
)

// TestErrorPages: custom-http-errors and default-backend. Listed answers
// of the backend go to the default backend (body discarded), with the
// ingress-nginx headers; so do the proxy's own listed errors and, with a
// default-backend, requests whose backend has no endpoint.
func TestErrorPages(t *testing.T) {
	t.Parallel()
	defRec := &recorder{}
	_, defAddr := backend(t, "default", func(w http.ResponseWriter, r *http.Request) {
		defRec.ServeHTTP(w, r)
		w.Header().Set("X-From", "default")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("custom error page"))
	})
	_, appAddr := backend(t, "app", func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		switch p := r.URL.Path; {
		case strings.HasSuffix(p, "/not-found"):
			code = http.StatusNotFound
		case p == "/teapot":
			code = http.StatusTeapot
		case p == "/unavailable":
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("app body"))
	})
	def := testBackend("default", defAddr)
	app := testBackend("app", appAddr)
	route := func(path string, b *router.Backend, e *router.ErrorPages) router.Route {
		return router.Route{Path: path, Type: router.Prefix, Source: "ns/ing-" + strings.Trim(path, "/"), Backend: b,
			Options: &router.Options{ErrorPages: e}}
	}
	f := newRouteFixture(t, Config{},
		route("/", app, &router.ErrorPages{Codes: []int{404, 503}, Intercept: true, Backend: def, NoEndpoints: true}),
		route("/off", app, &router.ErrorPages{Codes: []int{404, 502}, Intercept: false, Backend: def}),
		route("/none", app, &router.ErrorPages{Codes: []int{404}, Intercept: true}),
		route("/empty", testBackend("empty"), &router.ErrorPages{Backend: def, NoEndpoints: true}),
		route("/refused", testBackend("gone", refusedAddr(t)), &router.ErrorPages{Codes: []int{502}, Intercept: true, Backend: def}),
	)
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
		code         string // X-Code the default backend saw, "" when not asked
	}{
		{"GET", "/ok", 200, "app body", ""},
		{"GET", "/teapot", 418, "app body", ""}, // not listed
		{"GET", "/not-found?q=1", 200, "custom error page", "404"},
		{"POST", "/not-found", 200, "custom error page", "404"},
		{"PUT", "/unavailable", 200, "custom error page", "503"},
		{"GET", "/off/not-found", 404, "app body", ""}, // disable-proxy-intercept-errors
		{"GET", "/none/not-found", 404, "404 page not found\n", ""},
		{"GET", "/empty/x", 200, "custom error page", "503"},
		{"GET", "/refused", 200, "custom error page", "502"}, // the proxy's own 502
	} {
		n := len(defRec.requests())
		resp, body := f.do(t, tc.method, tc.path, strings.NewReader("client body"), "Accept", "text/html", "X-Request-Id", "rid-1",
			"Connection", "X-Hop", "X-Hop", "secret", "X-Forwarded-Host", "evil.example", "X-Real-Ip", "10.9.9.9")
		if resp.StatusCode != tc.status || body != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.body)
			continue
		}
		seen := defRec.requests()
		if tc.code == "" {
			if len(seen) != n {
				t.Errorf("%s %s: the default backend was asked", tc.method, tc.path)
			}
			continue
		}
		if len(seen) != n+1 {
			t.Fatalf("%s %s: the default backend got %d requests", tc.method, tc.path, len(seen)-n)
		}
		if resp.Header.Get("X-From") != "default" {
			t.Errorf("%s %s: the default backend's headers are not passed", tc.method, tc.path)
		}
		s := seen[n]
		want := map[string]string{"X-Code": tc.code, "X-Format": "text/html", "X-Original-Uri": tc.path,
			"X-Namespace": "ns", "X-Request-Id": "rid-1", "X-Forwarded-For": "127.0.0.1"}
		for k, v := range want {
			if got := s.header.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, got, v)
			}
		}
		if s.method != tc.method || !strings.HasPrefix(s.uri, "/") || strings.Contains(s.uri, "found") || s.body != "" {
			t.Errorf("%s %s: the default backend got %s %s body %q", tc.method, tc.path, s.method, s.uri, s.body)
		}
		// Headers the client named hop-by-hop, and forwarded headers the
		// client made up, never reach the default backend.
		for _, k := range []string{"X-Hop", "X-Forwarded-Host", "X-Real-Ip"} {
			if v := s.header.Get(k); v != "" {
				t.Errorf("%s %s: the default backend got %s: %q", tc.method, tc.path, k, v)
			}
		}
		if !strings.HasPrefix(s.header.Get("X-Ingress-Name"), "ing") || s.header.Get("X-Service-Port") != "80" {
			t.Errorf("%s %s: X-Ingress-Name %q X-Service-Name %q X-Service-Port %q", tc.method, tc.path,
				s.header.Get("X-Ingress-Name"), s.header.Get("X-Service-Name"), s.header.Get("X-Service-Port"))
		}
	}
	if s := defRec.requests(); s[0].uri != "/?q=1" || s[0].header.Get("X-Service-Name") != "app" {
		t.Errorf("first error request: %s, service %q", s[0].uri, s[0].header.Get("X-Service-Name"))
	}
}
