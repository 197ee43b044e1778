package controller

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestServiceUpstream: the route's one endpoint is the Service's cluster IP
// and Service port; a headless Service keeps its endpoints (e2e:
// TestNginxServiceUpstream).
func TestServiceUpstream(t *testing.T) {
	t.Parallel()
	prefix := networkingv1.PathTypePrefix
	snap := cluster([]*networkingv1.Ingress{
		ingress("ns", "su", 0, annotate(nginxPrefix+"service-upstream", "true"), rule("a.com", "/", prefix, "svc1", "http"),
			rule("a.com", "/headless", prefix, "headless", 80)),
		ingress("ns", "off", 1, annotate(nginxPrefix+"service-upstream", "false"), rule("b.com", "/", prefix, "svc1", 80)),
		ingress("ns", "bad", 2, annotate(nginxPrefix+"service-upstream", "yes"), rule("c.com", "/", prefix, "svc1", 80)),
	}, "svc1", "headless")
	snap.Services[types.NamespacedName{Namespace: "ns", Name: "svc1"}].Spec.ClusterIP = "10.96.0.10"
	snap.Services[types.NamespacedName{Namespace: "ns", Name: "headless"}].Spec.ClusterIP = corev1.ClusterIPNone
	res := Compile(snap, CompileConfig{Class: testClass})
	for _, tc := range []struct {
		host, path string
		eps        []string
	}{
		{"a.com", "/", []string{"10.96.0.10:80"}}, // the Service port, not the target port 8080
		{"a.com", "/headless", []string{"10.0.1.2:8080"}},
		{"b.com", "/", []string{"10.0.1.1:8080"}},
		{"c.com", "/", []string{"10.0.1.1:8080"}},
	} {
		r := res.Table.Match(tc.host, tc.path)
		if r == nil || !slices.Equal(r.Backend.Endpoints, tc.eps) {
			t.Errorf("%s%s: %+v, want endpoints %v", tc.host, tc.path, r, tc.eps)
		}
	}
	if r := res.Table.Match("a.com", "/"); r.Backend.ID == res.Table.Match("b.com", "/").Backend.ID {
		t.Error("a cluster-IP backend must not share its ID (balancer state) with the endpoints one")
	}
	reasons := map[string]string{}
	for _, p := range res.Problems {
		reasons[p.Ingress.Name] += p.Reason + " "
	}
	if reasons["su"] != "ServiceUpstreamUnavailable " || reasons["bad"] != "InvalidAnnotation " || reasons["off"] != "" {
		t.Errorf("problems %v", reasons)
	}
}
