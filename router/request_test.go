package router

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func req(method, target string, hdr ...string) *http.Request {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		panic(err)
	}
	r := &http.Request{Method: method, URL: u, Header: http.Header{}}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func compiled(t testing.TB, rs []Route) []Route {
	for i := range rs {
		if err := rs[i].Conditions.Compile(); err != nil {
			t.Fatal(err)
		}
		if rs[i].Type == Regex {
			re, err := CompileAnchored(rs[i].Path)
			if err != nil {
				t.Fatal(err)
			}
			rs[i].PathRegex = re
		}
	}
	return rs
}

// TestMatchRequestPrecedence is the HTTPRoute precedence text of the Gateway
// API, case by case: "Across all rules specified on applicable Routes,
// precedence must be given to the match having: "Exact" path match.
// "Prefix" path match with largest number of characters. Method match.
// Largest number of header matches. Largest number of query param matches."
// Ties go to the route given to New first (the translator orders by
// creation time, namespace/name and rule order).
func TestMatchRequestPrecedence(t *testing.T) {
	t.Parallel()
	hm := func(n, v string) HeaderMatch { return HeaderMatch{Name: n, Value: v} }
	qm := func(n, v string) QueryMatch { return QueryMatch{Name: n, Value: v} }
	routes := compiled(t, []Route{
		{Host: "gw.test", Path: "/", Type: Prefix, Backend: be("root")},
		{Host: "gw.test", Path: "/v1", Type: Prefix, Backend: be("v1")},
		{Host: "gw.test", Path: "/v1", Type: Exact, Backend: be("v1-exact")},
		{Host: "gw.test", Path: "/v1", Type: Prefix, Conditions: Conditions{Method: "POST"}, Backend: be("v1-post")},
		{Host: "gw.test", Path: "/v1", Type: Prefix, Conditions: Conditions{Headers: []HeaderMatch{hm("x-env", "canary")}}, Backend: be("v1-canary")},
		{Host: "gw.test", Path: "/v1", Type: Prefix, Conditions: Conditions{Headers: []HeaderMatch{hm("X-Env", "canary"), hm("X-Team", "a")}}, Backend: be("v1-canary-a")},
		{Host: "gw.test", Path: "/v1", Type: Prefix, Conditions: Conditions{Query: []QueryMatch{qm("debug", "1")}}, Backend: be("v1-debug")},
		{Host: "gw.test", Path: "/v1", Type: Prefix, Conditions: Conditions{Method: "GET", Query: []QueryMatch{qm("debug", "1")}}, Backend: be("v1-get-debug")},
		{Host: "gw.test", Path: "/v1/deep", Type: Prefix, Conditions: Conditions{Headers: []HeaderMatch{hm("X-Only", "yes")}}, Backend: be("deep-only")},
		{Host: "gw.test", Path: "/v1/r/[0-9]+", Type: Regex, Backend: be("regex")},
		{Host: "gw.test", Path: "/v1/r/7", Type: Regex, Conditions: Conditions{Method: "DELETE"}, Backend: be("regex-delete")},
		{Host: "gw.test", Path: "/tie", Type: Prefix, Conditions: Conditions{Headers: []HeaderMatch{hm("A", "1")}}, Backend: be("tie-first")},
		{Host: "gw.test", Path: "/tie", Type: Prefix, Conditions: Conditions{Headers: []HeaderMatch{hm("B", "1")}}, Backend: be("tie-second")},
		{Host: "gw.test", Path: "/re", Type: Prefix, Conditions: Conditions{Headers: []HeaderMatch{{Name: "X-Ver", Type: MatchRegex, Value: "v[0-9]+"}}}, Backend: be("header-regex")},
		{Host: "gw.test", Path: "/multi", Type: Prefix, Conditions: Conditions{Headers: []HeaderMatch{hm("X-M", "a,b")}}, Backend: be("multi")},
		{Host: "*.gw.test", Path: "/", Type: Prefix, Backend: be("wild")},
		{Host: "*.deep.gw.test", Path: "/", Type: Prefix, Backend: be("wild-deep")},
	})
	tbl, conflicts := New(routes, nil, WildcardAnyDepth())
	if len(conflicts) != 0 {
		t.Fatalf("conflicts: %v", conflicts)
	}
	tests := []struct {
		name string
		host string
		r    *http.Request
		want string
	}{
		{"exact path beats every prefix condition", "gw.test", req("POST", "/v1?debug=1", "X-Env", "canary"), "v1-exact"},
		{"method beats headers", "gw.test", req("POST", "/v1/x", "X-Env", "canary", "X-Team", "a"), "v1-post"},
		{"more headers beat fewer", "gw.test", req("GET", "/v1/x", "X-Env", "canary", "X-Team", "a"), "v1-canary-a"},
		{"header names are case-insensitive", "gw.test", req("PUT", "/v1/x", "x-env", "canary"), "v1-canary"},
		{"header values are case-sensitive", "gw.test", req("PUT", "/v1/x", "X-Env", "Canary"), "v1"},
		{"headers beat query", "gw.test", req("PUT", "/v1/x?debug=1", "X-Env", "canary"), "v1-canary"},
		{"method+query beats query", "gw.test", req("GET", "/v1/x?debug=1"), "v1-get-debug"},
		{"query alone", "gw.test", req("PUT", "/v1/x?debug=1"), "v1-debug"},
		{"first query value counts", "gw.test", req("PUT", "/v1/x?debug=2&debug=1"), "v1"},
		{"query names are case-sensitive", "gw.test", req("PUT", "/v1/x?DEBUG=1"), "v1"},
		{"longer prefix whose conditions fail falls back", "gw.test", req("GET", "/v1/deep/x"), "v1"},
		{"longer prefix whose conditions hold", "gw.test", req("GET", "/v1/deep/x", "X-Only", "yes"), "deep-only"},
		{"regex after exact, before prefix", "gw.test", req("GET", "/v1/r/42"), "regex"},
		{"regex must match the whole path", "gw.test", req("GET", "/v1/r/42/x"), "v1"},
		{"regex with method first", "gw.test", req("DELETE", "/v1/r/7"), "regex-delete"},
		{"ties: first given wins", "gw.test", req("GET", "/tie", "A", "1", "B", "1"), "tie-first"},
		{"ties: second when first fails", "gw.test", req("GET", "/tie", "B", "1"), "tie-second"},
		{"header regex is anchored", "gw.test", req("GET", "/re", "X-Ver", "v12"), "header-regex"},
		{"header regex partial value fails", "gw.test", req("GET", "/re", "X-Ver", "xv12"), "root"},
		{"repeated header joined by comma", "gw.test", req("GET", "/multi", "X-M", "a", "X-M", "b"), "multi"},
		{"no host rule and no default is 404", "other.test", req("GET", "/"), "404"},
		{"wildcard covers several labels", "a.b.gw.test", req("GET", "/"), "wild"},
		{"longest wildcard suffix wins", "a.deep.gw.test", req("GET", "/"), "wild-deep"},
		{"wildcard does not cover its own domain", "deep.gw.test", req("GET", "/"), "wild"},
		{"nil request matches only unconditional routes", "gw.test", nil, "root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/"
			if tt.r != nil {
				path = tt.r.URL.Path
			}
			if got := id(tbl.MatchRequest(tt.r, tt.host, path)); got != tt.want {
				t.Errorf("MatchRequest(%s %s%s) = %s, want %s", method(tt.r), tt.host, path, got, tt.want)
			}
		})
	}
}

