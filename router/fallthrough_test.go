package router

import (
	"fmt"
	"strings"
	"testing"
)

// TestHostFallthrough: with HostFallthrough a request that no rule of its
// most specific host matches goes on to the covering wildcards (longest
// first), then to the rules without a host, then to the default, as
// Gateway API precedence across all rules of a listener requires. The
// same rules without the option keep Ingress behaviour: the most specific
// host decides alone.
func TestHostFallthrough(t *testing.T) {
	t.Parallel()
	canary := Conditions{Headers: []HeaderMatch{{Name: "X-Canary", Value: "yes"}}}
	routes := compiled(t, []Route{
		{Host: "foo.example.com", Path: "/api", Type: Prefix, Backend: be("api")},
		{Host: "foo.example.com", Path: "/login", Type: Exact, Backend: be("login")},
		{Host: "foo.example.com", Path: "/", Type: Prefix, Conditions: canary, Backend: be("canary")},
		{Host: "*.b.example.com", Path: "/img", Type: Prefix, Backend: be("img-deep")},
		{Host: "*.example.com", Path: "/img", Type: Prefix, Backend: be("img")},
		{Host: "*.example.com", Path: "/static", Type: Prefix, Backend: be("static")},
		{Host: "", Path: "/health", Type: Exact, Backend: be("health")},
		{Host: "", Path: "/public", Type: Prefix, Backend: be("public")},
	})
	def := &Route{Path: "/", Backend: be("default")}
	gateway, _ := New(routes, def, WildcardAnyDepth(), HostFallthrough())
	noDefault, _ := New(routes, nil, WildcardAnyDepth(), HostFallthrough())
	oneLabel, _ := New(routes, def, HostFallthrough())
	ingress, _ := New(routes, def, WildcardAnyDepth())
	tests := []struct {
		name, host, path, hdr string
		gateway               string // WildcardAnyDepth, HostFallthrough
		noDefault             string // the same without a default backend
		oneLabel              string // HostFallthrough, wildcards of one label
		ingress               string // WildcardAnyDepth only: no fall-through
	}{
		{"exact host rule wins", "foo.example.com", "/api/x", "", "api", "api", "api", "api"},
		{"exact host falls to wildcard", "foo.example.com", "/static/a.css", "", "static", "static", "static", "default"},
		{"exact host falls to host-less", "foo.example.com", "/health", "", "health", "health", "health", "default"},
		{"exact host falls to default", "foo.example.com", "/nothing", "", "default", "404", "default", "default"},
		{"conditions that fail fall through", "foo.example.com", "/public/x", "", "public", "public", "public", "default"},
		{"conditions that hold stay", "foo.example.com", "/public/x", "yes", "canary", "canary", "canary", "canary"},
		{"longest wildcard first", "a.b.example.com", "/img/1.png", "", "img-deep", "img-deep", "img-deep", "img-deep"},
		{"deep wildcard falls to shorter one", "a.b.example.com", "/static/x", "", "static", "static", "default", "default"},
		{"deep wildcard falls to host-less", "a.b.example.com", "/health", "", "health", "health", "health", "default"},
		{"one label: only the one-label wildcard covers", "x.a.b.example.com", "/img", "", "img-deep", "img-deep", "default", "img-deep"},
		{"wildcard falls to host-less", "bar.example.com", "/public", "", "public", "public", "public", "default"},
		{"host-less rules", "other.org", "/health", "", "health", "health", "health", "health"},
		{"nothing anywhere", "other.org", "/x", "", "default", "404", "default", "default"},
		{"upper case, port and dot", "FOO.Example.COM.:8443", "/static/x", "", "static", "static", "static", "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := req("GET", tc.path)
			if tc.hdr != "" {
				r.Header.Set("X-Canary", tc.hdr)
			}
			for _, c := range []struct {
				name string
				tbl  *Table
				want string
			}{{"gateway", gateway, tc.gateway}, {"noDefault", noDefault, tc.noDefault}, {"oneLabel", oneLabel, tc.oneLabel}, {"ingress", ingress, tc.ingress}} {
				if got := id(c.tbl.MatchRequest(r, tc.host, tc.path)); got != c.want {
					t.Errorf("%s table: MatchRequest(%q, %q) = %s, want %s", c.name, tc.host, tc.path, got, c.want)
				}
			}
		})
	}
}

