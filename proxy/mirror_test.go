package proxy

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"portico.dev/portico/router"
)

// recorder is a backend that keeps what it was sent.
type recorder struct {
	mu   sync.Mutex
	seen []seenRequest
	hold time.Duration // answer only after this long
}

type seenRequest struct {
	method, uri, host, body string
	header                  http.Header
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.seen = append(rc.seen, seenRequest{r.Method, r.RequestURI, r.Host, string(b), r.Header.Clone()})
	rc.mu.Unlock()
	if rc.hold > 0 {
		time.Sleep(rc.hold)
	}
}

func (rc *recorder) requests() []seenRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]seenRequest(nil), rc.seen...)
}

// await waits (at most 5s) until the recorder has n requests.
func (rc *recorder) await(t *testing.T, n int) []seenRequest {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s := rc.requests(); len(s) >= n {
			return s
		}
	}
	t.Fatalf("after 5s the backend has %d requests, want %d", len(rc.requests()), n)
	return nil
}

// TestRequestMirrors: the conformance tests HTTPRouteRequestMirror and
// HTTPRouteRequestMultipleMirrors over real sockets (two mirrors, the
// rule's header edits, the request URI the suite looks for in the mirror's
// log), with bodies, and the client never waiting for a mirror.
func TestRequestMirrors(t *testing.T) {
	t.Parallel()
	primary, m2, m3 := &recorder{}, &recorder{hold: 2 * time.Second}, &recorder{}
	_, pAddr := backend(t, "v1", primary.ServeHTTP)
	_, m2Addr := backend(t, "v2", m2.ServeHTTP)
	_, m3Addr := backend(t, "v3", m3.ServeHTTP)
	f := newRouteFixture(t, Config{},
		router.Route{Path: "/multi-mirror", Type: router.Prefix, Source: "ns/mirrors", Backend: testBackend("v1", pAddr), Filters: &router.Filters{
			RequestHeaders: router.HeaderEdits{
				Set:    []router.HeaderField{{Name: "X-Header-Set", Value: "set-overwrites-values"}},
				Add:    []router.HeaderField{{Name: "X-Header-Add", Value: "header-val-1"}, {Name: "X-Header-Add-Append", Value: "header-val-2"}},
				Remove: []string{"X-Header-Remove"},
			},
			Mirrors: []router.Mirror{{Backend: testBackend("v2", m2Addr)}, {Backend: testBackend("v3", m3Addr)}},
		}},
		router.Route{Path: "/refused-mirror", Type: router.Prefix, Source: "ns/mirrors", Backend: testBackend("v1", pAddr), Filters: &router.Filters{
			Mirrors: []router.Mirror{{Backend: testBackend("gone", refusedAddr(t))}},
		}},
	)
	start := time.Now()
	resp, _ := f.do(t, "GET", "/multi-mirror?X-Request-Id=abc", nil, "X-Header-Remove", "remove-val", "X-Header-Add-Append", "append-val-1")
	if took := time.Since(start); resp.StatusCode != 200 || took > time.Second {
		t.Errorf("status %d after %s; want 200 at once (mirror v2 takes 2s to answer)", resp.StatusCode, took)
	}
	resp, _ = f.do(t, "POST", "/multi-mirror/post", strings.NewReader("payload"))
	if resp.StatusCode != 200 {
		t.Errorf("POST: status %d", resp.StatusCode)
	}
	// Copies go out on their own: the two requests' copies may arrive in
	// either order. Compared in method order (GET first).
	byMethod := func(s []seenRequest) []seenRequest {
		slices.SortFunc(s, func(a, b seenRequest) int { return strings.Compare(a.method, b.method) })
		return s
	}
	want := byMethod(primary.await(t, 2))
	for name, rc := range map[string]*recorder{"v2": m2, "v3": m3} {
		got := byMethod(rc.await(t, 2))
		for i := range 2 {
			p, m := want[i], got[i]
			if m.method != p.method || m.uri != p.uri || m.host != p.host || m.body != p.body {
				t.Errorf("mirror %s request %d: %s %s host %q body %q; the backend got %s %s host %q body %q",
					name, i, m.method, m.uri, m.host, m.body, p.method, p.uri, p.host, p.body)
			}
		}
		h := got[0].header
		if h.Get("X-Header-Set") != "set-overwrites-values" || h.Get("X-Header-Add") != "header-val-1" ||
			strings.Join(h.Values("X-Header-Add-Append"), ",") != "append-val-1,header-val-2" || h.Get("X-Header-Remove") != "" {
			t.Errorf("mirror %s did not get the rule's header edits: %v", name, h)
		}
	}
	if got := want[0].uri; got != "/multi-mirror?X-Request-Id=abc" {
		t.Errorf("request URI %q", got)
	}
	if resp, _ := f.do(t, "GET", "/refused-mirror", nil); resp.StatusCode != 200 {
		t.Errorf("a mirror that refuses connections changed the answer: %d", resp.StatusCode)
	}
}

