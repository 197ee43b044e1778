package router

import (
	"fmt"
	"strings"
	"testing"
)

func be(name string) *Backend { return &Backend{ID: name, Service: name} }

func TestMatch(t *testing.T) {
	t.Parallel()
	tbl, conflicts := New([]Route{
		{Host: "foo.com", Path: "/", Type: Prefix, Backend: be("foo-root")},
		{Host: "foo.com", Path: "/app", Type: Prefix, Backend: be("foo-app")},
		{Host: "foo.com", Path: "/app/v2/", Type: Prefix, Backend: be("foo-app-v2")},
		{Host: "foo.com", Path: "/app", Type: Exact, Backend: be("foo-app-exact")},
		{Host: "foo.com", Path: "/exact/", Type: Exact, Backend: be("foo-exact-slash")},
		{Host: "*.foo.com", Path: "/", Type: Prefix, Backend: be("wild")},
		{Host: "bar.com", Path: "/only", Type: Exact, Backend: be("bar-only")},
		{Host: "", Path: "/", Type: Prefix, Backend: be("any")},
		{Host: "", Path: "/any/x", Type: Prefix, Backend: be("any-x")},
	}, &Route{Path: "/", Backend: be("default")})
	if len(conflicts) != 0 {
		t.Fatalf("unexpected conflicts: %v", conflicts)
	}
	tests := []struct {
		name, host, path, want string
	}{
		{"exact host root", "foo.com", "/", "foo-root"},
		{"exact beats prefix on same path", "foo.com", "/app", "foo-app-exact"},
		{"prefix matches with trailing slash", "foo.com", "/app/", "foo-app"},
		{"prefix matches sub path", "foo.com", "/app/x", "foo-app"},
		{"prefix is element-wise", "foo.com", "/application", "foo-root"},
		{"longest prefix wins", "foo.com", "/app/v2/x", "foo-app-v2"},
		{"rule trailing slash ignored for prefix", "foo.com", "/app/v2", "foo-app-v2"},
		{"exact with slash needs slash", "foo.com", "/exact/", "foo-exact-slash"},
		{"exact with slash does not match without", "foo.com", "/exact", "foo-root"},
		{"exact is case-sensitive", "foo.com", "/APP", "foo-root"},
		{"host case-insensitive", "FOO.Com", "/app/x", "foo-app"},
		{"host port stripped", "foo.com:8080", "/app", "foo-app-exact"},
		{"host trailing dot", "foo.com.", "/app", "foo-app-exact"},
		{"host upper, port and dot", "FOO.COM.:80", "/", "foo-root"},
		{"wildcard one label", "a.foo.com", "/x", "wild"},
		{"wildcard upper", "A.FOO.COM", "/x", "wild"},
		{"wildcard not two labels", "b.a.foo.com", "/x", "any"},
		{"wildcard not bare domain", "foo.com", "/zzz", "foo-root"},
		{"host matched, path not: default, no fall-through", "bar.com", "/other", "default"},
		{"host matched exact path", "bar.com", "/only", "bar-only"},
		{"unknown host uses host-less rules", "nope.org", "/any/x/y", "any-x"},
		{"empty host uses host-less rules", "", "/", "any"},
		{"ipv6 literal", "[::1]:80", "/", "any"},
		{"very long host", string(make([]byte, 1000)), "/", "any"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tbl.Match(tc.host, tc.path)
			if r == nil {
				t.Fatalf("Match(%q, %q) = nil, want %s", tc.host, tc.path, tc.want)
			}
			if r.Backend.ID != tc.want {
				t.Errorf("Match(%q, %q) = %s, want %s", tc.host, tc.path, r.Backend.ID, tc.want)
			}
		})
	}
}

func TestMatchNoDefault(t *testing.T) {
	t.Parallel()
	tbl, _ := New([]Route{{Host: "foo.com", Path: "/a", Type: Prefix, Backend: be("a")}}, nil)
	for _, c := range []struct{ host, path string }{{"foo.com", "/b"}, {"bar.com", "/a"}} {
		if r := tbl.Match(c.host, c.path); r != nil {
			t.Errorf("Match(%q, %q) = %v, want nil (404)", c.host, c.path, r.Backend.ID)
		}
	}
}

