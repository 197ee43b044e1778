package proxy

import (
	"math/rand/v2"

	"portico.dev/portico/router"
)

// hashPick is balancer.pick for a route with upstream-hash-by: rendezvous
// (highest random weight) hashing of the request's key over the backend's
// endpoints, so a key keeps its endpoint while it stays, and only the keys
// of an endpoint that leaves move. Endpoints in back-off are skipped while
// any other is left.
func (c *call) hashPick(h *router.HashBy) *endpoint {
	b, be := c.p.balancer, c.backend
	if len(be.Endpoints) == 0 {
		return nil
	}
	key := h.Key(c.in, c.path, c.p.cfg.Forwarded.clientIP(c.in))
	now := monotime()
	eps := b.list(b.stateFor(be), be)
	if h.SubsetSize > 0 {
		return subsetPick(eps, h.SubsetSize, fnv64(fnvOffset, key), now)
	}
	var best, fallback *endpoint
	var bestScore, fallbackScore uint64
	for _, e := range eps {
		s := mix(fnv64(fnv64(fnvOffset, key)^0xff, e.addr))
		if e.downUntil.Load() > now {
			if fallback == nil || s > fallbackScore {
				fallback, fallbackScore = e, s
			}
			continue
		}
		if best == nil || s > bestScore {
			best, bestScore = e, s
		}
	}
	if best != nil {
		return best
	}
	return fallback
}

// subsetPick is upstream-hash-by-subset: the key's hash picks one of the
// ceil(len(eps)/size) subsets by rendezvous hashing over the subsets'
// numbers, then a random endpoint of it, skipping those in back-off while
// any other of the subset is left. Subset i holds the endpoints i*size to
// i*size+size-1, wrapping around to the first ones to fill the last
// subset, as ingress-nginx's chashsubset.lua builds them.
func subsetPick(eps []*endpoint, size int, keyHash uint64, now int64) *endpoint {
	n := len(eps)
	sets := (n + size - 1) / size
	best, bestScore := 0, uint64(0)
	for i := range sets {
		if s := mix(keyHash ^ mix(uint64(i)+1)); i == 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	start, off := best*size, rand.IntN(size)
	for j := range size {
		e := eps[(start+(off+j)%size)%n]
		if e.downUntil.Load() <= now {
			return e
		}
	}
	return eps[(start+off)%n]
}

// FNV-1a: the same key maps to the same endpoint in every replica and
// after restarts.
const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

func fnv64(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

// mix spreads FNV's low-entropy high bits (splitmix64 finalizer), so the
// highest score is not decided by the address's last bytes alone.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
