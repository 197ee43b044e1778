package proxy

import (
	"testing"
	"time"

	"portico.dev/portico/router"
)

func tableOf(t *testing.T, backends ...*router.Backend) *router.Table {
	t.Helper()
	var routes []router.Route
	for i, be := range backends {
		routes = append(routes, router.Route{Host: be.ID + ".test", Path: "/", Type: router.Prefix,
			Options: &router.Options{}, Source: "ns/ing", Backend: backends[i]})
	}
	tbl, problems := router.New(routes, nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return tbl
}

// Pods come and go: the balancer keeps state only for what the table names
// (and for endpoints with requests in flight).
func TestBalancerPruneForgetsWhatTheTableNoLongerNames(t *testing.T) {
	b := newBalancer(backoff{})
	a1 := &router.Backend{ID: "a", Endpoints: []string{"10.0.0.1:80", "10.0.0.2:80"}}
	gone := &router.Backend{ID: "gone", Endpoints: []string{"10.0.9.1:80"}}
	for _, be := range []*router.Backend{a1, a1, gone} {
		if b.pick(be, router.RoundRobin, nil) == nil {
			t.Fatal("no endpoint")
		}
	}
	busy := b.endpoint("10.0.0.2:80")
	busy.inflight.Add(1) // a request still on the old table

	// The next table: backend "a" moved to new pods, "gone" was deleted.
	a2 := &router.Backend{ID: "a", Endpoints: []string{"10.0.0.3:80"}}
	b.prune(tableOf(t, a2).Backends())
	if bes, eps := b.size(); bes != 1 || eps != 1 {
		t.Errorf("after prune: %d backends, %d endpoints; want 1 (a) and 1 (the busy one)", bes, eps)
	}
	if _, ok := b.endpoints.Load("10.0.0.2:80"); !ok {
		t.Error("an endpoint with a request in flight was dropped")
	}
	if got := b.pick(a2, router.RoundRobin, nil); got == nil || got.addr != "10.0.0.3:80" {
		t.Errorf("pick after prune = %v, want 10.0.0.3:80", got)
	}

	busy.inflight.Add(-1)
	b.prune(tableOf(t, a2).Backends())
	if bes, eps := b.size(); bes != 1 || eps != 1 {
		t.Errorf("after the request ended: %d backends, %d endpoints; want 1 and 1 (10.0.0.3)", bes, eps)
	}
}

// A request that sees a new table starts a prune in the background.
func TestProxyPrunesAfterTableSwap(t *testing.T) {
	_, first := backend(t, "first", nil)
	_, second := backend(t, "second", nil)
	f := newFixture(t, nil, Config{}, first)
	if resp, _ := f.do(t, "GET", "/", nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	next, _ := router.New([]router.Route{{Path: "/", Type: router.Prefix, Options: &router.Options{}, Source: "ns/ing",
		Backend: &router.Backend{ID: "ns/svc:80", Namespace: "ns", Service: "svc", Port: "80", Endpoints: []string{second}}}}, nil)
	f.proxy.cfg.Table.Store(next)
	f.proxy.lastPrune.Store(-int64(prunePeriod)) // as if the last prune were long ago
	for i := 0; ; i++ {
		resp, _ := f.do(t, "GET", "/", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if _, ok := f.proxy.balancer.endpoints.Load(first); !ok {
			break
		}
		if i == 200 {
			t.Fatal("the old endpoint's state was never pruned")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