func method(r *http.Request) string {
	if r == nil {
		return "<nil>"
	}
	return r.Method
}

func TestSameConditionsConflict(t *testing.T) {
	t.Parallel()
	c := Conditions{Method: "GET", Headers: []HeaderMatch{{Name: "a", Value: "1"}, {Name: "B", Value: "2"}}}
	d := Conditions{Method: "GET", Headers: []HeaderMatch{{Name: "b", Value: "2"}, {Name: "A", Value: "1"}}}
	_, conflicts := New([]Route{
		{Host: "h", Path: "/x", Type: Prefix, Conditions: c, Backend: be("first")},
		{Host: "h", Path: "/x/", Type: Prefix, Conditions: d, Backend: be("second")},
		{Host: "h", Path: "/x", Type: Prefix, Conditions: Conditions{Method: "GET"}, Backend: be("third")},
		{Host: "h", Path: "/[a-z]", Type: Regex, Backend: be("re1")},
		{Host: "h", Path: "/[a-z]", Type: Regex, Backend: be("re2")},
		{Host: "h", Path: "/[b-z]", Type: Regex, Backend: be("re3")},
	}, nil)
	var got []string
	for _, c := range conflicts {
		got = append(got, c.Winner.Backend.ID+">"+c.Loser.Backend.ID)
	}
	if want := []string{"first>second", "re1>re2"}; !slices.Equal(got, want) {
		t.Fatalf("conflicts %v, want %v", got, want)
	}
}

