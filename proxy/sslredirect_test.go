package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"portico.dev/portico/router"
)

// TestSSLRedirect: plain HTTP to a route with SSLRedirect answers 308 to
// https (one trailing "/" dropped with SSLRedirectTrimSlash, as
// ingress-nginx does), except when a trusted proxy says the client spoke
// HTTPS to it (X-Forwarded-Proto: https): that request is proxied, or a
// TLS-terminating load balancer in front would loop.
func TestSSLRedirect(t *testing.T) {
	t.Parallel()
	_, addr := backend(t, "v1", nil)
	tests := []struct {
		name       string
		trim       bool
		remote     string
		xfp        string
		uri        string
		wantStatus int
		wantLoc    string
	}{
		{"redirect keeps the URI", false, "192.0.2.1:1000", "", "/a/?q=1", 308, "https://r.test/a/?q=1"},
		{"ingress-nginx root", true, "192.0.2.1:1000", "", "/", 308, "https://r.test"},
		{"ingress-nginx trailing slash dropped", true, "192.0.2.1:1000", "", "/a/", 308, "https://r.test/a"},
		{"ingress-nginx only one slash dropped", true, "192.0.2.1:1000", "", "/a//", 308, "https://r.test/a/"},
		{"ingress-nginx query kept", true, "192.0.2.1:1000", "", "/a/?q=1", 308, "https://r.test/a/?q=1"},
		{"trusted proxy says https: proxied", true, "10.0.0.7:1000", "https", "/a/", 200, ""},
		{"trusted proxy says HTTPS: proxied", false, "10.0.0.7:1000", "HTTPS", "/a/", 200, ""},
		{"trusted proxy says http: redirected", false, "10.0.0.7:1000", "http", "/a", 308, "https://r.test/a"},
		{"untrusted peer says https: redirected", false, "192.0.2.1:1000", "https", "/a", 308, "https://r.test/a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, &router.Options{SSLRedirect: true, SSLRedirectTrimSlash: tc.trim},
				Config{Forwarded: &Forwarded{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}, addr)
			req := httptest.NewRequest(http.MethodGet, "http://r.test"+tc.uri, nil)
			req.RemoteAddr = tc.remote
			if tc.xfp != "" {
				req.Header.Set("X-Forwarded-Proto", tc.xfp)
			}
			w := httptest.NewRecorder()
			f.proxy.ServeHTTP(w, req)
			if w.Code != tc.wantStatus || w.Header().Get("Location") != tc.wantLoc {
				t.Errorf("%s from %s (X-Forwarded-Proto %q): %d Location %q, want %d %q",
					tc.uri, tc.remote, tc.xfp, w.Code, w.Header().Get("Location"), tc.wantStatus, tc.wantLoc)
			}
		})
	}
}
