package controller

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// A newer Ingress (any namespace/tenant) with ssl-passthrough must not take
// the TLS of a host an older Ingress already serves (terminated), nor may a
// "*." passthrough host take an exact terminated host.
func TestPassthroughDoesNotHijackOlderHost(t *testing.T) {
	prefix := networkingv1.PathTypePrefix
	pass := annotate(nginxPrefix+"ssl-passthrough", "true")
	ings := []*networkingv1.Ingress{
		ingress("ns", "victim", 0, rule("victim.test", "/", prefix, "svc1", 80)),
		ingress("ns", "api", 1, rule("api.wild.test", "/", prefix, "svc1", 80)),
		ingress("ns", "attacker", 2, pass, rule("victim.test", "/", prefix, "svc2", 80)),
		ingress("ns", "wild", 3, pass, rule("*.wild.test", "/", prefix, "svc2", 80)),
	}
	res := Compile(cluster(ings, "svc1", "svc2"), CompileConfig{Class: testClass, SSLPassthrough: true})
	if r := res.Table.Match("victim.test", "/"); r == nil || r.Backend.ID != "ns/svc1:80" {
		t.Fatalf("HTTP route: %+v", r)
	}
	if b := res.Table.Passthrough("victim.test"); b != nil && b.ID != "ns/svc1:80" {
		t.Errorf("victim.test TLS spliced to %s: the newer Ingress's backend, while HTTP goes to ns/svc1:80", b.ID)
	}
	if b := res.Table.Passthrough("api.wild.test"); b != nil {
		t.Errorf("api.wild.test (exact, terminated) TLS spliced to %s by the *.wild.test passthrough", b.ID)
	}
}
