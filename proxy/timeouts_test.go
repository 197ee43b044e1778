package proxy

import (
	"io"
	"net/http"
	"testing"
	"time"

	"portico.dev/portico/router"
)

// TestRuleTimeouts: Gateway API rule timeouts over real sockets, as the
// conformance tests HTTPRouteRequestTimeout and
// HTTPRouteTimeoutBackendRequest use them (a 500ms timeout, a backend that
// waits ?delay=), plus what they do not check: "0s" lifts the proxy's
// default read timeout too, the request timeout bounds retries and the
// response body.
func TestRuleTimeouts(t *testing.T) {
	t.Parallel()
	_, slow := backend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		delayed(r)
		_, _ = w.Write([]byte("done"))
	})
	route := func(path string, o *router.Options) router.Route {
		return router.Route{Path: path, Type: router.Prefix, Source: "ns/r", Backend: testBackend("slow", slow), Options: o}
	}
	f := newRouteFixture(t, Config{Defaults: Defaults{ReadTimeout: 300 * time.Millisecond}},
		route("/request-timeout", &router.Options{RequestTimeout: 500 * time.Millisecond}),
		route("/disable-request-timeout", &router.Options{RequestTimeout: router.NoTimeout}),
		route("/backend-timeout", &router.Options{BackendTimeout: 500 * time.Millisecond}),
		route("/disable-backend-timeout", &router.Options{BackendTimeout: router.NoTimeout}),
		route("/default", &router.Options{}),
	)
	tests := []struct {
		path     string
		want     int
		min, max time.Duration
	}{
		{"/request-timeout", 200, 0, 400 * time.Millisecond},
		{"/request-timeout?delay=1s", 504, 450 * time.Millisecond, 900 * time.Millisecond},
		{"/request-timeout?delay=400ms", 200, 400 * time.Millisecond, 900 * time.Millisecond}, // past the default read timeout
		{"/disable-request-timeout?delay=1s", 200, time.Second, 2 * time.Second},
		{"/backend-timeout", 200, 0, 400 * time.Millisecond},
		{"/backend-timeout?delay=1s", 504, 450 * time.Millisecond, 900 * time.Millisecond},
		{"/disable-backend-timeout?delay=1s", 200, time.Second, 2 * time.Second},
		{"/default?delay=1s", 504, 250 * time.Millisecond, 900 * time.Millisecond}, // the default read timeout
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			resp, _ := f.do(t, "GET", tc.path, nil)
			took := time.Since(start)
			if resp.StatusCode != tc.want || took < tc.min || took > tc.max {
				t.Errorf("status %d after %s; want %d after %s to %s", resp.StatusCode, took, tc.want, tc.min, tc.max)
			}
		})
	}
}

// TestRequestTimeoutBoundsBodyAndRetries: once the response began, the
// request timeout still ends it (the client sees a broken body, never a
// complete-looking one); and retries stop within it ("the entire duration
// of the initial request and any retry attempts MUST not exceed the
// Request timeout duration").
func TestRequestTimeoutBoundsBodyAndRetries(t *testing.T) {
	t.Parallel()
	_, stall := backend(t, "stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte("start"))
		http.NewResponseController(w).Flush()
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	fl := newFlaky()
	_, flakyAddr := backend(t, "flaky", fl.ServeHTTP)
	f := newRouteFixture(t, Config{},
		router.Route{Path: "/stall", Type: router.Prefix, Source: "ns/r", Backend: testBackend("stall", stall),
			Options: &router.Options{RequestTimeout: 300 * time.Millisecond}},
		router.Route{Path: "/retry", Type: router.Prefix, Source: "ns/r", Backend: testBackend("flaky", flakyAddr),
			Options: &router.Options{RequestTimeout: 400 * time.Millisecond, Retry: &router.RetryPolicy{Codes: []int{500}, Attempts: 8, Backoff: 100 * time.Millisecond}}},
	)

	// The headers are still in the server's buffer (no flush for a body
	// with a length), so the client sees the connection end without an
	// answer; had they been sent, the body would break off.
	start := time.Now()
	resp, err := f.srv.Client().Get(f.srv.URL + "/stall")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if took := time.Since(start); err == nil || took > 1500*time.Millisecond {
		t.Errorf("stalled body: error %v after %s; want a broken response after about 300ms", err, took)
	}

	start = time.Now()
	resp, _ = f.do(t, "GET", "/retry?uuid=a&succeedAfter=100&responseCode=500", nil)
	took := time.Since(start)
	if resp.StatusCode != 500 || took > 500*time.Millisecond {
		t.Errorf("retries: status %d after %s; want the last 500 within the 400ms request timeout", resp.StatusCode, took)
	}
	// Backoffs of 100, 200 ms fit in 400 ms; the next (400 ms) does not.
	if n := fl.count("a"); n != 3 {
		t.Errorf("backend got %d attempts, want 3", n)
	}
}
