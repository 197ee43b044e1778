package router

import (
	"net/url"
	"strings"
	"testing"
)

// TestPrecedence pins the order in which rules win, one table per question
// a user moving from another controller asks.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	def := &Route{Path: "/", Backend: be("default")}
	type req struct{ name, host, path, want string }
	tests := []struct {
		name   string
		routes []Route
		def    *Route
		reqs   []req
	}{
		{
			name: "exact host, then wildcard, then host-less",
			routes: []Route{
				{Host: "", Path: "/", Backend: be("any")},
				{Host: "*.foo.com", Path: "/", Backend: be("wild")},
				{Host: "a.foo.com", Path: "/", Backend: be("exact-host")},
			},
			reqs: []req{
				{"exact host wins over wildcard and host-less", "a.foo.com", "/x", "exact-host"},
				{"wildcard wins over host-less", "b.foo.com", "/x", "wild"},
				{"two labels: wildcard does not apply, host-less does", "c.b.foo.com", "/x", "any"},
				{"bare domain: wildcard does not apply", "foo.com", "/x", "any"},
				{"unrelated host: host-less", "bar.org", "/", "any"},
				{"empty first label is no label", ".foo.com", "/", "any"},
			},
		},
		{
			name: "a host that matched decides alone (no fall-through)",
			routes: []Route{
				{Host: "a.foo.com", Path: "/api", Type: Prefix, Backend: be("exact-host-api")},
				{Host: "*.foo.com", Path: "/", Type: Prefix, Backend: be("wild")},
				{Host: "", Path: "/", Type: Prefix, Backend: be("any")},
			},
			def: def,
			reqs: []req{
				{"path of the exact host", "a.foo.com", "/api/v1", "exact-host-api"},
				{"other path of the exact host: default, not the wildcard", "a.foo.com", "/web", "default"},
				{"wildcard host for other labels", "b.foo.com", "/web", "wild"},
			},
		},
		{
			name: "same, without a default backend: 404",
			routes: []Route{
				{Host: "a.foo.com", Path: "/api", Type: Prefix, Backend: be("api")},
				{Host: "", Path: "/", Type: Prefix, Backend: be("any")},
			},
			reqs: []req{{"unmatched path of a matched host", "a.foo.com", "/web", "404"}},
		},
		{
			name: "Exact beats Prefix for the same path, in either order",
			routes: []Route{
				{Host: "h", Path: "/foo", Type: Prefix, Backend: be("prefix")},
				{Host: "h", Path: "/foo", Type: Exact, Backend: be("exact")},
				{Host: "g", Path: "/foo", Type: Exact, Backend: be("exact")},
				{Host: "g", Path: "/foo", Type: Prefix, Backend: be("prefix")},
			},
			reqs: []req{
				{"exact listed second", "h", "/foo", "exact"},
				{"exact listed first", "g", "/foo", "exact"},
				{"trailing slash is not the exact path", "h", "/foo/", "prefix"},
				{"sub path", "h", "/foo/bar", "prefix"},
				{"exact is case-sensitive", "h", "/FOO", "404"},
			},
		},
		{
			name: "Exact beats a longer Prefix? no such thing: Exact only equals",
			routes: []Route{
				{Host: "h", Path: "/a", Type: Exact, Backend: be("exact-a")},
				{Host: "h", Path: "/a/b", Type: Prefix, Backend: be("prefix-ab")},
				{Host: "h", Path: "/", Type: Prefix, Backend: be("root")},
			},
			reqs: []req{
				{"exact", "h", "/a", "exact-a"},
				{"longer prefix", "h", "/a/b/c", "prefix-ab"},
				{"exact does not cover sub paths", "h", "/a/c", "root"},
			},
		},
		{
			name: "longest Prefix wins, element-wise",
			routes: []Route{
				{Host: "h", Path: "/", Type: Prefix, Backend: be("root")},
				{Host: "h", Path: "/aaa", Type: Prefix, Backend: be("aaa")},
				{Host: "h", Path: "/aaa/bbb/", Type: Prefix, Backend: be("aaa-bbb")},
				{Host: "h", Path: "/aaa/bbb/ccc", Type: Prefix, Backend: be("aaa-bbb-ccc")},
			},
			reqs: []req{
				{"root", "h", "/", "root"},
				{"one segment", "h", "/aaa", "aaa"},
				{"one segment, slash", "h", "/aaa/", "aaa"},
				{"not a string prefix", "h", "/aaaccc", "root"},
				{"rule slash ignored", "h", "/aaa/bbb", "aaa-bbb"},
				{"rule slash ignored, request slash", "h", "/aaa/bbb/", "aaa-bbb"},
				{"three segments", "h", "/aaa/bbb/ccc/ddd", "aaa-bbb-ccc"},
				{"sibling of the longest", "h", "/aaa/bbb/cc", "aaa-bbb"},
				{"case-sensitive", "h", "/AAA", "root"},
			},
		},
		{
			name: "host normalization",
			routes: []Route{
				{Host: "foo.com", Path: "/", Backend: be("foo")},
			},
			reqs: []req{
				{"upper case", "FOO.COM", "/", "foo"},
				{"port", "foo.com:8443", "/", "foo"},
				{"trailing dot", "foo.com.", "/", "foo"},
				{"all three", "Foo.Com.:80", "/", "foo"},
				{"two trailing dots are not a name", "foo.com..", "/", "404"},
				{"a prefix of the name is not the name", "foo.co", "/", "404"},
				{"a suffix of the name is not the name", "xfoo.com", "/", "404"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl, conflicts := New(tc.routes, tc.def)
			if len(conflicts) != 0 {
				t.Fatalf("conflicts: %+v", conflicts)
			}
			for _, r := range tc.reqs {
				t.Run(r.name, func(t *testing.T) {
					if got := id(tbl.Match(r.host, r.path)); got != r.want {
						t.Errorf("Match(%q, %q) = %s, want %s", r.host, r.path, got, r.want)
					}
				})
			}
		})
	}
}

