package router

import (
	"strconv"
	"strings"
	"testing"
)

// The fuzzer builds rules from small pools, so that rules overlap (same
// host, nested paths, Exact next to Prefix, wildcards one level apart) far
// more often than random strings would, and sends free-form requests plus
// probes derived from every rule.
var (
	fuzzHosts = []string{"", "a.com", "*.a.com", "b.a.com", "*.b.a.com", "c.b.a.com", "x.org", "*.org"}
	fuzzSegs  = []string{"a", "b", "ab", "a.b", "%2e", "A"}
)

// fuzzRules turns spec into rules: 3 bytes per rule (host, path shape, type).
func fuzzRules(spec []byte) []Route {
	var rs []Route
	for i := 0; i+2 < len(spec) && len(rs) < 32; i += 3 {
		host := fuzzHosts[int(spec[i])%len(fuzzHosts)]
		shape := spec[i+1]
		path := ""
		for n := int(shape>>6) & 3; n > 0; n-- { // 0..3 segments
			path += "/" + fuzzSegs[int(shape)%len(fuzzSegs)]
			shape /= 3
		}
		if path == "" || spec[i+2]&2 != 0 {
			path += "/" // "/" itself, or a trailing slash
		}
		typ := Prefix
		if spec[i+2]&1 != 0 {
			typ = Exact
		}
		rs = append(rs, Route{Host: host, Path: path, Type: typ, Backend: be("r" + strconv.Itoa(len(rs)))})
	}
	return rs
}

// refMatch is the Ingress v1 spec read literally, as slowly and plainly as
// possible: pick the most specific host level that has rules, then the
// Exact rule equal to the path, else the longest Prefix rule whose
// segments begin the path, else the default. Among equal rules the first
// listed wins. With fallthrough (HostFallthrough), a level none of whose
// rules match passes the request on to the next less specific one.
func refMatch(rules []Route, def *Route, host, path string, hostFallthrough bool) *Route {
	host = refHost(host)
	tooLong := len(host) > maxHost // longer than any DNS name: no host rule applies

	covers := map[string]func(string) bool{
		"exact": func(rh string) bool { return !tooLong && rh != "" && rh == host },
		"wildcard": func(rh string) bool {
			suffix, ok := strings.CutPrefix(rh, "*.")
			label, rest, dot := strings.Cut(host, ".")
			return !tooLong && ok && dot && label != "" && rest == suffix
		},
		"any": func(rh string) bool { return rh == "" },
	}
	for _, level := range []string{"exact", "wildcard", "any"} {
		var candidates []Route
		for _, r := range rules {
			if covers[level](r.Host) {
				candidates = append(candidates, r)
			}
		}
		if len(candidates) == 0 {
			continue
		}
		for _, r := range candidates {
			if r.Type == Exact && r.Path == path {
				return &r
			}
		}
		var best *Route
		for _, r := range candidates {
			rp := strings.TrimRight(r.Path, "/")
			if r.Type == Prefix && (rp == "" || path == rp || strings.HasPrefix(path, rp+"/")) &&
				(best == nil || len(rp) > len(strings.TrimRight(best.Path, "/"))) {
				best = &r
			}
		}
		if best != nil {
			return best
		}
		if !hostFallthrough {
			return def // the host level decided
		}
	}
	return def
}

// refHost is a Host as hosts are compared: without a port ("[::1]:80"
// keeps its brackets) or one trailing dot, ASCII lower case.
func refHost(host string) string {
	if h, ok := strings.CutPrefix(host, "["); ok { // "[::1]:80"
		if i := strings.Index(h, "]"); i >= 0 {
			host = host[:i+2]
		}
	} else if i := strings.LastIndex(host, ":"); i >= 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	lower := []byte(host)
	for i, c := range lower {
		if c >= 'A' && c <= 'Z' {
			lower[i] = c - 'A' + 'a'
		}
	}
	return string(lower)
}

// FuzzMatch checks Table.Match (and Explain, which must agree with it)
// against refMatch, for a table without and one with HostFallthrough.
// Corpus: testdata/fuzz/FuzzMatch.
func FuzzMatch(f *testing.F) {
	f.Add([]byte{1, 0x40, 0, 1, 0x40, 1, 2, 0, 0}, "a.com", "/a/b")
	f.Add([]byte{2, 0x41, 0, 4, 0x80, 2, 0, 0, 0}, "x.b.a.com", "/b")
	f.Add([]byte{3, 0xc0, 3, 3, 0x40, 0}, "B.A.COM.:8080", "/a/a/a/")
	f.Add([]byte{6, 0x42, 0, 7, 0x40, 1}, "y.x.org", "/ab")
	f.Fuzz(func(t *testing.T, spec []byte, host, path string) {
		rules := fuzzRules(spec)
		var def *Route
		if len(spec)%2 == 1 {
			def = &Route{Path: "/", Backend: be("default")}
		}
		tbl, _ := New(append([]Route(nil), rules...), def)
		through, _ := New(append([]Route(nil), rules...), def, HostFallthrough())

		check := func(host, path string) {
			path = CleanPath(path)
			for _, c := range []struct {
				tbl             *Table
				hostFallthrough bool
			}{{tbl, false}, {through, true}} {
				got, want := c.tbl.Match(host, path), refMatch(rules, def, host, path, c.hostFallthrough)
				if id(got) != id(want) {
					t.Fatalf("rules %s\nfallthrough %v: Match(%q, %q) = %s, reference says %s",
						dump(rules), c.hostFallthrough, host, path, id(got), id(want))
				}
				if e := c.tbl.Explain(host, path); e.Route != got {
					t.Fatalf("fallthrough %v: Explain(%q, %q) = %s, Match = %s", c.hostFallthrough, host, path, id(e.Route), id(got))
				}
			}
		}
		check(host, path)
		for _, r := range rules {
			h := strings.Replace(r.Host, "*", "x", 1)
			for _, p := range []string{r.Path, strings.TrimSuffix(r.Path, "/"), r.Path + "/", r.Path + "/z", r.Path + "z", "/"} {
				check(h, p)
				check("q."+h, p)
				check(strings.ToUpper(h)+".:1", p)
			}
		}
	})
}

func id(r *Route) string {
	if r == nil {
		return "404"
	}
	return r.Backend.ID
}

func dump(rs []Route) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("\n  " + r.Backend.ID + ": host=" + strconv.Quote(r.Host) + " path=" + r.Path + " " + r.Type.String())
	}
	return b.String()
}