func TestPick(t *testing.T) {
	t.Parallel()
	a, b := be("a"), be("b")
	r := &Route{Backends: []WeightedBackend{{Backend: a, Weight: 1}, {Backend: b, Weight: 3}, {Backend: nil, Weight: 1}}}
	counts := map[string]int{}
	for n := range uint64(500) {
		got, ok := r.Pick(n)
		switch {
		case !ok:
			counts["500"]++
		default:
			counts[got.ID]++
		}
	}
	if counts["a"] != 100 || counts["b"] != 300 || counts["500"] != 100 {
		t.Fatalf("split %v, want a 100, b 300, 500 100", counts)
	}
	if _, ok := (&Route{Backends: []WeightedBackend{{Backend: a}}}).Pick(7); ok {
		t.Fatal("all weights 0 must not pick a backend")
	}
	if got, ok := (&Route{Backend: a}).Pick(9); !ok || got != a {
		t.Fatal("a route without a split must pick its Backend")
	}
}

// Pools for FuzzMatchRequest: few enough values that rules collide.
var (
	fuzzMethods = []string{"", "GET", "POST"}
	fuzzHeaders = []HeaderMatch{
		{Name: "x-a", Value: "1"}, {Name: "X-A", Value: "2"}, {Name: "X-B", Value: "1"},
		{Name: "X-A", Type: MatchRegex, Value: "[0-9]"},
	}
	fuzzQueries = []QueryMatch{{Name: "q", Value: "1"}, {Name: "q", Value: "2"}, {Name: "r", Type: MatchRegex, Value: "x+"}}
	fuzzRegexes = []string{"/a.*", "/[ab]+", "/a/[^/]+", ".*"}
)

// fuzzRequestRules turns spec into Gateway-style rules, 5 bytes per rule:
// the 3 of fuzzRules, then conditions, then a regex choice.
func fuzzRequestRules(t testing.TB, spec []byte) []Route {
	var rs []Route
	for i := 0; i+4 < len(spec) && len(rs) < 24; i += 5 {
		r := fuzzRules(spec[i : i+3])[0]
		r.Backend = be("r" + strconv.Itoa(len(rs)))
		c := spec[i+3]
		r.Conditions.Method = fuzzMethods[int(c&3)%len(fuzzMethods)]
		for j, h := range fuzzHeaders {
			if c>>(2+j)&1 != 0 {
				r.Conditions.Headers = append(r.Conditions.Headers, h)
			}
		}
		for j, q := range fuzzQueries {
			if spec[i+4]>>(4+j)&1 != 0 {
				r.Conditions.Query = append(r.Conditions.Query, q)
			}
		}
		if spec[i+4]&8 != 0 {
			r.Type, r.Path = Regex, fuzzRegexes[int(spec[i+4]&3)]
		}
		rs = append(rs, r)
	}
	return compiled(t, rs)
}

