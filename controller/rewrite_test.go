package controller

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// forward is what a backend gets for host and path: the backend, the
// path after a rewrite, and X-Forwarded-Prefix ("-" for none).
func forward(res Result, host, path string) (backend, upstream, prefix string) {
	r := res.Table.Match(host, path)
	if r == nil {
		return "", "", "-"
	}
	upstream, prefix = path, "-"
	if f := r.Filters; f != nil && f.Rewrite != nil && f.Rewrite.Captures != nil {
		p, x, ok := f.Rewrite.Captures.Apply(path)
		upstream = p
		if ok {
			prefix = x
		}
	}
	return r.Backend.ID, upstream, prefix
}

const (
	annRegex   = nginxPrefix + "use-regex"
	annTarget  = nginxPrefix + "rewrite-target"
	annXFPrefx = nginxPrefix + "x-forwarded-prefix"
)

func TestCompileRewrite(t *testing.T) {
	t.Parallel()
	prefix, exact, impl := networkingv1.PathTypePrefix, networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific
	type req struct{ host, path, backend, upstream, prefix string }
	tests := []struct {
		name string
		ings []*networkingv1.Ingress
		reqs []req
	}{
		{"regex path tried before a shorter plain prefix", []*networkingv1.Ingress{
			ingress("ns", "a", 0, rule("r.test", "/foo", prefix, "svc1", 80)),
			ingress("ns", "b", 1, annotate(annRegex, "true"), annotate(annTarget, "/new/backend"), rule("r.test", "/foo.+", impl, "svc2", 80))},
			[]req{{"r.test", "/foo", "ns/svc1:80", "/foo", "-"}, {"r.test", "/foo/bar", "ns/svc2:80", "/new/backend", "-"}}},
		{"longest pattern first, not the longest literal match", []*networkingv1.Ingress{
			ingress("ns", "a", 0, rule("r.test", "/foo/bar/bar", prefix, "svc1", 80)),
			ingress("ns", "b", 1, annotate(annRegex, "true"), annotate(annTarget, "/new/backend"), rule("r.test", "/foo/bar/[a-z]{3}", impl, "svc2", 80))},
			[]req{{"r.test", "/foo/bar/bar", "ns/svc2:80", "/new/backend", "-"}}},
		{"capture group in the target", []*networkingv1.Ingress{
			ingress("ns", "b", 0, annotate(annRegex, "true"), annotate(annTarget, "/new/backend/$1"), rule("r.test", "/foo/bar/(.+)", impl, "svc2", 80))},
			[]req{{"r.test", "/foo/bar/bar", "ns/svc2:80", "/new/backend/bar", "-"}, {"r.test", "/FOO/Bar/x/y", "ns/svc2:80", "/new/backend/x/y", "-"}}},
		{"rewrite of / leaves a longer plain path alone", []*networkingv1.Ingress{
			ingress("ns", "a", 0, rule("r.test", "/.well-known/acme/challenge", prefix, "svc1", 80)),
			ingress("ns", "b", 1, annotate(annTarget, "/new/backend"), rule("r.test", "/", prefix, "svc2", 80))},
			[]req{{"r.test", "/.well-known/acme/challenge", "ns/svc1:80", "/.well-known/acme/challenge", "-"},
				{"r.test", "/other", "ns/svc2:80", "/new/backend", "-"}}},
		{"documented capture example", []*networkingv1.Ingress{
			ingress("ns", "b", 0, annotate(annTarget, "/$2"), rule("r.test", "/something(/|$)(.*)", impl, "svc1", 80))},
			[]req{{"r.test", "/something", "ns/svc1:80", "/", "-"}, {"r.test", "/something/", "ns/svc1:80", "/", "-"},
				{"r.test", "/something/new", "ns/svc1:80", "/new", "-"}, {"r.test", "/other", "", "", "-"}}},
		{"target without captures replaces the whole path", []*networkingv1.Ingress{
			ingress("ns", "b", 0, annotate(annTarget, "/"), rule("r.test", "/app", prefix, "svc1", 80))},
			[]req{{"r.test", "/app", "ns/svc1:80", "/", "-"}, {"r.test", "/app/foo", "ns/svc1:80", "/", "-"},
				{"r.test", "/APP/foo", "ns/svc1:80", "/", "-"}, {"r.test", "/application", "ns/svc1:80", "/", "-"}}},
		{"target starting with a capture", []*networkingv1.Ingress{
			ingress("ns", "b", 0, annotate(annTarget, "$1/x"), rule("r.test", "/a(/.*)", impl, "svc1", 80))},
			[]req{{"r.test", "/a/b", "ns/svc1:80", "/b/x", "-"}}},
		{"use-regex is case-insensitive and start-anchored only", []*networkingv1.Ingress{
			ingress("ns", "b", 0, annotate(annRegex, "true"), rule("r.test", "/foo/.+", impl, "svc1", 80))},
			[]req{{"r.test", "/FOO/bar/baz", "ns/svc1:80", "/FOO/bar/baz", "-"}, {"r.test", "/foo/", "", "", "-"}, {"r.test", "/x/foo/bar", "", "", "-"}}},
		{"use-regex turns the host's other prefix paths into regexes", []*networkingv1.Ingress{
			ingress("ns", "a", 0, rule("r.test", "/foo", prefix, "svc1", 80), rule("plain.test", "/foo", prefix, "svc1", 80)),
			ingress("ns", "b", 1, annotate(annRegex, "true"), rule("r.test", "/bar", prefix, "svc2", 80))},
			[]req{{"r.test", "/foobar", "ns/svc1:80", "/foobar", "-"}, {"r.test", "/FOO/x", "ns/svc1:80", "/FOO/x", "-"},
				{"plain.test", "/foobar", "", "", "-"}, {"plain.test", "/FOO", "", "", "-"}, {"plain.test", "/foo/x", "ns/svc1:80", "/foo/x", "-"}}},
		{"prefix path/ of a plain Ingress outranks a regex of the same length", []*networkingv1.Ingress{
			ingress("ns", "a", 0, rule("r.test", "/foo", prefix, "svc1", 80)),
			ingress("ns", "b", 1, annotate(annRegex, "true"), rule("r.test", "/foo.", impl, "svc2", 80))},
			[]req{{"r.test", "/foo/x", "ns/svc1:80", "/foo/x", "-"}, {"r.test", "/foobar", "ns/svc2:80", "/foobar", "-"}, {"r.test", "/foo", "ns/svc1:80", "/foo", "-"}}},
		{"exact paths stay exact on a regex host", []*networkingv1.Ingress{
			ingress("ns", "a", 0, rule("r.test", "/exact", exact, "svc1", 80)),
			ingress("ns", "b", 1, annotate(annRegex, "true"), rule("r.test", "/e.*", impl, "svc2", 80))},
			[]req{{"r.test", "/exact", "ns/svc1:80", "/exact", "-"}, {"r.test", "/exact/x", "ns/svc2:80", "/exact/x", "-"}, {"r.test", "/EXACT", "ns/svc2:80", "/EXACT", "-"}}},
		{"use-regex false changes nothing", []*networkingv1.Ingress{
			ingress("ns", "a", 0, annotate(annRegex, "false"), rule("r.test", "/foo", prefix, "svc1", 80))},
			[]req{{"r.test", "/foobar", "", "", "-"}, {"r.test", "/foo/bar", "ns/svc1:80", "/foo/bar", "-"}}},
		{"path equal to the target is not rewritten", []*networkingv1.Ingress{
			ingress("ns", "a", 0, annotate(annTarget, "/"), annotate(annXFPrefx, "/p"), rule("r.test", "/", prefix, "svc1", 80), rule("r.test", "/foo", prefix, "svc1", 80))},
			[]req{{"r.test", "/x", "ns/svc1:80", "/x", "-"}, {"r.test", "/foo/x", "ns/svc1:80", "/", "/p"}}},
		{"x-forwarded-prefix where the path is rewritten", []*networkingv1.Ingress{
			ingress("ns", "a", 0, annotate(annTarget, "/foo"), annotate(annXFPrefx, "/test/value"), rule("xfp.test", "/", prefix, "svc1", 80)),
			ingress("ns", "b", 0, annotate(annTarget, "/foo"), annotate(annXFPrefx, ""), rule("noxfp.test", "/", prefix, "svc1", 80)),
			ingress("ns", "c", 0, annotate(annXFPrefx, "/only"), rule("plain.test", "/", prefix, "svc1", 80)),
			ingress("ns", "d", 0, annotate(annTarget, "$2"), annotate(annXFPrefx, "/$1"), rule("cap.test", "/(api)(/.*)", impl, "svc1", 80))},
			[]req{{"xfp.test", "/", "ns/svc1:80", "/foo", "/test/value"}, {"noxfp.test", "/", "ns/svc1:80", "/foo", "-"},
				{"plain.test", "/", "ns/svc1:80", "/", "-"}, {"cap.test", "/api/v1", "ns/svc1:80", "/v1", "/api"}}},
		{"portico.dev/ names work too", []*networkingv1.Ingress{
			ingress("ns", "a", 0, annotate(porticoPrefix+"rewrite-target", "/$1"), rule("r.test", "/p/(.*)", impl, "svc1", 80))},
			[]req{{"r.test", "/p/q", "ns/svc1:80", "/q", "-"}}},
		{"invalid target: the path routes without a rewrite", []*networkingv1.Ingress{
			ingress("ns", "a", 0, annotate(annTarget, "/$host"), rule("r.test", "/app", prefix, "svc1", 80))},
			[]req{{"r.test", "/app/x", "ns/svc1:80", "/app/x", "-"}, {"r.test", "/application", "", "", "-"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Compile(cluster(tc.ings, "svc1", "svc2"), CompileConfig{Class: testClass})
			for _, r := range tc.reqs {
				b, up, xfp := forward(res, r.host, r.path)
				if b != r.backend || up != r.upstream || xfp != r.prefix {
					t.Errorf("%s%s: backend %q path %q X-Forwarded-Prefix %q; want %q %q %q; problems %+v",
						r.host, r.path, b, up, xfp, r.backend, r.upstream, r.prefix, res.Problems)
				}
			}
		})
	}
}

func TestCompileRewriteProblems(t *testing.T) {
	t.Parallel()
	prefix, impl := networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific
	tests := []struct {
		name   string
		ing    *networkingv1.Ingress
		reason string // "" for none
		msg    string
	}{
		{"CR LF in target", ingress("ns", "a", 0, annotate(annTarget, "/a\r\nX: y"), rule("r.test", "/", prefix, "svc1", 80)), "InvalidAnnotation", "rewrite-target"},
		{"absolute URL target", ingress("ns", "a", 0, annotate(annTarget, "http://evil.test/"), rule("r.test", "/", prefix, "svc1", 80)), "InvalidAnnotation", "rewrite-target"},
		{"nginx variable in target", ingress("ns", "a", 0, annotate(annTarget, "/$uri"), rule("r.test", "/", prefix, "svc1", 80)), "InvalidAnnotation", "capture group"},
		{"query in target", ingress("ns", "a", 0, annotate(annTarget, "/a?b=1"), rule("r.test", "/", prefix, "svc1", 80)), "InvalidAnnotation", "rewrite-target"},
		{"lone $ in target", ingress("ns", "a", 0, annotate(annTarget, "/a$"), rule("r.test", "/", prefix, "svc1", 80)), "InvalidAnnotation", "rewrite-target"},
		{"bad use-regex", ingress("ns", "a", 0, annotate(annRegex, "yes"), rule("r.test", "/", prefix, "svc1", 80)), "InvalidAnnotation", "use-regex"},
		{"header injection in x-forwarded-prefix", ingress("ns", "a", 0, annotate(annXFPrefx, "/a\r\nX: y"), rule("r.test", "/", prefix, "svc1", 80)), "InvalidAnnotation", "x-forwarded-prefix"},
		{"regex RE2 cannot compile", ingress("ns", "a", 0, annotate(annRegex, "true"), rule("r.test", "/(?=x)", impl, "svc1", 80)), "InvalidPath", "RE2"},
		{"regex chars without use-regex", ingress("ns", "a", 0, rule("r.test", "/a.+", impl, "svc1", 80)), "RegexNotSupported", "literally"},
		{"regex chars with use-regex", ingress("ns", "a", 0, annotate(annRegex, "true"), rule("r.test", "/a.+", impl, "svc1", 80)), "", ""},
		{"regex chars in an Exact path with use-regex", ingress("ns", "a", 0, annotate(annRegex, "true"), rule("r.test", "/a.+", networkingv1.PathTypeExact, "svc1", 80)), "RegexNotSupported", "literally"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Compile(cluster([]*networkingv1.Ingress{tc.ing}, "svc1"), CompileConfig{Class: testClass})
			if tc.reason == "" {
				if len(res.Problems) != 0 {
					t.Fatalf("problems %+v, want none", res.Problems)
				}
				return
			}
			if len(res.Problems) != 1 || res.Problems[0].Reason != tc.reason || !strings.Contains(res.Problems[0].Message, tc.msg) {
				t.Fatalf("problems %+v, want one %s mentioning %q", res.Problems, tc.reason, tc.msg)
			}
			if strings.ContainsAny(res.Problems[0].Message, "\r\n") {
				t.Errorf("message repeats a line break: %q", res.Problems[0].Message)
			}
		})
	}
}
