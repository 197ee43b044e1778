package controller

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func TestParseAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []Address
		wantErr bool
	}{
		{"10.0.0.1", []Address{{IP: "10.0.0.1"}}, false},
		{"lb.example.com, 10.0.0.2,10.0.0.1", []Address{{Hostname: "lb.example.com"}, {IP: "10.0.0.1"}, {IP: "10.0.0.2"}}, false},
		{"LB.Example.com", []Address{{Hostname: "lb.example.com"}}, false},
		{"2001:db8::1,2001:db8::1", []Address{{IP: "2001:db8::1"}}, false},
		{"", nil, true},
		{" , ", nil, true},
		{"not a name", nil, true},
		{"*.example.com", nil, true},
		{"fe80::1%eth0", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAddresses(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseAddresses(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if !tc.wantErr && !sameAddresses(got, tc.want) {
				t.Errorf("ParseAddresses(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestServiceAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		svc  *corev1.Service
		want []Address
	}{
		{"no service", nil, nil},
		{"load balancer first", &corev1.Service{
			Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.5", ExternalIPs: []string{"192.0.2.1"}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
				{IP: "203.0.113.7"}, {Hostname: "lb.example.com"}}}},
		}, []Address{{IP: "203.0.113.7"}, {Hostname: "lb.example.com"}}},
		{"else external IPs", &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.5", ExternalIPs: []string{"192.0.2.1"}}},
			[]Address{{IP: "192.0.2.1"}}},
		{"else cluster IP", &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.5"}}, []Address{{IP: "10.0.0.5"}}},
		{"headless has none", &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := serviceAddresses(tc.svc); !sameAddresses(got, tc.want) {
				t.Errorf("serviceAddresses = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNodeAddresses(t *testing.T) {
	t.Parallel()
	node := func(as ...corev1.NodeAddress) *corev1.Node {
		return &corev1.Node{Status: corev1.NodeStatus{Addresses: as}}
	}
	ext := func(ip string) corev1.NodeAddress {
		return corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: ip}
	}
	in := func(ip string) corev1.NodeAddress {
		return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
	}
	host := corev1.NodeAddress{Type: corev1.NodeHostName, Address: "node-1"}
	tests := []struct {
		name string
		node *corev1.Node
		want []Address
	}{
		{"external wins", node(in("10.1.0.1"), ext("198.51.100.1"), host), []Address{{IP: "198.51.100.1"}}},
		{"else internal", node(host, in("10.1.0.1")), []Address{{IP: "10.1.0.1"}}},
		{"none", node(host), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodeAddresses(tc.node); !sameAddresses(got, tc.want) {
				t.Errorf("nodeAddresses = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClassOwnership(t *testing.T) {
	t.Parallel()
	classes := func(defaultOurs bool) []*networkingv1.IngressClass {
		ours := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "portico"}, Spec: networkingv1.IngressClassSpec{Controller: testClass.ControllerName}}
		if defaultOurs {
			ours.Annotations = map[string]string{defaultClassAnnotation: "true"}
		}
		return []*networkingv1.IngressClass{ours,
			{ObjectMeta: metav1.ObjectMeta{Name: "renamed"}, Spec: networkingv1.IngressClassSpec{Controller: testClass.ControllerName}},
			{ObjectMeta: metav1.ObjectMeta{Name: "other", Annotations: map[string]string{defaultClassAnnotation: "true"}},
				Spec: networkingv1.IngressClassSpec{Controller: "example.com/other"}}}
	}
	tests := []struct {
		name        string
		cfg         ClassConfig
		defaultOurs bool
		ing         *networkingv1.Ingress
		want        bool
	}{
		{"our class by name", testClass, false, ingress("ns", "a", 0), true},
		{"another class name with our controller", testClass, false, ingress("ns", "a", 0, class("renamed")), true},
		{"another controller's class", testClass, false, ingress("ns", "a", 0, class("other")), false},
		{"unknown class", testClass, false, ingress("ns", "a", 0, class("nope")), false},
		{"no class, no default", testClass, false, ingress("ns", "a", 0, class("")), false},
		{"no class, our class is default", testClass, true, ingress("ns", "a", 0, class("")), true},
		{"no class, another controller's default does not make it ours", testClass, false, ingress("ns", "a", 0, class("")), false},
		{"no class, --watch-ingress-without-class", ClassConfig{ControllerName: testClass.ControllerName, IngressClass: "portico", WatchWithoutClass: true},
			false, ingress("ns", "a", 0, class("")), true},
		{"legacy annotation ours", testClass, false, ingress("ns", "a", 0, class(""), annotate(legacyClassAnnotation, "portico")), true},
		{"legacy annotation other wins over default", testClass, true, ingress("ns", "a", 0, class(""), annotate(legacyClassAnnotation, "nginx")), false},
		{"legacy annotation other wins over without-class", ClassConfig{IngressClass: "portico", WatchWithoutClass: true},
			false, ingress("ns", "a", 0, class(""), annotate(legacyClassAnnotation, "nginx")), false},
		{"empty legacy annotation is no class", testClass, true, ingress("ns", "a", 0, class(""), annotate(legacyClassAnnotation, "")), true},
		{"name only: our name", ClassConfig{IngressClass: "portico", NameOnly: true}, false, ingress("ns", "a", 0), true},
		{"name only: other name", ClassConfig{IngressClass: "portico", NameOnly: true}, false, ingress("ns", "a", 0, class("renamed")), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cls := classes(tc.defaultOurs)
			if tc.cfg.NameOnly {
				cls = nil // cannot be read
			}
			if got := newClassifier(tc.cfg, cls).owns(tc.ing); got != tc.want {
				t.Errorf("owns = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStatusWriterSync checks the write decisions against a fake clientset:
// publish on served Ingresses, no write when equal, withdraw only Portico's
// own addresses, never touch another controller's status.
func TestStatusWriterSync(t *testing.T) {
	t.Parallel()
	ours := []Address{{IP: "192.0.2.10"}}
	theirs := []networkingv1.IngressLoadBalancerIngress{{IP: "198.51.100.99"}}
	mk := func(name string, status []networkingv1.IngressLoadBalancerIngress) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name)},
			Spec:   networkingv1.IngressSpec{IngressClassName: ptr.To("x")},
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: status}}}
	}
	objs := []*networkingv1.Ingress{
		mk("served-empty", nil),
		mk("served-current", ours),
		mk("served-stale", []Address{{IP: "192.0.2.99"}}),
		mk("left-ours", ours),
		mk("left-theirs", theirs),
		mk("left-empty", nil),
	}
	client := fake.NewClientset()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, o := range objs {
		if _, err := client.NetworkingV1().Ingresses("ns").Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_ = idx.Add(o)
	}
	w := NewStatusWriter(StatusConfig{Client: client, Source: StaticAddresses(ours)})
	w.useLister(networkinglisters.NewIngressLister(idx))
	w.update(Result{Admitted: objs[:3]})
	client.ClearActions()
	if !w.sync(context.Background()) {
		t.Fatal("sync reported a failed write")
	}
	var updated []string
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			updated = append(updated, a.(k8stesting.UpdateAction).GetObject().(*networkingv1.Ingress).Name)
		}
	}
	want := map[string]bool{"served-empty": true, "served-stale": true, "left-ours": true}
	if len(updated) != len(want) {
		t.Errorf("status updates on %v, want exactly %v", updated, want)
	}
	for _, n := range updated {
		if !want[n] {
			t.Errorf("unexpected status update of %s", n)
		}
	}
	get := func(name string) []networkingv1.IngressLoadBalancerIngress {
		ing, err := client.NetworkingV1().Ingresses("ns").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ing.Status.LoadBalancer.Ingress
	}
	for _, n := range []string{"served-empty", "served-current", "served-stale"} {
		if got := get(n); !sameAddresses(got, ours) {
			t.Errorf("%s status = %v, want %v", n, got, ours)
		}
	}
	if got := get("left-ours"); len(got) != 0 {
		t.Errorf("left-ours status = %v, want withdrawn", got)
	}
	if got := get("left-theirs"); !sameAddresses(got, theirs) {
		t.Errorf("left-theirs status = %v, want untouched %v", got, theirs)
	}
}

// FuzzParseAddresses: never panics; what it accepts is normalized, each
// entry is exactly an IP or a host name, and printing and parsing again
// gives the same list.
func FuzzParseAddresses(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "a.example.com,10.0.0.1", " , ", "2001:db8::1", "fe80::1%eth0", "*.x", "A.B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAddresses(s)
		if err != nil {
			return
		}
		var parts []string
		for _, a := range got {
			if (a.IP == "") == (a.Hostname == "") {
				t.Fatalf("ParseAddresses(%q): entry %+v is not exactly one of ip/hostname", s, a)
			}
			parts = append(parts, a.IP+a.Hostname)
		}
		again, err := ParseAddresses(strings.Join(parts, ","))
		if err != nil || !sameAddresses(got, again) || len(again) != len(got) {
			t.Fatalf("ParseAddresses(%q) = %v; reparsed %v, %v", s, got, again, err)
		}
	})
}
