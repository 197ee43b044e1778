package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"portico.dev/portico/router"
)

// TestNextUpstream: ingress-nginx proxy-next-upstream on one endpoint (the
// Lua balancer picks it again, as traefik's e2e/retry_suite_test.go flaky
// backend relies on): listed statuses and broken connections go on, up to
// the tries; POST, LOCK and PATCH only with non_idempotent; "off" never.
func TestNextUpstream(t *testing.T) {
	t.Parallel()
	fl := newFlaky()
	_, addr := backend(t, "v1", fl.ServeHTTP)
	be := testBackend("v1", addr)
	// /off gets a server of its own: its one request is the first on a
	// fresh connection (a reused one that breaks is tried again by the
	// transport, whatever the route says).
	offFl := newFlaky()
	_, offAddr := backend(t, "off", offFl.ServeHTTP)
	route := func(path string, n *router.NextUpstream, tries int) router.Route {
		b := be
		if path == "/off" {
			b = testBackend("off", offAddr)
		}
		return router.Route{Path: path, Type: router.Prefix, Source: "ns/nu", Backend: b,
			Options: &router.Options{NextUpstream: n, NextUpstreamTries: tries}}
	}
	f := newRouteFixture(t, Config{BodyBufferBytes: 1024},
		route("/e503", &router.NextUpstream{Error: true, Timeout: true, Codes: []int{503}}, 3),
		route("/e503-default-tries", &router.NextUpstream{Error: true, Timeout: true, Codes: []int{503}}, 0),
		route("/nonidem", &router.NextUpstream{Error: true, Codes: []int{503}, NonIdempotent: true}, 3),
		route("/off", &router.NextUpstream{}, 5),
		route("/error-only", &router.NextUpstream{Error: true}, 3),
		route("/within", &router.NextUpstream{Codes: []int{503}, Within: 150 * time.Millisecond}, 5),
	)
	var ids atomic.Int64
	for _, tc := range []struct {
		name, method, path, query, body string
		want, attempts                  int
	}{
		{"traefik TestRetryFlakyBufferingOnRecovers: PUT with a body, 2 fails then 200", "PUT", "/e503", "responseCode=503&succeedAfter=2", strings.Repeat("R", 500), 200, 3},
		{"traefik TestRetryFlakyBufferingOffNoBodyRecovers: GET", "GET", "/e503", "responseCode=503&succeedAfter=2", "", 200, 3},
		{"tries bound the attempts", "GET", "/e503", "responseCode=503&succeedAfter=5", "", 503, 3},
		{"ingress-nginx's default tries is 3", "GET", "/e503-default-tries", "responseCode=503&succeedAfter=5", "", 503, 3},
		{"an unlisted status is the answer", "GET", "/e503", "responseCode=502&succeedAfter=2", "", 502, 1},
		{"a POST is not sent again", "POST", "/e503", "responseCode=503&succeedAfter=1", "p", 503, 1},
		{"a PATCH is not sent again", "PATCH", "/e503", "responseCode=503&succeedAfter=1", "p", 503, 1},
		{"a broken POST is not sent again", "POST", "/e503", "succeedAfter=1", "p", 502, 1},
		{"a broken GET is (error)", "GET", "/e503", "succeedAfter=1", "", 200, 2},
		{"non_idempotent: a POST is sent again", "POST", "/nonidem", "responseCode=503&succeedAfter=1", "p", 200, 2},
		{"non_idempotent: a broken POST is sent again", "POST", "/nonidem", "succeedAfter=1", "p", 200, 2},
		{"off: a broken GET is not", "GET", "/off", "succeedAfter=1", "", 502, 1},
		{"error only: a 503 is the answer", "GET", "/error-only", "responseCode=503&succeedAfter=1", "", 503, 1},
		{"proxy-next-upstream-timeout ends the retries", "GET", "/within", "responseCode=503&succeedAfter=5&delayRetry=100ms", "", 503, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprint(ids.Add(1))
			var resp *http.Response
			if tc.body != "" {
				resp, _ = f.do(t, tc.method, tc.path+"?uuid="+id+"&"+tc.query, strings.NewReader(tc.body))
			} else {
				resp, _ = f.do(t, tc.method, tc.path+"?uuid="+id+"&"+tc.query, nil)
			}
			fl := fl
			if tc.path == "/off" {
				fl = offFl
			}
			if resp.StatusCode != tc.want || fl.count(id) != tc.attempts {
				t.Errorf("status %d after %d attempts; want %d after %d", resp.StatusCode, fl.count(id), tc.want, tc.attempts)
			}
			fl.mu.Lock()
			bodies := fl.bodies[id]
			fl.mu.Unlock()
			for i, b := range bodies {
				if want := tc.body[:min(len(tc.body), 64)]; b != want {
					t.Errorf("attempt %d: body %q, want %q", i+1, b, want)
				}
			}
		})
	}
}

// A status retry never resends a streamed body: after the first
// response, the transport may still be reading it (its writer blocked on
// the client), so a retry would send the next endpoint what is left of
// it. The client gets the first answer, as nginx does once an unbuffered
// body has gone upstream.
func TestNextUpstreamStreamedBodyNotResent(t *testing.T) {
	var n atomic.Int32
	var short atomic.Bool
	const size = 200 << 10 // above BodyBufferBytes: streamed, not buffered
	h := func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if got, _ := io.Copy(io.Discard, r.Body); got != size {
			short.Store(true)
		}
	}
	_, a := backend(t, "a", h)
	_, b := backend(t, "b", h)
	f := newFixture(t, &router.Options{NextUpstream: &router.NextUpstream{Codes: []int{503}, NonIdempotent: true}}, Config{}, a, b)
	pr, pw := io.Pipe()
	go func() {
		time.Sleep(300 * time.Millisecond) // the body comes after the headers
		chunk := make([]byte, 10<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	resp, _ := f.send(t, "POST", "/", pr, func(r *http.Request) { r.ContentLength = size })
	if resp.StatusCode != http.StatusServiceUnavailable || short.Load() || n.Load() != 1 {
		t.Errorf("status %d after %d attempts (a short body upstream: %v); want the first answer, 503, and no resend",
			resp.StatusCode, n.Load(), short.Load())
	}
}
