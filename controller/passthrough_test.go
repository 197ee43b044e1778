package controller

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// TestSSLPassthrough: ssl-passthrough hosts get the backend of their "/"
// path in the table, the oldest Ingress winning; without the flag, or
// without a "/" path, a problem says why; plain HTTP routes stay.
func TestSSLPassthrough(t *testing.T) {
	t.Parallel()
	prefix, exact := networkingv1.PathTypePrefix, networkingv1.PathTypeExact
	pass := annotate(nginxPrefix+"ssl-passthrough", "true")
	ings := []*networkingv1.Ingress{
		ingress("ns", "first", 0, pass, rule("pass.test", "/", prefix, "svc1", 80)),
		ingress("ns", "second", 1, pass, rule("pass.test", "/", prefix, "svc2", 80)),
		ingress("ns", "wild", 2, pass, rule("*.wild.test", "/", prefix, "svc2", 80)),
		ingress("ns", "noroot", 3, pass, rule("noroot.test", "/", exact, "svc1", 80)),
		ingress("ns", "plain", 4, rule("plain.test", "/", prefix, "svc1", 80)),
	}
	res := Compile(cluster(ings, "svc1", "svc2"), CompileConfig{Class: testClass, SSLPassthrough: true})
	for sni, want := range map[string]string{"pass.test": "ns/svc1:80", "a.wild.test": "ns/svc2:80", "wild.test": "", "noroot.test": "", "plain.test": ""} {
		b := res.Table.Passthrough(sni)
		if got := ""; b != nil {
			got = b.ID
			if got != want {
				t.Errorf("%s: passed through to %s, want %q", sni, got, want)
			}
		} else if want != "" {
			t.Errorf("%s: not passed through, want %s", sni, want)
		}
	}
	if r := res.Table.Match("pass.test", "/"); r == nil || r.Backend.ID != "ns/svc1:80" {
		t.Errorf("plain HTTP of pass.test: %+v", r)
	}
	reasons := map[string]string{}
	for _, p := range res.Problems {
		reasons[p.Ingress.Name] += p.Reason + ": " + p.Message + "; "
	}
	if !strings.Contains(reasons["second"], "RuleConflict") || !strings.Contains(reasons["noroot"], `no path "/"`) || reasons["first"] != "" {
		t.Errorf("problems: %v", reasons)
	}
	off := Compile(cluster(ings[:1], "svc1"), CompileConfig{Class: testClass})
	if off.Table.Passthrough("pass.test") != nil || len(off.Problems) != 1 || !strings.Contains(off.Problems[0].Message, "--enable-ssl-passthrough") {
		t.Errorf("without the flag: %v, problems %+v", off.Table.Passthrough("pass.test"), off.Problems)
	}
}
