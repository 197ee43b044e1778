package router

import (
	"fmt"
	"strings"
	"testing"
)

// TestListeners is Gateway listener selection: an exact hostname, then the
// longest wildcard covering the host at any depth, then the listener
// without a hostname; nil when none.
func TestListeners(t *testing.T) {
	t.Parallel()
	names := []string{"foo.example.com", "*.example.com", "*.b.example.com", "", "bar.org", "*.example.com", "Upper.Example.COM."}
	ls := make([]Listener, len(names))
	for i, n := range names {
		tbl, _ := New([]Route{{Path: "/", Backend: be(fmt.Sprint(i))}}, nil)
		ls[i] = Listener{Hostname: n, Table: tbl}
	}
	l := NewListeners(ls)
	withoutAny := NewListeners(ls[:3])
	tests := []struct {
		name, host string
		want       int // index in names
		withoutAny int
	}{
		{"exact", "foo.example.com", 0, 0},
		{"exact upper case, port, trailing dot", "FOO.example.COM.:443", 0, 0},
		{"wildcard one label", "x.example.com", 1, 1},
		{"wildcard many labels", "x.y.z.example.com", 1, 1},
		{"longest wildcard", "a.b.example.com", 2, 2},
		{"longest wildcard, deeper", "x.a.b.example.com", 2, 2},
		{"wildcard does not cover its domain", "example.com", 3, -1},
		{"shorter wildcard covers the longer's domain", "b.example.com", 1, 1},
		{"empty first label", ".example.com", 3, -1},
		{"suffix not on a label boundary", "xexample.com", 3, -1},
		{"exact beats wildcard", "foo.example.com", 0, 0},
		{"exact does not cover subdomains", "a.foo.example.com", 1, 1},
		{"other host: hostname-less listener", "other.net", 3, -1},
		{"empty host", "", 3, -1},
		{"IPv6 literal", "[::1]:8080", 3, -1},
		{"IP address", "127.1.0.5:80", 3, -1},
		{"first of two equal wildcards", "q.example.com", 1, 1},
		{"hostnames are normalized", "upper.example.com", 6, 1},
		{"too long to be a DNS name", strings.Repeat("a.", 200) + "example.com", 3, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []struct {
				l    *Listeners
				want int
			}{{l, tc.want}, {withoutAny, tc.withoutAny}} {
				if got := c.l.Index(tc.host); got != c.want {
					t.Errorf("Index(%q) = %d, want %d (of %d listeners)", tc.host, got, c.want, c.l.Len())
				}
				tbl := c.l.Table(tc.host)
				switch {
				case c.want < 0 && tbl != nil:
					t.Errorf("Table(%q) = %v, want nil", tc.host, tbl)
				case c.want >= 0 && (tbl == nil || tbl != c.l.At(c.want).Table):
					t.Errorf("Table(%q) is not listener %d's", tc.host, c.want)
				}
			}
		})
	}
}

func TestListenersNilTable(t *testing.T) {
	t.Parallel()
	l := NewListeners([]Listener{{Hostname: "a.test"}, {Hostname: ""}})
	tbl := l.Table("a.test")
	if tbl == nil || tbl.Match("a.test", "/") != nil {
		t.Fatalf("a listener without a table owns its hostname and serves nothing; got %v", tbl)
	}
	for b := range l.Backends() {
		t.Fatalf("no backends expected, got %s", b.ID)
	}
}

func TestListenersBackends(t *testing.T) {
	t.Parallel()
	a, _ := New([]Route{{Path: "/", Backend: be("a")}}, nil)
	b, _ := New([]Route{{Path: "/", Backend: be("b")}}, &Route{Backend: be("def")})
	var got []string
	for be := range NewListeners([]Listener{{Hostname: "a", Table: a}, {Hostname: "b", Table: b}}).Backends() {
		got = append(got, be.ID)
	}
	if strings.Join(got, ",") != "a,b,def" {
		t.Fatalf("Backends: %v", got)
	}
}

func TestLiveListeners(t *testing.T) {
	t.Parallel()
	var l LiveListeners
	if l.Ready() || l.Load() == nil || l.Load().Table("a") != nil {
		t.Fatal("zero LiveListeners must be not ready and select nothing")
	}
	tbl, _ := New(nil, nil)
	l.Store(NewListeners([]Listener{{Table: tbl}}))
	if !l.Ready() || l.Load().Table("a") != tbl {
		t.Fatal("stored listeners not served")
	}
}

