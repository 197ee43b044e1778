package router

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestCaptureRewrite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		re, target, prefix string // prefix "" for none
		path               string
		want, wantPrefix   string
		wantOK             bool
	}{
		{`(?i)/something(/|$)(.*)`, "/$2", "", "/something/new", "/new", "", false},
		{`(?i)/something(/|$)(.*)`, "/$2", "", "/something", "/", "", false},
		{`(?i)/app`, "/", "", "/app/foo", "/", "", false},
		{`(?i)/app`, "/", "", "/APP", "/", "", false},
		{`(?i)/foo/bar/(.+)`, "/new/backend/$1", "", "/foo/bar/bar", "/new/backend/bar", "", false},
		{`(?i)/(a)(b)?`, "/$1-$2-$9", "", "/a", "/a--", "", false}, // groups that did not take part or do not exist are empty
		{`(?i)/(a)`, "/$12", "", "/a", "/a2", "", false},           // one digit: $1, then "2"
		{`(?i)/x(/.*)`, "$1", "", "/x/y", "/y", "", false},
		{`(?i)/x(.*)`, "$1", "", "/x", "/", "", false}, // an empty result is "/"
		{`(?i)/(api)(/.*)`, "$2", "/$1", "/api/v1", "/v1", "/api", true},
		{`(?i)/nomatch`, "/", "/p", "/other", "/other", "", false}, // no match: path kept, no header
	} {
		tgt, err := ParseTemplate(tc.target)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", tc.target, err)
		}
		cr := &CaptureRewrite{Regexp: regexp.MustCompile(tc.re), Target: tgt}
		if tc.prefix != "" {
			p, err := ParseTemplate(tc.prefix)
			if err != nil {
				t.Fatal(err)
			}
			cr.Prefix = &p
		}
		got, prefix, ok := cr.Apply(tc.path)
		if got != tc.want || prefix != tc.wantPrefix || ok != tc.wantOK {
			t.Errorf("%s -> %s on %q = %q, %q, %v; want %q, %q, %v", tc.re, tc.target, tc.path, got, prefix, ok, tc.want, tc.wantPrefix, tc.wantOK)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "/", "/a/$1", "$1$2", "/$9x"} {
		tp, err := ParseTemplate(s)
		if err != nil || tp.String() != s {
			t.Errorf("ParseTemplate(%q) = %q, %v", s, tp.String(), err)
		}
	}
	for _, s := range []string{"$", "/a$", "/$0", "/$a", "/$$1", "/${1}"} {
		if _, err := ParseTemplate(s); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", s)
		}
	}
}

// FuzzParseTemplate: the parser never panics, accepts exactly the strings
// whose every "$" is followed by 1-9, gives back what it read, and a
// template expands without panicking against any match, whatever groups
// it names; literal text comes out unchanged.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"/$1", "/new/backend/$1", "$2$1", "/$", "/$0", "/a$12b", "/${1}", "\xff$9"} {
		f.Add(s, "/foo/bar/baz")
	}
	re := regexp.MustCompile(`(?i)/(\w+)(/(\w*))?`)
	f.Fuzz(func(t *testing.T, s, path string) {
		path = "/" + path // request paths are clean
		tp, err := ParseTemplate(s)
		valid := true
		for i := 0; i < len(s); i++ {
			if s[i] == '$' {
				if i+1 >= len(s) || s[i+1] < '1' || s[i+1] > '9' {
					valid = false
					break
				}
				i++
			}
		}
		if (err == nil) != valid {
			t.Fatalf("ParseTemplate(%q) err = %v, want valid %v", s, err, valid)
		}
		if err != nil {
			return
		}
		if tp.String() != s {
			t.Fatalf("ParseTemplate(%q).String() = %q", s, tp.String())
		}
		m := re.FindStringSubmatchIndex(path)
		if m == nil {
			m = []int{0, 0}
		}
		out := tp.Expand(path, m)
		if !strings.Contains(s, "$") && out != s {
			t.Fatalf("literal %q expanded to %q", s, out)
		}
		cr := CaptureRewrite{Regexp: re, Target: tp, Prefix: &tp}
		if p, _, _ := cr.Apply(path); p == "" || p[0] != '/' {
			t.Fatalf("Apply(%q) with %q = %q, not a path", path, s, p)
		}
	})
}

// RegexPrefix routes are tried longest first, equal lengths in descending
// byte order, whatever order they were given in; Exact paths still come
// first.
func TestRegexPrefixOrder(t *testing.T) {
	t.Parallel()
	be := func(n string) *Backend { return &Backend{ID: n} }
	rx := func(p, b string) Route {
		return Route{Host: "r.test", Path: p, Type: RegexPrefix, PathRegex: regexp.MustCompile("(?i)^" + p), Backend: be(b)}
	}
	routes := []Route{rx("/", "root"), rx("/foo", "foo"), rx("/foo/bar/[a-z]{3}", "re"), rx("/foo/bar/bar", "bar"),
		rx("/foo.", "dot"), rx("/foo/", "slash"), {Host: "r.test", Path: "/foo/bar/baz", Type: Exact, Backend: be("exact")}}
	tbl, conflicts := New(routes, nil)
	if len(conflicts) != 0 {
		t.Fatalf("conflicts %+v", conflicts)
	}
	for _, tc := range []struct{ path, want string }{
		{"/foo/bar/bar", "re"}, // ingress-nginx's documented warning: the longer pattern wins
		{"/foo/bar/baz", "exact"},
		{"/FOO/BAR/QUX", "re"},
		{"/foo/x", "slash"}, // "/foo/" > "/foo." at equal length
		{"/foox", "dot"},
		{"/foo", "foo"},
		{"/other", "root"},
	} {
		r := tbl.Match("r.test", tc.path)
		if r == nil || r.Backend.ID != tc.want {
			t.Errorf("Match(%q) = %v, want %s", tc.path, r, tc.want)
		}
	}
	if _, c := New(append(routes, rx("/foo", "again")), nil); len(c) != 1 || c[0].Loser.Backend.ID != "again" {
		t.Errorf("same regex twice: conflicts %+v, want the second to lose", c)
	}
}

// BenchmarkMatchRegex is a request on a host whose paths are ingress-nginx
// regexes (use-regex): n routes tried longest first, the match at the end.
func BenchmarkMatchRegex(b *testing.B) {
	for _, n := range []int{1, 10} {
		var routes []Route
		for i := range n {
			p := fmt.Sprintf("/api/v%d/(.+)", i)
			routes = append(routes, Route{Host: "r.test", Path: p, Type: RegexPrefix, PathRegex: regexp.MustCompile("(?i)^" + p), Backend: &Backend{ID: p}})
		}
		tbl, _ := New(routes, nil)
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if tbl.Match("r.test", "/api/v0/users/42") == nil {
					b.Fatal("no match")
				}
			}
		})
	}
	re := regexp.MustCompile(`(?i)/something(/|$)(.*)`)
	tp, _ := ParseTemplate("/$2")
	cr := &CaptureRewrite{Regexp: re, Target: tp}
	b.Run("rewrite", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cr.Apply("/something/users/42")
		}
	})
}
