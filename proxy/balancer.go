package proxy

import (
	"sync"
	"sync/atomic"

	"portico.dev/portico/router"
)

// balancer keeps per-backend state across table swaps, keyed by the
// backend's stable ID, so a new table does not reset load distribution.
type balancer struct {
	state sync.Map // backend ID -> *backendState
}

type backendState struct {
	next atomic.Uint64
}

func newBalancer() *balancer { return &balancer{} }

func (b *balancer) stateFor(be *router.Backend) *backendState {
	if s, ok := b.state.Load(be.ID); ok {
		return s.(*backendState)
	}
	s, _ := b.state.LoadOrStore(be.ID, &backendState{})
	return s.(*backendState)
}

// pick chooses the next endpoint round-robin; false when there is none.
func (b *balancer) pick(be *router.Backend) (string, bool) {
	n := len(be.Endpoints)
	switch n {
	case 0:
		return "", false
	case 1:
		return be.Endpoints[0], true
	}
	i := b.stateFor(be).next.Add(1) - 1
	return be.Endpoints[i%uint64(n)], true
}