func TestListenersDoNotAllocate(t *testing.T) {
	l := benchListeners(100)
	for _, host := range []string{"host-50.example.com", "HOST-50.Example.com:443", "x.y.wild-7.example.com", "unknown.org"} {
		if allocs := testing.AllocsPerRun(100, func() { l.Index(host) }); allocs != 0 {
			t.Errorf("Index(%q) allocates %.0f times", host, allocs)
		}
	}
}

// fuzzListenerNames overlap: exact names inside wildcards, wildcards
// inside wildcards, case and trailing dots.
var fuzzListenerNames = []string{"", "a.com", "*.a.com", "b.a.com", "*.b.a.com", "c.b.a.com", "*.org", "x.org", "B.A.com.", "*.c.b.a.com"}

// refListener reads the Gateway API literally: normalize the host as
// refMatch does; the first listener with exactly that hostname; else,
// among the listeners whose "*.suffix" covers the host with at least one
// label in front, the one with the longest hostname (the first of equals);
// else the first listener without a hostname; else none.
func refListener(names []string, host string) int {
	host = refHost(host)
	norm := func(n string) string { return strings.ToLower(strings.TrimSuffix(n, ".")) }
	if len(host) <= maxHost {
		for i, n := range names {
			if n != "" && !strings.HasPrefix(n, "*.") && norm(n) == host {
				return i
			}
		}
		best, bestLen := -1, 0
		for i, n := range names {
			rest, ok := strings.CutPrefix(norm(n), "*.")
			if ok && strings.HasSuffix(host, "."+rest) && len(host) > len(rest)+1 && (best < 0 || len(rest) > bestLen) {
				best, bestLen = i, len(rest)
			}
		}
		if best >= 0 {
			return best
		}
	}
	for i, n := range names {
		if n == "" {
			return i
		}
	}
	return -1
}

// FuzzListeners checks Listeners.Index against refListener, on free-form
// hosts and on hosts derived from every listener's hostname.
func FuzzListeners(f *testing.F) {
	f.Add([]byte{1, 2, 3, 0}, "x.b.a.com")
	f.Add([]byte{2, 4, 9}, "Q.C.B.A.COM.:443")
	f.Add([]byte{6, 7, 0}, "y.x.org")
	f.Fuzz(func(t *testing.T, spec []byte, host string) {
		var names []string
		var ls []Listener
		for _, b := range spec[:min(len(spec), 12)] {
			n := fuzzListenerNames[int(b)%len(fuzzListenerNames)]
			names = append(names, n)
			ls = append(ls, Listener{Hostname: n})
		}
		l := NewListeners(ls)
		check := func(host string) {
			if got, want := l.Index(host), refListener(names, host); got != want {
				t.Fatalf("listeners %q: Index(%q) = %d, reference says %d", names, host, got, want)
			}
		}
		check(host)
		for _, n := range names {
			h := strings.Replace(n, "*", "x", 1)
			for _, p := range []string{h, "q." + h, "q.p." + h, strings.ToUpper(h) + ".:1", strings.TrimPrefix(h, "x.")} {
				check(p)
			}
		}
	})
}

func benchListeners(n int) *Listeners {
	var ls []Listener
	for i := range n {
		tbl, _ := New([]Route{{Path: "/", Backend: be("b")}}, nil)
		ls = append(ls, Listener{Hostname: fmt.Sprintf("host-%d.example.com", i), Table: tbl})
		if i%10 == 7 {
			ls = append(ls, Listener{Hostname: fmt.Sprintf("*.wild-%d.example.com", i), Table: tbl})
		}
	}
	tbl, _ := New(nil, nil)
	return NewListeners(append(ls, Listener{Table: tbl}))
}

// BenchmarkListeners is the lookup a Gateway port makes per request
// (twice on TLS: the Host and the server name).
func BenchmarkListeners(b *testing.B) {
	l := benchListeners(64)
	for _, c := range []struct{ name, host string }{
		{"exact", "host-50.example.com"},
		{"upper-port", "HOST-50.EXAMPLE.COM:8443"},
		{"wildcard-deep", "a.b.wild-7.example.com"},
		{"hostless", "other.test"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if l.Table(c.host) == nil {
					b.Fatal("no listener")
				}
			}
		})
	}
}
