package controller

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// benchSnapshot is a cluster of n Ingresses, each with its own host, 10
// paths (half Prefix, half Exact) and its own Service with 3 ready
// endpoints; every tenth Ingress adds a wildcard host. Ingress i is i
// seconds old, so the sort has real work to do.
func benchSnapshot(n int) *Snapshot {
	s := &Snapshot{
		Classes: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "portico"},
			Spec: networkingv1.IngressClassSpec{Controller: testClass.ControllerName}}},
		Services: make(map[types.NamespacedName]*corev1.Service, n),
		Slices:   make(map[types.NamespacedName][]*discoveryv1.EndpointSlice, n),
	}
	for i := range n {
		ns, svc := fmt.Sprintf("ns-%d", i%100), fmt.Sprintf("svc-%d", i)
		k := types.NamespacedName{Namespace: ns, Name: svc}
		s.Services[k] = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
		eps := make([]discoveryv1.Endpoint, 3)
		for j := range eps {
			eps[j] = discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256+j)}}
		}
		s.Slices[k] = []*discoveryv1.EndpointSlice{{AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}, Endpoints: eps}}

		var paths []networkingv1.HTTPIngressPath
		for p := range 10 {
			typ := networkingv1.PathTypePrefix
			if p%2 == 1 {
				typ = networkingv1.PathTypeExact
			}
			paths = append(paths, networkingv1.HTTPIngressPath{Path: fmt.Sprintf("/path-%d", p), PathType: ptr.To(typ),
				Backend: svcBackend(svc, 80)})
		}
		ing := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("ing-%d", i),
				CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(n-i) * time.Second))},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("portico"), Rules: []networkingv1.IngressRule{{
				Host:             fmt.Sprintf("host-%d.example.com", i),
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}},
			}}},
		}
		if i%10 == 0 {
			ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: fmt.Sprintf("*.wild-%d.example.com", i),
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths[:1]}}})
		}
		s.Ingresses = append(s.Ingresses, ing)
	}
	return s
}

// BenchmarkCompile measures a full build: class filter, sort, translation
// of every rule, endpoint selection and the router table. Target (issue 3):
// 10k Ingresses in at most 100 ms.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		snap := benchSnapshot(n)
		b.Run(fmt.Sprintf("ingresses=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res := Compile(snap, CompileConfig{Class: testClass})
				if res.Table.Len() != n*10+n/10 || len(res.Problems) != 0 {
					b.Fatalf("routes = %d, problems = %d", res.Table.Len(), len(res.Problems))
				}
			}
		})
	}
}
