package proxy

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"portico.dev/portico/router"
)

func TestZoneRate(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.1")
	for _, tc := range []struct {
		name string
		l    router.RateLimits
		// at each time (ms), how many of a burst of n pass
		at   []int64
		n    int
		want []int
	}{
		{"rps 5 burst 25: 26 at once, then 5 a second", router.RateLimits{RPS: 5, BurstRPS: 25}, []int64{0, 1000, 1200}, 40, []int{26, 5, 1}},
		{"rps 5 burst 0: one, then one per 200ms", router.RateLimits{RPS: 5}, []int64{0, 100, 200, 1000}, 10, []int{1, 0, 1, 1}},
		{"rpm 60 burst 60", router.RateLimits{RPM: 60, BurstRPM: 60}, []int64{0, 30000}, 100, []int{61, 30}},
		{"both: the stricter wins", router.RateLimits{RPS: 10, BurstRPS: 10, RPM: 60, BurstRPM: 5}, []int64{0, 1000}, 20, []int{6, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := newZone(&tc.l)
			for i, ms := range tc.at {
				got := 0
				for range tc.n {
					if z.rate(ip, ms*1e6) {
						got++
					}
				}
				if got != tc.want[i] {
					t.Errorf("at %dms: %d of %d passed, want %d", ms, got, tc.n, tc.want[i])
				}
			}
			if !z.rate(netip.MustParseAddr("10.0.0.2"), tc.at[len(tc.at)-1]*1e6) {
				t.Error("another address shares the first one's budget")
			}
		})
	}
}

func TestZoneBounded(t *testing.T) {
	z := newZone(&router.RateLimits{RPM: 1, BurstRPM: 1})
	for i := range 200_000 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		z.rate(ip, int64(i))
	}
	total := 0
	for i := range z.shards {
		total += len(z.shards[i].tat)
	}
	if total > zoneShards*shardEntries {
		t.Errorf("%d addresses tracked, want at most %d", total, zoneShards*shardEntries)
	}
}

func TestZoneConnections(t *testing.T) {
	z := newZone(&router.RateLimits{Connections: 2})
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::1")
	if !z.acquire(a) || !z.acquire(a) || z.acquire(a) {
		t.Fatal("want exactly 2 in flight for a")
	}
	if !z.acquire(b) {
		t.Fatal("b is limited by a's requests")
	}
	z.release(a)
	if !z.acquire(a) {
		t.Fatal("a released one but cannot start another")
	}
	z.release(a)
	z.release(a)
	z.release(b)
	for i := range z.shards {
		if n := len(z.shards[i].conns); n != 0 {
			t.Fatalf("shard %d keeps %d idle addresses", i, n)
		}
	}
}

func TestAccessListAllows(t *testing.T) {
	a := &router.AccessList{
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("2001:db8::/32")},
		Deny:  []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")},
	}
	for ip, want := range map[string]bool{
		"10.0.0.1": true, "::ffff:10.0.0.1": true, "10.0.0.5": false, "10.0.1.1": false, "2001:db8::1": true, "::1": false,
	} {
		if got := a.Allows(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Allows(%s) = %v, want %v", ip, got, want)
		}
	}
	deny := &router.AccessList{Deny: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	if deny.Allows(netip.MustParseAddr("10.1.2.3")) || !deny.Allows(netip.MustParseAddr("11.0.0.1")) {
		t.Error("a deny list alone admits all but its addresses")
	}
}

func TestClientAddr(t *testing.T) {
	f := &Forwarded{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}
	for _, tc := range []struct{ peer, xff, want string }{
		{"127.0.0.1:5000", "6.6.6.6", "127.0.0.1"},
		{"127.0.0.2:5000", "6.6.6.6, 7.7.7.7", "6.6.6.6"},
		{"127.0.0.2:5000", "[2001:db8::1]:80", "2001:db8::1"},
		{"127.0.0.2:5000", "", "127.0.0.2"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := f.clientAddr(r); got.String() != tc.want {
			t.Errorf("peer %s XFF %q: %v, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

func BenchmarkAccessListAllows(b *testing.B) {
	a := &router.AccessList{Allow: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("10.0.0.0/24")}}
	ip := netip.MustParseAddr("10.0.0.9")
	b.ReportAllocs()
	for b.Loop() {
		if !a.Allows(ip) {
			b.Fatal("denied")
		}
	}
}

func BenchmarkZoneRate(b *testing.B) {
	z := newZone(&router.RateLimits{RPS: 1e6, BurstRPS: 1e6})
	ip := netip.MustParseAddr("10.0.0.9")
	b.ReportAllocs()
	for b.Loop() {
		z.rate(ip, monotime())
	}
}

func TestZonesKeep(t *testing.T) {
	var zs zones
	kept := &router.RateLimits{Zone: "ns/a/1", RPS: 1}
	gone := &router.RateLimits{Zone: "ns/b/2", RPS: 1}
	za := zs.get(kept)
	zs.get(gone)
	tbl, _ := router.New([]router.Route{{Host: "a.test", Path: "/", Backend: &router.Backend{ID: "b"}, Options: &router.Options{Limits: kept}}}, nil)
	zs.keep(tbl)
	if zs.get(kept) != za {
		t.Error("the zone of a live Ingress was replaced")
	}
	n := 0
	zs.m.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Errorf("%d zones kept, want 1", n)
	}
	same := *kept
	if zs.get(&same) != za {
		t.Error("equal limits in a new table get a new zone")
	}
}