func TestConflicts(t *testing.T) {
	t.Parallel()
	tbl, conflicts := New([]Route{
		{Host: "foo.com", Path: "/a", Type: Prefix, Backend: be("old"), Source: "ns/old"},
		{Host: "foo.com", Path: "/a/", Type: Prefix, Backend: be("new"), Source: "ns/new"},
		{Host: "foo.com", Path: "/a", Type: Exact, Backend: be("exact"), Source: "ns/new"},
	}, nil)
	if len(conflicts) != 1 || conflicts[0].Winner.Source != "ns/old" || conflicts[0].Loser.Source != "ns/new" {
		t.Fatalf("conflicts = %+v, want one: ns/old beats ns/new", conflicts)
	}
	if got := tbl.Match("foo.com", "/a/b").Backend.ID; got != "old" {
		t.Errorf("winner serves: got %s", got)
	}
	if got := tbl.Match("foo.com", "/a").Backend.ID; got != "exact" {
		t.Errorf("same path, other type is no conflict: got %s", got)
	}
	if tbl.Len() != 2 {
		t.Errorf("Len = %d, want 2", tbl.Len())
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	tbl := benchTable(100, 10)
	for _, host := range []string{"host-50.example.com", "HOST-50.Example.com:443", "x.wild-7.example.com", "unknown.org"} {
		allocs := testing.AllocsPerRun(100, func() { tbl.Match(host, "/path-5/sub/resource") })
		if allocs != 0 {
			t.Errorf("Match(%q) allocates %.0f times", host, allocs)
		}
	}
}

func TestLive(t *testing.T) {
	t.Parallel()
	var l Live
	if l.Ready() || l.Load() == nil || l.Load().Match("a", "/") != nil {
		t.Fatal("zero Live must be not ready and serve an empty table")
	}
	tbl, _ := New([]Route{{Path: "/", Backend: be("x")}}, nil)
	l.Store(tbl)
	if !l.Ready() || l.Load().Match("a", "/").Backend.ID != "x" {
		t.Fatal("stored table not served")
	}
}

func benchTable(hosts, paths int) *Table {
	var routes []Route
	for h := 0; h < hosts; h++ {
		for p := 0; p < paths; p++ {
			routes = append(routes, Route{
				Host: fmt.Sprintf("host-%d.example.com", h), Path: fmt.Sprintf("/path-%d", p),
				Type: PathType(p % 2), Backend: be(fmt.Sprintf("b-%d-%d", h, p)),
			})
		}
		if h%10 == 7 {
			routes = append(routes, Route{Host: fmt.Sprintf("*.wild-%d.example.com", h), Path: "/", Backend: be("w")})
		}
	}
	t, _ := New(routes, &Route{Path: "/", Backend: be("default")})
	return t
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		tbl := benchTable(n, 10)
		host := fmt.Sprintf("host-%d.example.com", n/2)
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if tbl.Match(host, "/path-5/sub/resource") == nil {
					b.Fatal("no match")
				}
			}
		})
		b.Run(fmt.Sprintf("hosts=%d/upper-port", n), func(b *testing.B) {
			b.ReportAllocs()
			h := "HOST-1.EXAMPLE.COM:8443"
			for b.Loop() {
				tbl.Match(h, "/path-4")
			}
		})
	}
}

// trimHost's one pass must agree with the obvious three: strip the port,
// drop one trailing dot, then look for upper case.
func TestTrimHost(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		upper    bool
	}{
		{"example.com", "example.com", false},
		{"Example.com", "Example.com", true},
		{"example.com:8443", "example.com", false},
		{"EXAMPLE.COM.:80", "EXAMPLE.COM", true},
		{"example.com:A", "example.com", false}, // upper case only in the "port"
		{"a:B:c", "a:B", true},
		{"[::1]:80", "[::1]", false},
		{"[FE80::1]", "[FE80::1]", true},
		{"", "", false},
		{".", "", false},
	} {
		h, upper, ok := trimHost(tc.in)
		if h != tc.want || upper != tc.upper || !ok {
			t.Errorf("trimHost(%q) = %q, %v, %v; want %q, %v, true", tc.in, h, upper, ok, tc.want, tc.upper)
		}
	}
	if _, _, ok := trimHost(strings.Repeat("a", maxHost+1) + ":80"); ok {
		t.Error("a host longer than a DNS name was accepted")
	}
}

func FuzzTrimHost(f *testing.F) {
	for _, s := range []string{"example.com", "A.b:1", "[::1]:80", "x.:y", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		want := stripPort(in)
		if len(want) > 0 && want[len(want)-1] == '.' {
			want = want[:len(want)-1]
		}
		h, upper, ok := trimHost(in)
		if h != want || upper != hasUpper(want) || ok != (len(want) <= maxHost) {
			t.Fatalf("trimHost(%q) = %q, %v, %v; want %q, %v, %v", in, h, upper, ok, want, hasUpper(want), len(want) <= maxHost)
		}
	})
}

func FuzzHasUpper(f *testing.F) {
	for _, s := range []string{"example.com", "exAmple.com", "\xc1\xdaZ@[`{", "abcdefghZ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := false
		for i := 0; i < len(s); i++ {
			want = want || 'A' <= s[i] && s[i] <= 'Z'
		}
		if got := hasUpper(s); got != want {
			t.Fatalf("hasUpper(%q) = %v, want %v", s, got, want)
		}
	})
}
