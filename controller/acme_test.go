package controller

import (
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestCompileACMEHosts(t *testing.T) {
	t.Parallel()
	prefix := networkingv1.PathTypePrefix
	acme := annotate(annACME, "true")
	tests := []struct {
		name        string
		ings        []*networkingv1.Ingress
		want        []string
		wantProblem string
	}{
		{"annotated rule hosts", []*networkingv1.Ingress{ingress("ns", "a", 0, acme,
			rule("b.example.com", "/", prefix, "svc1", 80), rule("A.example.com", "/", prefix, "svc1", 80))},
			[]string{"a.example.com", "b.example.com"}, ""},
		{"not annotated", []*networkingv1.Ingress{ingress("ns", "a", 0, rule("a.example.com", "/", prefix, "svc1", 80))},
			[]string{}, ""},
		{"annotation false", []*networkingv1.Ingress{ingress("ns", "a", 0, annotate(annACME, "false"), rule("a.example.com", "/", prefix, "svc1", 80))},
			[]string{}, ""},
		{"other class", []*networkingv1.Ingress{ingress("ns", "a", 0, acme, class("other"), rule("a.example.com", "/", prefix, "svc1", 80))},
			[]string{}, ""},
		{"wildcard refused", []*networkingv1.Ingress{ingress("ns", "a", 0, acme, rule("*.example.com", "/", prefix, "svc1", 80))},
			[]string{}, "ACMEWildcardHost"},
		{"rule without host", []*networkingv1.Ingress{ingress("ns", "a", 0, acme, rule("", "/", prefix, "svc1", 80))},
			[]string{}, "ACMEHostMissing"},
		{"deduplicated across Ingresses", []*networkingv1.Ingress{
			ingress("ns", "a", 0, acme, rule("a.example.com", "/x", prefix, "svc1", 80)),
			ingress("ns", "b", 1, acme, rule("a.example.com", "/y", prefix, "svc1", 80))},
			[]string{"a.example.com"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := Compile(cluster(tt.ings, "svc1"), CompileConfig{Class: testClass})
			if !slices.Equal(res.ACMEHosts, tt.want) {
				t.Errorf("ACMEHosts = %q, want %q", res.ACMEHosts, tt.want)
			}
			var reasons []string
			for _, p := range res.Problems {
				reasons = append(reasons, p.Reason)
			}
			if tt.wantProblem != "" && !slices.Contains(reasons, tt.wantProblem) {
				t.Errorf("problems %q, want one %s", reasons, tt.wantProblem)
			}
		})
	}
}

// An ACME host is a TLS host: plain HTTP redirects to HTTPS like a host
// listed in spec.tls, so the certificate ACME obtains is actually used.
func TestCompileACMEHostRedirects(t *testing.T) {
	t.Parallel()
	prefix := networkingv1.PathTypePrefix
	res := Compile(cluster([]*networkingv1.Ingress{
		ingress("ns", "a", 0, annotate(annACME, "true"), rule("a.example.com", "/", prefix, "svc1", 80)),
		ingress("ns", "b", 0, rule("b.example.com", "/", prefix, "svc1", 80)),
	}, "svc1"), CompileConfig{Class: testClass})
	for _, r := range res.Table.Routes() {
		if want := r.Host == "a.example.com"; r.Options.SSLRedirect != want {
			t.Errorf("%s: SSLRedirect = %v, want %v", r.Host, r.Options.SSLRedirect, want)
		}
	}
}