// refMatchRequest reads the Gateway API literally: the most specific host
// (exact, then the longest wildcard suffix, then no host); among that
// host's rules whose path and conditions hold, the best by (Exact, then
// Regex, then longest Prefix), then method, then most headers, then most
// query params, then the order given. A later rule with the same path and
// conditions as an earlier one never wins. Without fallthrough the most
// specific host that has rules decides (its winner, or def); with it
// (HostFallthrough), hosts are tried from the most specific to the least,
// and def answers when none has a rule that holds.
func refMatchRequest(rules []Route, def *Route, r *http.Request, host, path string, hostFallthrough bool) *Route {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	level := func(rh string) int { // higher is more specific; -1 does not cover
		switch {
		case rh == host && rh != "":
			return 1 << 20
		case strings.HasPrefix(rh, "*.") && strings.HasSuffix(host, rh[1:]) && len(host) > len(rh)-1:
			return len(rh)
		case rh == "":
			return 0
		}
		return -1
	}
	var levels []int // covering host levels, most specific first
	for _, rule := range rules {
		if l := level(rule.Host); l >= 0 && !slices.Contains(levels, l) {
			levels = append(levels, l)
		}
	}
	slices.Sort(levels)
	slices.Reverse(levels)
	holds := func(rule *Route) bool {
		c := &rule.Conditions
		if c.Method != "" && r.Method != c.Method {
			return false
		}
		for _, h := range c.Headers {
			v := strings.Join(r.Header.Values(h.Name), ",")
			if len(r.Header.Values(h.Name)) == 0 || (h.Type == MatchExact && v != h.Value) || (h.Type == MatchRegex && !h.Regex.MatchString(v)) {
				return false
			}
		}
		for _, q := range c.Query {
			vs := r.URL.Query()[q.Name]
			if len(vs) == 0 || (q.Type == MatchExact && vs[0] != q.Value) || (q.Type == MatchRegex && !q.Regex.MatchString(vs[0])) {
				return false
			}
		}
		switch rule.Type {
		case Exact:
			return rule.Path == path
		case Regex:
			return rule.PathRegex.MatchString(path)
		}
		rp := strings.TrimRight(rule.Path, "/")
		return rp == "" || path == rp || strings.HasPrefix(path, rp+"/")
	}
	key := func(rule *Route) []int {
		k := []int{0, 0}
		switch rule.Type {
		case Exact:
			k[0] = 2
		case Regex:
			k[0] = 1
		default:
			k[1] = len(strings.TrimRight(rule.Path, "/"))
		}
		m := 0
		if rule.Conditions.Method != "" {
			m = 1
		}
		return append(k, m, len(rule.Conditions.Headers), len(rule.Conditions.Query))
	}
	for _, best := range levels {
		var win *Route
		for i := range rules {
			rule := &rules[i]
			if level(rule.Host) != best || !holds(rule) {
				continue
			}
			if win == nil || slices.Compare(key(rule), key(win)) > 0 {
				win = rule
			}
		}
		if win != nil {
			return win
		}
		if !hostFallthrough {
			return def
		}
	}
	return def
}

// FuzzMatchRequest checks MatchRequest on Gateway-style tables (conditions,
// regex paths, wildcards of any depth), without and with HostFallthrough,
// against refMatchRequest. An odd number of spec bytes adds a default.
func FuzzMatchRequest(f *testing.F) {
	f.Add([]byte{1, 0x40, 0, 5, 0x10, 1, 0x40, 0, 0, 0}, "a.com", "GET", "/a", "q=1", "1", "")
	f.Add([]byte{2, 0x41, 0, 0, 0x08, 4, 0x80, 2, 4, 0x20}, "x.y.a.com", "POST", "/a/b", "q=2&q=1", "", "1")
	f.Add([]byte{0, 0xc0, 3, 0x3c, 0x70, 0, 0x40, 1, 1, 0}, "nohost", "GET", "/ab", "r=xx", "2", "1")
	f.Fuzz(func(t *testing.T, spec []byte, host, method, path, query, xa, xb string) {
		rules := fuzzRequestRules(t, spec)
		var def *Route
		if len(spec)%2 == 1 {
			def = &Route{Path: "/", Backend: be("default")}
		}
		tbl, _ := New(slices.Clone(rules), def, WildcardAnyDepth())
		through, _ := New(slices.Clone(rules), def, WildcardAnyDepth(), HostFallthrough())
		u := &url.URL{Path: CleanPath(path), RawQuery: query}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}}
		for _, v := range strings.Split(xa, ";") {
			if v != "" {
				r.Header.Add("X-A", v)
			}
		}
		if xb != "" {
			r.Header.Set("X-B", xb)
		}
		check := func(host, path string) {
			r.URL.Path = path
			for _, c := range []struct {
				tbl             *Table
				hostFallthrough bool
			}{{tbl, false}, {through, true}} {
				got, want := c.tbl.MatchRequest(r, host, path), refMatchRequest(rules, def, r, host, path, c.hostFallthrough)
				if id(got) != id(want) {
					t.Fatalf("rules %s\nfallthrough %v: MatchRequest(%s %q %q ?%s X-A=%q X-B=%q) = %s, reference says %s",
						dumpRequestRules(rules), c.hostFallthrough, method, host, path, query, r.Header.Values("X-A"), xb, id(got), id(want))
				}
			}
		}
		if !strings.ContainsAny(host, ":[]") && len(host) <= maxHost {
			check(host, u.Path)
		}
		for _, rule := range rules {
			h := strings.Replace(rule.Host, "*", "x", 1)
			for _, p := range []string{rule.Path, rule.Path + "/z", "/a/b", "/"} {
				check(h, CleanPath(p))
				check("q.p."+h, CleanPath(p))
			}
		}
	})
}

