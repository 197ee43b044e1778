package harness

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// ControllerName is the IngressClass controller Portico claims by default.
const ControllerName = "portico.dev/ingress-controller"

var nsCounter atomic.Int64

// Namespace creates a fresh namespace for one test. Without
// Options.Controllers no namespace ever finishes deleting, and with them
// deleting takes seconds, so each test gets its own and leaves it.
func Namespace(t testing.TB, cp *ControlPlane) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e6, nsCounter.Add(1))
	_, err := cp.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return name
}

// EnsureIngressClass creates an IngressClass for Portico's controller name
// if it does not exist.
func EnsureIngressClass(t testing.TB, cp *ControlPlane, name string, isDefault bool) {
	t.Helper()
	ic := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       networkingv1.IngressClassSpec{Controller: ControllerName},
	}
	if isDefault {
		ic.Annotations = map[string]string{"ingressclass.kubernetes.io/is-default-class": "true"}
	}
	_, err := cp.Client.NetworkingV1().IngressClasses().Create(context.Background(), ic, metav1.CreateOptions{})
	if err != nil && !isAlreadyExists(err) {
		t.Fatalf("create IngressClass %s: %v", name, err)
	}
}

// Service creates a ClusterIP Service with one port "http" (port -> 8080).
func Service(t testing.TB, cp *ControlPlane, ns, name string, port int32) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "http", Port: port, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP,
		}}},
	}
	out, err := cp.Client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Service %s/%s: %v", ns, name, err)
	}
	return out
}

// Endpoint is one address of an EndpointSlice and its conditions.
type Endpoint struct {
	Addr                        string
	NotReady, Terminating, Gone bool // Gone: not serving either
}

// EndpointSliceObject builds a slice for service with the port named "http".
func EndpointSliceObject(ns, service, name string, port int32, eps ...Endpoint) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{e.Addr},
			Conditions: discoveryv1.EndpointConditions{
				Ready:       ptr.To(!e.NotReady && !e.Terminating && !e.Gone),
				Serving:     ptr.To(!e.NotReady && !e.Gone),
				Terminating: ptr.To(e.Terminating),
			},
		})
	}
	return s
}

// ApplyEndpointSlice creates or replaces a slice.
func ApplyEndpointSlice(t testing.TB, cp *ControlPlane, s *discoveryv1.EndpointSlice) {
	t.Helper()
	ctx := context.Background()
	c := cp.Client.DiscoveryV1().EndpointSlices(s.Namespace)
	cur, err := c.Get(ctx, s.Name, metav1.GetOptions{})
	if err == nil {
		s.ResourceVersion = cur.ResourceVersion
		_, err = c.Update(ctx, s, metav1.UpdateOptions{})
	} else {
		_, err = c.Create(ctx, s, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("apply EndpointSlice %s/%s: %v", s.Namespace, s.Name, err)
	}
}

// IngressObject builds an Ingress of class with one rule per path on host.
func IngressObject(ns, name, class, host string, paths ...networkingv1.HTTPIngressPath) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if class != "" {
		ing.Spec.IngressClassName = ptr.To(class)
	}
	if len(paths) > 0 {
		ing.Spec.Rules = []networkingv1.IngressRule{{Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}}
	}
	return ing
}

// Path is a path rule to service:port (a number, or a name when port is a string).
func Path(path string, typ networkingv1.PathType, service string, port any) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: path, PathType: ptr.To(typ), Backend: ServiceBackend(service, port)}
}

// ServiceBackend is an IngressBackend for service:port.
func ServiceBackend(service string, port any) networkingv1.IngressBackend {
	b := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: service}}
	switch p := port.(type) {
	case int:
		b.Service.Port.Number = int32(p)
	case int32:
		b.Service.Port.Number = p
	case string:
		if n, err := strconv.Atoi(p); err == nil {
			b.Service.Port.Number = int32(n)
		} else {
			b.Service.Port.Name = p
		}
	}
	return b
}

// CreateIngress creates ing.
func CreateIngress(t testing.TB, cp *ControlPlane, ing *networkingv1.Ingress) *networkingv1.Ingress {
	t.Helper()
	out, err := cp.Client.NetworkingV1().Ingresses(ing.Namespace).Create(context.Background(), ing, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Ingress %s/%s: %v", ing.Namespace, ing.Name, err)
	}
	return out
}

// UpdateIngress gets the Ingress, applies mutate and updates it, retrying on conflict.
func UpdateIngress(t testing.TB, cp *ControlPlane, ns, name string, mutate func(*networkingv1.Ingress)) {
	t.Helper()
	ctx := context.Background()
	c := cp.Client.NetworkingV1().Ingresses(ns)
	for range 10 {
		ing, err := c.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get Ingress %s/%s: %v", ns, name, err)
		}
		mutate(ing)
		if _, err = c.Update(ctx, ing, metav1.UpdateOptions{}); err == nil {
			return
		}
	}
	t.Fatalf("update Ingress %s/%s: kept conflicting", ns, name)
}

// Eventually retries f every 20ms until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < timeout {
		if err = f(); err == nil {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("after %s: %v", timeout, err)
	return 0
}

func isAlreadyExists(err error) bool {
	type statusErr interface{ Status() metav1.Status }
	se, ok := err.(statusErr)
	return ok && se.Status().Reason == metav1.StatusReasonAlreadyExists
}