func TestExplainHostFallthrough(t *testing.T) {
	t.Parallel()
	tbl, _ := New([]Route{
		{Host: "a.foo.com", Path: "/api", Type: Prefix, Backend: be("api")},
		{Host: "*.foo.com", Path: "/web", Type: Prefix, Backend: be("wild")},
		{Host: "", Path: "/any", Type: Prefix, Backend: be("any")},
	}, &Route{Path: "/", Backend: be("default")}, WildcardAnyDepth(), HostFallthrough())
	tests := []struct {
		host, path string
		level      HostLevel
		hostRule   string
		want       string
		isDefault  bool
		reason     string
	}{
		{"a.foo.com", "/api", HostExact, "a.foo.com", "api", false, "has rules of its own"},
		{"a.foo.com", "/web/x", HostWildcard, "*.foo.com", "wild", false, "no rule of host a.foo.com matched, so less specific hosts were tried; host a.foo.com is covered by wildcard *.foo.com"},
		{"a.foo.com", "/any", HostAny, "", "any", false, "so less specific hosts were tried; the rules without a host apply"},
		{"x.y.foo.com", "/any", HostAny, "", "any", false, "no rule of host *.foo.com matched"},
		{"a.foo.com", "/none", HostExact, "a.foo.com", "default", true, "no path of it or of a less specific host matched: default backend"},
	}
	for _, tc := range tests {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			e := tbl.Explain(tc.host, tc.path)
			if e.HostLevel != tc.level || e.HostRule != tc.hostRule || id(e.Route) != tc.want || e.Default != tc.isDefault ||
				!strings.Contains(e.Reason, tc.reason) {
				t.Errorf("Explain(%q, %q) = %+v (route %s); want level %s rule %q route %s default %v reason ~%q",
					tc.host, tc.path, e, id(e.Route), tc.level, tc.hostRule, tc.want, tc.isDefault, tc.reason)
			}
		})
	}
}

func TestHostFallthroughDoesNotAllocate(t *testing.T) {
	tbl := benchFallthroughTable(100)
	for _, host := range []string{"host-50.example.com", "HOST-50.Example.com:443", "x.y.example.com", "unknown.org"} {
		allocs := testing.AllocsPerRun(100, func() { tbl.Match(host, "/shared/x") })
		if allocs != 0 {
			t.Errorf("Match(%q) allocates %.0f times", host, allocs)
		}
	}
}

// benchFallthroughTable is a Gateway listener's table: per host a few
// paths, a wildcard with shared paths and host-less rules.
func benchFallthroughTable(hosts int) *Table {
	var routes []Route
	for h := range hosts {
		host := fmt.Sprintf("host-%d.example.com", h)
		for p := range 5 {
			routes = append(routes, Route{Host: host, Path: fmt.Sprintf("/path-%d", p), Type: Prefix, Backend: be("h")})
		}
	}
	routes = append(routes,
		Route{Host: "*.example.com", Path: "/wild", Type: Prefix, Backend: be("w")},
		Route{Host: "", Path: "/shared", Type: Prefix, Backend: be("s")},
	)
	t, _ := New(routes, nil, WildcardAnyDepth(), HostFallthrough())
	return t
}

// BenchmarkMatchHostFallthrough: a hit at the exact host costs what it
// costs without the option; each level passed on adds a lookup.
func BenchmarkMatchHostFallthrough(b *testing.B) {
	tbl := benchFallthroughTable(1000)
	for _, c := range []struct{ name, host, path string }{
		{"exact", "host-500.example.com", "/path-3/x"},
		{"to-wildcard", "host-500.example.com", "/wild/x"},
		{"to-hostless", "host-500.example.com", "/shared/x"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if tbl.Match(c.host, c.path) == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}