func dumpRequestRules(rs []Route) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "\n  %s: host=%q path=%s %s method=%q headers=%v query=%v", r.Backend.ID, r.Host, r.Path, r.Type,
			r.Conditions.Method, r.Conditions.Headers, r.Conditions.Query)
	}
	return b.String()
}

// benchGatewayTable is a Gateway-style table: per host a few rules that
// differ by method, headers and query, with weighted backends.
func benchGatewayTable(hosts int) *Table {
	var routes []Route
	for h := range hosts {
		host := fmt.Sprintf("host-%d.example.com", h)
		split := []WeightedBackend{{Backend: be("a"), Weight: 90}, {Backend: be("b"), Weight: 10}}
		routes = append(routes,
			Route{Host: host, Path: "/", Type: Prefix, Backends: split},
			Route{Host: host, Path: "/api", Type: Prefix, Conditions: Conditions{Method: "POST"}, Backends: split},
			Route{Host: host, Path: "/api", Type: Prefix, Conditions: Conditions{Headers: []HeaderMatch{{Name: "X-Canary", Value: "yes"}, {Name: "X-Region", Type: MatchRegex, Value: "eu-.*"}}}, Backends: split},
			Route{Host: host, Path: "/api", Type: Prefix, Conditions: Conditions{Query: []QueryMatch{{Name: "v", Value: "2"}}}, Backends: split},
			Route{Host: host, Path: "/api", Type: Prefix, Backends: split},
		)
	}
	t, _ := New(compiled(nil, routes), nil, WildcardAnyDepth())
	return t
}

func BenchmarkMatchRequest(b *testing.B) {
	tbl := benchGatewayTable(1000)
	host := "host-500.example.com"
	cases := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"headers", req("GET", "/api/items", "X-Canary", "yes", "X-Region", "eu-west"), "a"},
		{"query", req("GET", "/api/items?v=2"), "a"},
		{"fallthrough", req("GET", "/api/items", "X-Canary", "no"), "a"},
		{"method", req("POST", "/api/items"), "a"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var n uint64
			for b.Loop() {
				r := tbl.MatchRequest(c.r, host, c.r.URL.Path)
				if r == nil {
					b.Fatal("no match")
				}
				n++
				r.Pick(n)
			}
		})
	}
}

// FuzzQueryValue checks the allocation-free query lookup against
// url.ParseQuery, whose decoding Gateway API query matches are defined on.
func FuzzQueryValue(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a=1&a=2", "a%3D=x&a=%zz&a=ok", "a;b=1&a=2", "a+b=c+d", "=x&a", "a=%41"} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, raw, name string) {
		got, ok := queryValue(raw, name)
		vals, _ := url.ParseQuery(raw)
		want, wantOK := "", len(vals[name]) > 0
		if wantOK {
			want = vals[name][0]
		}
		if got != want || ok != wantOK {
			t.Fatalf("queryValue(%q, %q) = %q, %v; ParseQuery says %q, %v", raw, name, got, ok, want, wantOK)
		}
	})
}
