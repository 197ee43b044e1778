package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"

	"portico.dev/portico/router"
)

// TestCORSThroughTheProxy: the conformance test HTTPRouteCORS's first
// route over real sockets. Preflights are answered by the proxy (the
// suite expects no backend to echo them), allowed or not; actual requests
// reach the backend and get the headers when their origin is allowed;
// an OPTIONS request that is not a preflight is an ordinary request.
func TestCORSThroughTheProxy(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	_, addr := backend(t, "v1", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Access-Control-Allow-Origin", "*") // replaced for allowed origins
	})
	f := newRouteFixture(t, Config{}, router.Route{Path: "/cors-1", Type: router.Prefix, Source: "ns/cors", Backend: testBackend("v1", addr),
		Filters: &router.Filters{CORS: &router.CORS{
			AllowOrigins:  []string{"https://www.foo.com", "https://*.bar.com"},
			AllowMethods:  []string{"GET", "OPTIONS"},
			AllowHeaders:  []string{"x-header-1", "x-header-2"},
			ExposeHeaders: []string{"x-header-3", "x-header-4"},
			MaxAge:        3600, AllowCredentials: true,
		}}})
	preflight := func(origin string) []string {
		return []string{"Origin", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-header-1, x-header-2"}
	}
	tests := []struct {
		name, method, origin string
		hdr                  []string
		status               int
		allowOrigin          string
		backend              bool
	}{
		{"preflight from an exact origin", "OPTIONS", "", preflight("https://www.foo.com"), 204, "https://www.foo.com", false},
		{"preflight from a wildcard origin, two labels", "OPTIONS", "", preflight("https://xpto.www.bar.com"), 204, "https://xpto.www.bar.com", false},
		{"preflight from an origin not allowed", "OPTIONS", "", preflight("https://foobar.com"), 204, "", false},
		{"actual request from an allowed origin", "GET", "", []string{"Origin", "https://www.bar.com"}, 200, "https://www.bar.com", true},
		{"actual request from an origin not allowed keeps the backend's", "GET", "", []string{"Origin", "https://foobar.com"}, 200, "*", true},
		{"OPTIONS without Access-Control-Request-Method goes to the backend", "OPTIONS", "", []string{"Origin", "https://www.foo.com"}, 200, "https://www.foo.com", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			resp, body := f.do(t, tc.method, "/cors-1", nil, tc.hdr...)
			if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != tc.allowOrigin {
				t.Errorf("status %d, Access-Control-Allow-Origin %q; want %d, %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), tc.status, tc.allowOrigin)
			}
			if reached := hits.Load() > before; reached != tc.backend {
				t.Errorf("reached the backend: %v, want %v", reached, tc.backend)
			}
			if tc.status == 204 && body != "" {
				t.Errorf("preflight answer has a body: %q", body)
			}
			if tc.allowOrigin != "" && tc.allowOrigin != "*" && (resp.Header.Get("Access-Control-Allow-Credentials") != "true" || resp.Header.Get("Access-Control-Expose-Headers") != "x-header-3, x-header-4") {
				t.Errorf("credentials/expose headers missing: %v", resp.Header)
			}
		})
	}
	resp, _ := f.do(t, "OPTIONS", "/cors-1", nil, preflight("https://www.foo.com")...)
	if got := resp.Header.Get("Access-Control-Allow-Methods"); got != "GET, OPTIONS" || resp.Header.Get("Access-Control-Max-Age") != "3600" || resp.Header.Get("Access-Control-Allow-Headers") != "x-header-1, x-header-2" {
		t.Errorf("preflight headers: %v", resp.Header)
	}
}
