package proxy

import (
	"fmt"
	"testing"
)

// upstream-hash-by-subset: one key always lands in one subset of size
// endpoints, and spreads over it; the subsets are ingress-nginx's
// (consecutive endpoints, the last one filled up from the start).
func TestSubsetPick(t *testing.T) {
	t.Parallel()
	mk := func(n int) []*endpoint {
		eps := make([]*endpoint, n)
		for i := range eps {
			eps[i] = &endpoint{addr: fmt.Sprintf("10.0.0.%d:80", i)}
		}
		return eps
	}
	index := func(eps []*endpoint, e *endpoint) int {
		for i := range eps {
			if eps[i] == e {
				return i
			}
		}
		return -1
	}
	for _, tt := range []struct{ n, size, sets int }{{6, 3, 2}, {7, 3, 3}, {2, 3, 1}, {10, 1, 10}} {
		eps := mk(tt.n)
		subsetOf := map[int]bool{} // subsets some key went to
		for k := range 200 {
			h := fnv64(fnvOffset, fmt.Sprintf("/key-%d", k))
			seen := map[int]bool{}
			for range 100 {
				seen[index(eps, subsetPick(eps, tt.size, h, 0))] = true
			}
			// The endpoints seen are exactly one subset's.
			set := -1
			for i := range tt.sets {
				want := map[int]bool{}
				for j := range tt.size {
					want[(i*tt.size+j)%tt.n] = true
				}
				if fmt.Sprint(want) == fmt.Sprint(seen) {
					set = i
				}
			}
			if set < 0 {
				t.Errorf("n=%d size=%d key %d: 100 picks saw endpoints %v, not one subset of %d", tt.n, tt.size, k, seen, tt.size)
			}
			subsetOf[set] = true
		}
		if len(subsetOf) != tt.sets {
			t.Errorf("n=%d size=%d: 200 keys used subsets %v, want all %d", tt.n, tt.size, subsetOf, tt.sets)
		}
	}
	// An endpoint in back-off is skipped while its subset has another.
	eps := mk(3)
	eps[1].downUntil.Store(1 << 62)
	for range 100 {
		if e := subsetPick(eps, 3, 42, 1); e == eps[1] {
			t.Fatal("picked an endpoint in back-off")
		}
	}
}
