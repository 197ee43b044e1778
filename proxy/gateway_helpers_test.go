package proxy

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"portico.dev/portico/router"
)

// newRouteFixture is a fixture whose table holds the given routes (no
// host: any), each with the default options unless it sets its own.
func newRouteFixture(t testing.TB, cfg Config, routes ...router.Route) *fixture {
	t.Helper()
	table, conflicts := router.New(routes, nil)
	if len(conflicts) != 0 {
		t.Fatal(conflicts)
	}
	f := newFixture(t, nil, cfg)
	f.proxy.cfg.Table.Store(table)
	return f
}

func testBackend(name string, addrs ...string) *router.Backend {
	return &router.Backend{ID: "ns/" + name + ":80", Namespace: "ns", Service: name, Port: "80", Endpoints: addrs}
}

// delayed waits for the request's ?delay= (a Go duration), as the
// conformance suite's echo server does, or until the request ends.
func delayed(r *http.Request) {
	d, _ := time.ParseDuration(r.URL.Query().Get("delay"))
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}

// flaky answers like the conformance suite's echo server under /retry/:
// per ?uuid=, the first ?succeedAfter= requests fail, with ?responseCode=
// as their status or, without one, a TCP reset; later ones succeed. It
// counts the requests of each uuid.
type flaky struct {
	mu       sync.Mutex
	attempts map[string]int
	bodies   map[string][]string
}

func newFlaky() *flaky { return &flaky{attempts: map[string]int{}, bodies: map[string][]string{}} }

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("uuid")
	after, _ := strconv.Atoi(q.Get("succeedAfter"))
	var body [64]byte
	n, _ := r.Body.Read(body[:])
	f.mu.Lock()
	f.attempts[id]++
	f.bodies[id] = append(f.bodies[id], string(body[:n]))
	failing := f.attempts[id] <= after
	f.mu.Unlock()
	if !failing {
		_, _ = w.Write([]byte("ok"))
		return
	}
	if d, err := time.ParseDuration(q.Get("delayRetry")); err == nil {
		time.Sleep(d)
	}
	if code, err := strconv.Atoi(q.Get("responseCode")); err == nil {
		w.WriteHeader(code)
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

func (f *flaky) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[id]
}
