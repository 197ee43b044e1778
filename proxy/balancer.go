package proxy

import (
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"portico.dev/portico/router"
)

// balancer chooses endpoints. Its state outlives routing tables: per-backend
// state (round-robin position) is keyed by the backend's stable ID, and
// per-endpoint state (requests in flight, passive health) by the endpoint's
// address, so a table swap changes neither load distribution nor what is
// known about a failing pod.
type balancer struct {
	backends  sync.Map // backend ID -> *backendState
	endpoints sync.Map // "ip:port" -> *endpoint
	backoff   backoff
}

// backoff is how long an endpoint that refused a connection is skipped:
// base after the first failure, doubling for each consecutive one, at most max.
type backoff struct{ base, max time.Duration }

func (b backoff) after(fails int32) time.Duration {
	d := b.base
	for i := int32(1); i < fails && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

type backendState struct {
	next atomic.Uint64
	list atomic.Pointer[endpointList]
}

// endpointList resolves one table's Backend.Endpoints to their state once,
// so picking never touches the global map on the hot path.
type endpointList struct {
	be  *router.Backend
	eps []*endpoint
}

// endpoint is what the proxy knows of one "ip:port".
type endpoint struct {
	addr      string
	inflight  atomic.Int64
	fails     atomic.Int32 // consecutive connect failures
	downUntil atomic.Int64 // monotonic nanoseconds; 0 or past: usable
}

func newBalancer(b backoff) *balancer {
	if b.base <= 0 {
		b.base = time.Second
	}
	if b.max < b.base {
		b.max = 10 * b.base
	}
	return &balancer{backoff: b}
}

// epoch anchors monotonic time for atomics (time.Time does not fit in one).
var epoch = time.Now()

func monotime() int64 { return int64(time.Since(epoch)) }

func (b *balancer) stateFor(be *router.Backend) *backendState {
	if s, ok := b.backends.Load(be.ID); ok {
		return s.(*backendState)
	}
	s, _ := b.backends.LoadOrStore(be.ID, &backendState{})
	return s.(*backendState)
}

func (b *balancer) endpoint(addr string) *endpoint {
	if e, ok := b.endpoints.Load(addr); ok {
		return e.(*endpoint)
	}
	e, _ := b.endpoints.LoadOrStore(addr, &endpoint{addr: addr})
	return e.(*endpoint)
}

// prune forgets the backends and endpoints live does not name (the
// backends of the tables in force), so that state does not pile up as pods
// come and go. An endpoint with requests in flight is kept until a later
// prune. Requests still on an older table keep the state they hold; a
// backend or address that comes back starts afresh.
func (b *balancer) prune(live iter.Seq[*router.Backend]) {
	ids := make(map[string]struct{})
	addrs := make(map[string]struct{})
	for be := range live {
		if _, seen := ids[be.ID]; seen {
			continue
		}
		ids[be.ID] = struct{}{}
		for _, a := range be.Endpoints {
			addrs[a] = struct{}{}
		}
	}
	b.backends.Range(func(k, _ any) bool {
		if _, ok := ids[k.(string)]; !ok {
			b.backends.Delete(k)
		}
		return true
	})
	b.endpoints.Range(func(k, v any) bool {
		if _, ok := addrs[k.(string)]; !ok && v.(*endpoint).inflight.Load() == 0 {
			b.endpoints.Delete(k)
		}
		return true
	})
}

// size is how many backends and endpoints the balancer holds state for.
func (b *balancer) size() (backends, endpoints int) {
	b.backends.Range(func(any, any) bool { backends++; return true })
	b.endpoints.Range(func(any, any) bool { endpoints++; return true })
	return backends, endpoints
}

// list returns be's endpoints as state, rebuilt only when the table changed.
func (b *balancer) list(s *backendState, be *router.Backend) []*endpoint {
	if l := s.list.Load(); l != nil && l.be == be {
		return l.eps
	}
	l := &endpointList{be: be, eps: make([]*endpoint, len(be.Endpoints))}
	for i, a := range be.Endpoints {
		l.eps[i] = b.endpoint(a)
	}
	s.list.Store(l)
	return l.eps
}

// pick chooses an endpoint of be that is not in tried, or nil when there is
// none. Endpoints in back-off are skipped while any other is left; when all
// are in back-off one of them is tried anyway, since failing for sure is
// worse than trying a pod that may have come back.
func (b *balancer) pick(be *router.Backend, policy router.Balance, tried []*endpoint) *endpoint {
	if len(be.Endpoints) == 0 {
		return nil
	}
	s := b.stateFor(be)
	eps := b.list(s, be)
	n := uint64(len(eps))
	start := s.next.Add(1) - 1
	now := monotime()
	var best, fallback *endpoint
	for i := uint64(0); i < n; i++ {
		e := eps[(start+i)%n]
		if contains(tried, e) {
			continue
		}
		if e.downUntil.Load() > now {
			if fallback == nil {
				fallback = e
			}
			continue
		}
		if policy == router.RoundRobin {
			return e
		}
		// Least request: the fewest requests in flight; ties go to the
		// round-robin order, so an idle backend is still spread evenly.
		if best == nil || e.inflight.Load() < best.inflight.Load() {
			best = e
		}
	}
	if best != nil {
		return best
	}
	return fallback
}

func contains(eps []*endpoint, e *endpoint) bool {
	for _, x := range eps {
		if x == e {
			return true
		}
	}
	return false
}

// failed records a connect failure: the endpoint sits out a back-off.
func (b *balancer) failed(e *endpoint) {
	f := e.fails.Add(1)
	e.downUntil.Store(monotime() + int64(b.backoff.after(f)))
}

// succeeded clears a failure record; cheap when there is none.
func (b *balancer) succeeded(e *endpoint) {
	if e.fails.Load() != 0 {
		e.fails.Store(0)
		e.downUntil.Store(0)
	}
}