// TestMirrorSamplingAndBounds: a 20% mirror (HTTPRouteRequestPercentageMirror
// checks 500 requests within 3 binomial standard deviations); a body too
// big to buffer is not mirrored; copies beyond the concurrency bound are
// dropped. Each is counted.
func TestMirrorSamplingAndBounds(t *testing.T) {
	t.Parallel()
	primary, sampled, slow := &recorder{}, &recorder{}, &recorder{hold: time.Second}
	_, pAddr := backend(t, "v1", primary.ServeHTTP)
	_, sAddr := backend(t, "v2", sampled.ServeHTTP)
	_, slowAddr := backend(t, "slow", slow.ServeHTTP)
	m := NewMetrics(prometheus.NewRegistry())
	f := newRouteFixture(t, Config{Metrics: m, BodyBufferBytes: 16},
		router.Route{Path: "/percent", Type: router.Prefix, Source: "ns/m", Backend: testBackend("v1", pAddr), Filters: &router.Filters{
			Mirrors: []router.Mirror{{Backend: testBackend("v2", sAddr), Numerator: 20, Denominator: 100}},
		}},
	)
	one := newRouteFixture(t, Config{Metrics: m, Mirror: MirrorConfig{Concurrency: 1}},
		router.Route{Path: "/slow", Type: router.Prefix, Source: "ns/m", Backend: testBackend("v1", pAddr), Filters: &router.Filters{
			Mirrors: []router.Mirror{{Backend: testBackend("slow", slowAddr)}},
		}},
	)
	const n = 500
	for range n {
		if resp, _ := f.do(t, "GET", "/percent", nil); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// Mirrors run in the background: wait until their count stops moving.
	var got, last int
	for i := 0; i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		if got = len(sampled.requests()); got == last && i > 2 {
			break
		}
		last = got
	}
	// Expected 100, standard deviation sqrt(500*0.2*0.8) = 8.9: ±36 is 4 sd.
	if got < 64 || got > 136 {
		t.Errorf("a 20%% mirror got %d of %d requests, want about 100", got, n)
	}

	// A body over BodyBufferBytes goes to the backend whole, not to the mirror.
	big := strings.Repeat("b", 100)
	if resp, _ := f.do(t, "POST", "/percent/big", strings.NewReader(big)); resp.StatusCode != 200 {
		t.Errorf("big body: status %d", resp.StatusCode)
	}
	if s := primary.requests(); s[len(s)-1].body != big {
		t.Errorf("the backend got %d bytes of a big body, want %d", len(s[len(s)-1].body), len(big))
	}
	// One slot: the first copy holds it for a second, the next two are dropped.
	for range 3 {
		one.do(t, "GET", "/slow", nil)
	}
	slow.await(t, 1)
	time.Sleep(50 * time.Millisecond)
	if c := len(slow.requests()); c != 1 {
		t.Errorf("slow mirror got %d copies, want 1 (one slot)", c)
	}
	for result, want := range map[string]float64{mirrorBusy: 2} {
		if v := testutil.ToFloat64(m.mirrors.WithLabelValues("ns", "slow", result)); v != want {
			t.Errorf("slow mirror %s = %v, want %v", result, v, want)
		}
	}
	// Counted only if the 20% draw picked it.
	if v := testutil.ToFloat64(m.mirrors.WithLabelValues("ns", "v2", mirrorBodyTooBig)) + testutil.ToFloat64(m.mirrors.WithLabelValues("ns", "v2", mirrorAnswered)); int(v) != got && int(v) != got+1 {
		t.Errorf("v2 answered+skipped = %v, want %d or %d", v, got, got+1)
	}
}

func TestMirrorSampled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		m    router.Mirror
		want int // of 1000 consecutive draws
	}{
		{router.Mirror{}, 1000},
		{router.Mirror{Numerator: 20, Denominator: 100}, 200},
		{router.Mirror{Numerator: 25, Denominator: 50}, 500},
		{router.Mirror{Numerator: 0, Denominator: 100}, 0},
		{router.Mirror{Numerator: 7, Denominator: 7}, 1000},
	} {
		n := 0
		for i := range uint64(1000) {
			if tc.m.Sampled(i) {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("%+v: %d of 1000, want %d", tc.m, n, tc.want)
		}
	}
}
