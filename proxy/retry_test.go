package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"portico.dev/portico/router"
)

// TestRetryPolicy runs the conformance test HTTPRouteRetry's cases against
// a backend that behaves like its echo server (one endpoint, as in the
// suite), and what the suite does not check: connection resets, bodies
// (buffered and resent; too big to buffer and not resent), the backend
// timeout, and the backoff.
func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	fl := newFlaky()
	_, addr := backend(t, "v3", fl.ServeHTTP)
	be := testBackend("v3", addr)
	route := func(path string, o *router.Options) router.Route {
		return router.Route{Path: path, Type: router.Prefix, Source: "ns/retries", Backend: be, Options: o}
	}
	f := newRouteFixture(t, Config{BodyBufferBytes: 32},
		route("/retry/code-500-attempts-3", &router.Options{Retry: &router.RetryPolicy{Codes: []int{500}, Attempts: 3}}),
		route("/retry/code-all-attempts-2", &router.Options{Retry: &router.RetryPolicy{Codes: []int{500, 502, 503, 504}, Attempts: 2}}),
		route("/retry/backend-timeout", &router.Options{BackendTimeout: 200 * time.Millisecond, Retry: &router.RetryPolicy{Attempts: 1}}),
		route("/retry/backoff", &router.Options{Retry: &router.RetryPolicy{Codes: []int{503}, Attempts: 2, Backoff: 150 * time.Millisecond}}),
		route("/no-policy", &router.Options{}),
	)
	var ids atomic.Int64
	tests := []struct {
		name, method, path, query, body string
		want, attempts                  int
	}{
		{"succeeds after 2 retries on 500 with 3 attempts", "GET", "/retry/code-500-attempts-3", "responseCode=500&succeedAfter=2", "", 200, 3},
		{"fails when the retries needed exceed the attempts", "GET", "/retry/code-500-attempts-3", "responseCode=500&succeedAfter=4", "", 500, 4},
		{"a status not listed is not retried", "GET", "/retry/code-500-attempts-3", "responseCode=503&succeedAfter=2", "", 503, 1},
		{"502 retried", "GET", "/retry/code-all-attempts-2", "responseCode=502&succeedAfter=1", "", 200, 2},
		{"504 past the attempts", "GET", "/retry/code-all-attempts-2", "responseCode=504&succeedAfter=3", "", 504, 3},
		{"a reset connection is retried", "GET", "/retry/code-all-attempts-2", "succeedAfter=2", "", 200, 3},
		{"a POST with a buffered body is resent whole", "POST", "/retry/code-all-attempts-2", "succeedAfter=1", "payload", 200, 2},
		{"a body too big to buffer is not resent", "POST", "/retry/code-all-attempts-2", "succeedAfter=1", strings.Repeat("x", 33), 502, 1},
		{"an attempt past the backend timeout is retried", "GET", "/retry/backend-timeout", "succeedAfter=1&responseCode=200&delayRetry=1s", "", 200, 2},
		{"without a policy a reset GET is retried once (tries 2)", "GET", "/no-policy", "succeedAfter=1", "", 200, 2},
		{"without a policy a 500 is the answer", "GET", "/no-policy", "succeedAfter=1&responseCode=500", "", 500, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprint(ids.Add(1))
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			var resp *http.Response
			if body != nil {
				resp, _ = f.do(t, tc.method, tc.path+"?uuid="+id+"&"+tc.query, body)
			} else {
				resp, _ = f.do(t, tc.method, tc.path+"?uuid="+id+"&"+tc.query, nil)
			}
			if resp.StatusCode != tc.want || fl.count(id) != tc.attempts {
				t.Errorf("status %d after %d attempts; want %d after %d", resp.StatusCode, fl.count(id), tc.want, tc.attempts)
			}
			if tc.body != "" && tc.want == 200 {
				fl.mu.Lock()
				bodies := fl.bodies[id]
				fl.mu.Unlock()
				for i, b := range bodies {
					if b != tc.body {
						t.Errorf("attempt %d: backend got body %q, want %q", i+1, b, tc.body)
					}
				}
			}
		})
	}
	t.Run("backoff doubles between attempts", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		resp, _ := f.do(t, "GET", "/retry/backoff?uuid=backoff&responseCode=503&succeedAfter=2", nil)
		if took := time.Since(start); resp.StatusCode != 200 || took < 450*time.Millisecond || took > 2*time.Second {
			t.Errorf("status %d after %s; want 200 after the backoffs 150ms + 300ms", resp.StatusCode, took)
		}
	})
}
