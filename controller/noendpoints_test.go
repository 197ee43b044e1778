package controller

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestCompileNoEndpoints(t *testing.T) {
	t.Parallel()
	prefix := networkingv1.PathTypePrefix
	twoPaths := func(ing *networkingv1.Ingress) {
		rule("empty.com", "/a", prefix, "empty", 80)(ing)
		rule("empty.com", "/b", prefix, "empty", 80)(ing)
	}
	tests := []struct {
		name string
		ing  *networkingv1.Ingress
		want int // NoEndpoints problems on ing
	}{
		{"service without endpoints", ingress("ns", "a", 0, rule("empty.com", "/", prefix, "empty", 80)), 1},
		{"reported once for many paths", ingress("ns", "a", 0, twoPaths), 1},
		{"default backend without endpoints", ingress("ns", "a", 0, func(ing *networkingv1.Ingress) {
			b := svcBackend("empty", 80)
			ing.Spec.DefaultBackend = &b
		}), 1},
		{"service with endpoints", ingress("ns", "a", 0, rule("full.com", "/", prefix, "svc1", 80)), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := cluster([]*networkingv1.Ingress{tc.ing}, "svc1")
			snap.Services[types.NamespacedName{Namespace: "ns", Name: "empty"}] = &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "empty"},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
			res := Compile(snap, CompileConfig{Class: testClass})
			n := 0
			for _, p := range res.Problems {
				if p.Reason == "NoEndpoints" {
					n++
					if p.Ingress != tc.ing || !strings.Contains(p.Message, "ns/empty port 80 has no ready endpoints") {
						t.Errorf("problem %+v", p)
					}
				}
			}
			if n != tc.want {
				t.Errorf("%d NoEndpoints problems, want %d: %+v", n, tc.want, res.Problems)
			}
			if len(res.Admitted) != 1 {
				t.Errorf("a route without endpoints stays admitted (it answers 503); admitted %d", len(res.Admitted))
			}
		})
	}
}