// TestNormalizationCannotBypassExact sends the request paths attackers use
// against proxies that match one path and forward another. The proxy hands
// Match the decoded URL path through CleanPath (as here), and forwards that
// same cleaned path, so whatever reaches the public backend is a path the
// public rule really covers.
func TestNormalizationCannotBypassExact(t *testing.T) {
	t.Parallel()
	tbl, _ := New([]Route{
		{Host: "h", Path: "/admin", Type: Exact, Backend: be("admin")},
		{Host: "h", Path: "/public", Type: Prefix, Backend: be("public")},
		{Host: "h", Path: "/", Type: Prefix, Backend: be("root")},
	}, nil)
	tests := []struct {
		name, rawPath, wantPath, want string
	}{
		{"dot-dot out of public", "/public/../admin", "/admin", "admin"},
		{"encoded dot-dot", "/public/%2e%2e/admin", "/admin", "admin"},
		{"upper-case encoded dot-dot", "/public/%2E%2E/admin", "/admin", "admin"},
		{"mixed encoding", "/public/.%2e/admin", "/admin", "admin"},
		{"encoded slash before dot-dot", "/public/..%2Fadmin", "/admin", "admin"},
		{"encoded slash is a slash", "/public%2Fadmin", "/public/admin", "public"},
		{"dot segment", "/./admin", "/admin", "admin"},
		{"repeated slashes", "//admin", "/admin", "admin"},
		{"dot-dot above root", "/../../admin", "/admin", "admin"},
		{"double encoding is data, not a dot", "/public/%252e%252e/admin", "/public/%2e%2e/admin", "public"},
		{"exact admin with a slash is not exact admin", "/admin/", "/admin/", "root"},
		{"dot-dot into public stays in public", "/admin/../public/x", "/public/x", "public"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.rawPath) // what net/http does with the request line
			if err != nil {
				t.Fatal(err)
			}
			p := CleanPath(u.Path)
			if p != tc.wantPath {
				t.Errorf("cleaned %q to %q, want %q", tc.rawPath, p, tc.wantPath)
			}
			if got := id(tbl.Match("h", p)); got != tc.want {
				t.Errorf("%q (cleaned %q) went to %s, want %s", tc.rawPath, p, got, tc.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	tbl, _ := New([]Route{
		{Host: "a.foo.com", Path: "/api", Type: Prefix, Backend: be("api"), Source: "ns/api"},
		{Host: "a.foo.com", Path: "/login", Type: Exact, Backend: be("login"), Source: "ns/login"},
		{Host: "*.foo.com", Path: "/", Type: Prefix, Backend: be("wild"), Source: "ns/wild"},
		{Host: "", Path: "/", Type: Prefix, Backend: be("any"), Source: "ns/any"},
	}, &Route{Path: "/", Backend: be("default"), Source: "flag"})
	tests := []struct {
		host, path string
		level      HostLevel
		hostRule   string
		want       string
		isDefault  bool
		reason     string
	}{
		{"A.foo.com:80", "/api/../api/x", HostExact, "a.foo.com", "api", false, "Prefix path /api is the longest"},
		{"a.foo.com", "/login", HostExact, "a.foo.com", "login", false, "Exact path /login equals"},
		{"a.foo.com", "/other", HostExact, "a.foo.com", "default", true, "never falls through"},
		{"b.foo.com", "/x", HostWildcard, "*.foo.com", "wild", false, "wildcard *.foo.com"},
		{"c.b.foo.com", "/x", HostAny, "", "any", false, "rules without a host apply"},
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
	empty, _ := New(nil, nil)
	if e := empty.Explain("x", "/"); e.Route != nil || e.HostLevel != HostNone || !strings.Contains(e.Reason, "404") {
		t.Errorf("empty table: %+v", e)
	}
}
