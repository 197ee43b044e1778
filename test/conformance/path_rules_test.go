package conformance

import (
	"net/http"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// TestPathRules ports features/path_rules.feature: Exact, Prefix, both on
// one path, and trailing slashes in rules and requests. Every scenario is a
// row: the request, then the backend that must serve it and the path it
// must receive, or 404.
func TestPathRules(t *testing.T) {
	e := newEnv(t, 8080, nil, "foo-exact", "foo-prefix", "aaa-slash-bbb-prefix", "aaa-prefix",
		"aaa-slash-bbb-slash-prefix", "foo-slash-exact")
	p := func(path string, typ networkingv1.PathType, svc string) networkingv1.HTTPIngressPath {
		return harness.Path(path, typ, svc, 8080)
	}
	e.ingress(t, "path-rules", networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
		rule("exact-path-rules", p("/foo", exact, "foo-exact")),
		rule("prefix-path-rules",
			p("/foo", prefix, "foo-prefix"),
			p("/aaa/bbb", prefix, "aaa-slash-bbb-prefix"),
			p("/aaa", prefix, "aaa-prefix")),
		rule("mixed-path-rules",
			p("/foo", prefix, "foo-prefix"),
			p("/foo", exact, "foo-exact")),
		rule("trailing-slash-path-rules",
			p("/aaa/bbb/", prefix, "aaa-slash-bbb-slash-prefix"),
			p("/foo/", exact, "foo-slash-exact")),
	}})
	// Skipped step: "The Ingress status shows the IP address or FQDN where
	// it is exposed" (status.loadBalancer is written by the status issue).
	waitRouted(t, e, "trailing-slash-path-rules", "/foo/", "foo-slash-exact")

	c := e.p.Client()
	for _, tc := range []struct {
		name, host, path string
		want             string // service; "" for 404
	}{
		{"An Ingress with exact path rules should send traffic to the matching backend service (exact /foo matches request /foo)",
			"exact-path-rules", "/foo", "foo-exact"},
		{"An Ingress with exact path rules should not match requests with trailing slash (exact /foo does not match request /foo/)",
			"exact-path-rules", "/foo/", ""},
		{"An Ingress with exact path rules should be case sensitive (exact /foo does not match request /FOO)",
			"exact-path-rules", "/FOO", ""},
		{"An Ingress with exact path rules should not match any other label (exact /foo does not match request /bar)",
			"exact-path-rules", "/bar", ""},
		{"An Ingress with prefix path rules should send traffic to the matching backend service (prefix /foo matches request /foo)",
			"prefix-path-rules", "/foo", "foo-prefix"},
		{"An Ingress with prefix path rules should ignore the request trailing slash and send traffic to the matching backend service (prefix /foo matches request /foo/)",
			"prefix-path-rules", "/foo/", "foo-prefix"},
		{"An Ingress with prefix path rules should be case sensitive (prefix /foo does not match request /FOO)",
			"prefix-path-rules", "/FOO", ""},
		{"An Ingress with prefix path rules should match multiple labels, match the longest path, and send traffic to the matching backend service (prefix /aaa/bbb matches request /aaa/bbb)",
			"prefix-path-rules", "/aaa/bbb", "aaa-slash-bbb-prefix"},
		{"An Ingress with prefix path rules should match multiple labels, match the longest path, and subpaths and send traffic to the matching backend service (prefix /aaa/bbb matches request /aaa/bbb/ccc)",
			"prefix-path-rules", "/aaa/bbb/ccc", "aaa-slash-bbb-prefix"},
		{"An Ingress with prefix path rules should and send traffic to the matching backend service (prefix /aaa matches request /aaa/ccc)",
			"prefix-path-rules", "/aaa/ccc", "aaa-prefix"},
		{"An Ingress with prefix path rules should match each labels string prefix (prefix /aaa does not match request /aaaccc)",
			"prefix-path-rules", "/aaaccc", ""},
		{"An Ingress with mixed path rules should send traffic to the matching backend service where Exact is preferred (exact /foo matches request /foo)",
			"mixed-path-rules", "/foo", "foo-exact"},
		{"An Ingress with a trailing slashes in a prefix path rule should ignore the trailing slash and send traffic to the matching backend service (prefix /aaa/bbb/ matches request /aaa/bbb)",
			"trailing-slash-path-rules", "/aaa/bbb", "aaa-slash-bbb-slash-prefix"},
		{"An Ingress with a trailing slashes in a prefix path rule should ignore the trailing slash and send traffic to the matching backend service (prefix /aaa/bbb/ matches request /aaa/bbb/)",
			"trailing-slash-path-rules", "/aaa/bbb/", "aaa-slash-bbb-slash-prefix"},
		{"An Ingress with a trailing slashes in an exact path rule should not match requests without a trailing slash (exact /foo/ does not match request /foo)",
			"trailing-slash-path-rules", "/foo", ""},
		// Not a scenario of the suite but the other half of the last
		// one: the Exact /foo/ rule does serve /foo/ (also the readiness probe above).
		{"An Ingress with a trailing slash in an exact path rule matches requests with it (exact /foo/ matches request /foo/)",
			"trailing-slash-path-rules", "/foo/", "foo-slash-exact"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := send(c, "GET", e.url(tc.path), tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if r.status != http.StatusNotFound || r.backend != "" {
					t.Errorf("GET http://%s%s = %d from %q, want 404 from Portico", tc.host, tc.path, r.status, r.backend)
				}
				return
			}
			if r.status != http.StatusOK || r.backend != tc.want {
				t.Fatalf("GET http://%s%s = %d from %q, want 200 from %s", tc.host, tc.path, r.status, r.backend, tc.want)
			}
			if r.echo.Path != tc.path {
				t.Errorf("backend received path %q, want %q", r.echo.Path, tc.path)
			}
		})
	}
}
