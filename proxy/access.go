package proxy

import (
	"hash/maphash"
	"net"
	"net/http"
	"net/netip"
	"sync"

	"portico.dev/portico/router"
)

// admit enforces the route's access list and per-client limits before any
// backend work; it answers and returns false when the request may not
// pass. done, when not nil, must be called once the request has ended.
func (c *call) admit(o *router.Options) (ok bool, done func()) {
	ip := c.p.cfg.Forwarded.clientAddr(c.in)
	if a := o.Access; a != nil {
		if a.Invalid {
			c.fail(http.StatusServiceUnavailable, "503 service unavailable")
			return false, nil
		}
		// satisfy any: a refused address may authenticate instead.
		if !a.Allows(ip) && !(o.SatisfyAny && (o.Auth != nil || o.BasicAuth != nil)) {
			c.fail(http.StatusForbidden, "403 forbidden")
			return false, nil
		}
	}
	if l := o.Limits; l != nil && !router.ContainsAddr(l.Exempt, ip.Unmap()) {
		z := c.p.zones.get(l)
		if !z.rate(ip.Unmap(), monotime()) {
			c.fail(http.StatusServiceUnavailable, "503 too many requests")
			return false, nil
		}
		if l.Connections > 0 {
			if !z.acquire(ip.Unmap()) {
				c.fail(http.StatusServiceUnavailable, "503 too many connections")
				return false, nil
			}
			return true, func() { z.release(ip.Unmap()) }
		}
	}
	return true, nil
}

// clientAddr is clientIP parsed; the zero Addr when it does not parse.
func (f *Forwarded) clientAddr(r *http.Request) netip.Addr {
	s := f.clientIP(r)
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip
	}
	if ap, err := netip.ParseAddrPort(s); err == nil { // an X-Forwarded-For entry with a port
		return ap.Addr()
	}
	host, _, _ := net.SplitHostPort(s)
	ip, _ := netip.ParseAddr(host)
	return ip
}

// zoneKey is a zone's identity: the Ingress and its limits.
type zoneKey struct {
	zone                               string
	rps, burstRPS, rpm, burstRPM, conn int
}

// zones holds the limiter state of every Ingress with limits, kept across
// table swaps for Ingresses whose limits did not change.
type zones struct {
	m sync.Map // zoneKey → *zone
}

func keyOf(l *router.RateLimits) zoneKey {
	return zoneKey{l.Zone, l.RPS, l.BurstRPS, l.RPM, l.BurstRPM, l.Connections}
}

// keep drops the zones of Ingresses (or limits) that t no longer has; it
// runs in the background with the balancer's prune.
func (zs *zones) keep(t *router.Table) {
	live := make(map[zoneKey]bool)
	for _, r := range append(t.Routes(), t.Default()) {
		if r != nil && r.Options != nil && r.Options.Limits != nil {
			live[keyOf(r.Options.Limits)] = true
		}
	}
	zs.m.Range(func(k, _ any) bool {
		if !live[k.(zoneKey)] {
			zs.m.Delete(k)
		}
		return true
	})
}

func (zs *zones) get(l *router.RateLimits) *zone {
	k := keyOf(l)
	if z, ok := zs.m.Load(k); ok {
		return z.(*zone)
	}
	z, _ := zs.m.LoadOrStore(k, newZone(l))
	return z.(*zone)
}

// Per zone, at most zoneShards × shardEntries addresses are tracked; a
// full shard forgets the address least far ahead of its rate, and refuses
// new connections until one of its in-flight requests ends.
const (
	zoneShards   = 64
	shardEntries = 1024
	evictSample  = 8
)

// zone is one Ingress's per-address state: a GCRA (virtual scheduling)
// theoretical arrival time per rate, and a count of requests in flight.
type zone struct {
	seed     maphash.Seed
	rps, rpm gcra
	conns    int32
	shards   [zoneShards]shard
}

type shard struct {
	mu    sync.Mutex
	tat   map[netip.Addr][2]int64 // per rate (rps, rpm): when its bucket is empty
	conns map[netip.Addr]int32
}

// gcra is a rate: one request every interval, tolerance burst intervals
// ahead (nginx limit_req burst=N nodelay: N+1 requests at once).
type gcra struct{ interval, tolerance int64 }

func rateOf(perSecond, perMinute, burst int) gcra {
	var iv int64
	switch {
	case perSecond > 0:
		iv = 1e9 / int64(perSecond)
	case perMinute > 0:
		iv = 60e9 / int64(perMinute)
	default:
		return gcra{}
	}
	return gcra{interval: iv, tolerance: iv * int64(burst)}
}

func newZone(l *router.RateLimits) *zone {
	z := &zone{seed: maphash.MakeSeed(), conns: int32(l.Connections),
		rps: rateOf(l.RPS, 0, l.BurstRPS), rpm: rateOf(0, l.RPM, l.BurstRPM)}
	return z
}

func (z *zone) shard(ip netip.Addr) *shard {
	return &z.shards[maphash.Comparable(z.seed, ip)%zoneShards]
}

// rate reports whether a request from ip at now (monotonic ns) is within
// both rates, and if so counts it.
func (z *zone) rate(ip netip.Addr, now int64) bool {
	if z.rps.interval == 0 && z.rpm.interval == 0 {
		return true
	}
	s := z.shard(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, found := s.tat[ip]
	var next [2]int64
	for i, g := range [2]gcra{z.rps, z.rpm} {
		if g.interval == 0 {
			continue
		}
		tat := max(t[i], now)
		if tat-now > g.tolerance {
			return false
		}
		next[i] = tat + g.interval
	}
	if !found {
		if s.tat == nil {
			s.tat = make(map[netip.Addr][2]int64)
		}
		if len(s.tat) >= shardEntries {
			s.evict(now)
		}
	}
	s.tat[ip] = next
	return true
}

// evict drops addresses whose state has run out (the same as none), or
// else, of a sample, the one soonest to run out.
func (s *shard) evict(now int64) {
	var victim netip.Addr
	least, n := int64(1<<63-1), 0
	for ip, t := range s.tat {
		end := max(t[0], t[1])
		if end <= now {
			delete(s.tat, ip)
			continue
		}
		if end < least {
			victim, least = ip, end
		}
		if n++; n == evictSample {
			break
		}
	}
	if len(s.tat) >= shardEntries {
		delete(s.tat, victim)
	}
}

// acquire counts a request in flight from ip, unless ip has its limit of
// them already (or its shard is full of addresses that have).
func (z *zone) acquire(ip netip.Addr) bool {
	s := z.shard(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.conns[ip]
	if n >= z.conns || n == 0 && len(s.conns) >= shardEntries {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[netip.Addr]int32)
	}
	s.conns[ip] = n + 1
	return true
}

func (z *zone) release(ip netip.Addr) {
	s := z.shard(ip)
	s.mu.Lock()
	if n := s.conns[ip] - 1; n > 0 {
		s.conns[ip] = n
	} else {
		delete(s.conns, ip)
	}
	s.mu.Unlock()
}
