package controller

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var testClass = ClassConfig{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico"}

type ingressOpt func(*networkingv1.Ingress)

func ingress(ns, name string, age int, opts ...ingressOpt) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name),
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Minute))},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("portico")},
	}
	for _, o := range opts {
		o(ing)
	}
	return ing
}

func rule(host, path string, typ networkingv1.PathType, svc string, port any) ingressOpt {
	return func(ing *networkingv1.Ingress) {
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{
			Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: path, PathType: &typ, Backend: svcBackend(svc, port)}},
			}},
		})
	}
}

func svcBackend(svc string, port any) networkingv1.IngressBackend {
	b := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc}}
	switch p := port.(type) {
	case int:
		b.Service.Port.Number = int32(p)
	case string:
		b.Service.Port.Name = p
	}
	return b
}

func class(name string) ingressOpt {
	return func(ing *networkingv1.Ingress) {
		if name == "" {
			ing.Spec.IngressClassName = nil
		} else {
			ing.Spec.IngressClassName = ptr.To(name)
		}
	}
}

func annotate(k, v string) ingressOpt {
	return func(ing *networkingv1.Ingress) {
		if ing.Annotations == nil {
			ing.Annotations = map[string]string{}
		}
		ing.Annotations[k] = v
	}
}

// cluster builds a snapshot with Services "ns/<name>" exposing port 80 named
// "http" (target 8080) and one ready endpoint 10.0.1.N.
func cluster(ings []*networkingv1.Ingress, services ...string) *Snapshot {
	s := &Snapshot{
		Ingresses: ings,
		Classes: []*networkingv1.IngressClass{
			{ObjectMeta: metav1.ObjectMeta{Name: "portico"}, Spec: networkingv1.IngressClassSpec{Controller: testClass.ControllerName}},
			{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: networkingv1.IngressClassSpec{Controller: "example.com/other"}},
		},
		Services: map[types.NamespacedName]*corev1.Service{},
		Slices:   map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
	}
	for i, name := range services {
		k := types.NamespacedName{Namespace: "ns", Name: name}
		s.Services[k] = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
		s.Slices[k] = []*discoveryv1.EndpointSlice{{
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.1." + string(rune('1'+i))}}},
		}}
	}
	return s
}

func TestCompileRouting(t *testing.T) {
	t.Parallel()
	prefix, exact := networkingv1.PathTypePrefix, networkingv1.PathTypeExact
	tests := []struct {
		name       string
		ings       []*networkingv1.Ingress
		host, path string
		want       string // backend ID, "" for no route
	}{
		{"service port by number", []*networkingv1.Ingress{ingress("ns", "a", 0, rule("foo.com", "/", prefix, "svc1", 80))},
			"foo.com", "/x", "ns/svc1:80"},
		{"service port by name", []*networkingv1.Ingress{ingress("ns", "a", 0, rule("foo.com", "/", prefix, "svc1", "http"))},
			"foo.com", "/x", "ns/svc1:http"},
		{"other class ignored", []*networkingv1.Ingress{ingress("ns", "a", 0, class("other"), rule("foo.com", "/", prefix, "svc1", 80))},
			"foo.com", "/", ""},
		{"unknown class ignored", []*networkingv1.Ingress{ingress("ns", "a", 0, class("nope"), rule("foo.com", "/", prefix, "svc1", 80))},
			"foo.com", "/", ""},
		{"no class ignored without default class", []*networkingv1.Ingress{ingress("ns", "a", 0, class(""), rule("foo.com", "/", prefix, "svc1", 80))},
			"foo.com", "/", ""},
		{"legacy annotation honoured", []*networkingv1.Ingress{ingress("ns", "a", 0, class(""), annotate(legacyClassAnnotation, "portico"), rule("foo.com", "/", prefix, "svc1", 80))},
			"foo.com", "/", "ns/svc1:80"},
		{"merge rules of two ingresses on one host", []*networkingv1.Ingress{
			ingress("ns", "a", 0, rule("foo.com", "/a", prefix, "svc1", 80)),
			ingress("ns", "b", 1, rule("foo.com", "/b", prefix, "svc2", 80))},
			"foo.com", "/b/c", "ns/svc2:80"},
		{"oldest wins a conflict", []*networkingv1.Ingress{
			ingress("ns", "new", 5, rule("foo.com", "/a", prefix, "svc2", 80)),
			ingress("ns", "old", 1, rule("foo.com", "/a", prefix, "svc1", 80))},
			"foo.com", "/a", "ns/svc1:80"},
		{"same age: namespace/name order", []*networkingv1.Ingress{
			ingress("ns", "b", 0, rule("foo.com", "/a", prefix, "svc2", 80)),
			ingress("ns", "a", 0, rule("foo.com", "/a", prefix, "svc1", 80))},
			"foo.com", "/a", "ns/svc1:80"},
		{"exact type", []*networkingv1.Ingress{ingress("ns", "a", 0, rule("foo.com", "/a", exact, "svc1", 80))},
			"foo.com", "/a/", ""},
		{"missing service skipped, rest works", []*networkingv1.Ingress{ingress("ns", "a", 0,
			rule("foo.com", "/gone", prefix, "missing", 80), rule("foo.com", "/ok", prefix, "svc1", 80))},
			"foo.com", "/ok", "ns/svc1:80"},
		{"missing port skipped", []*networkingv1.Ingress{ingress("ns", "a", 0, rule("foo.com", "/", prefix, "svc1", 81))},
			"foo.com", "/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Compile(cluster(tc.ings, "svc1", "svc2"), CompileConfig{Class: testClass})
			r := res.Table.Match(tc.host, tc.path)
			got := ""
			if r != nil {
				got = r.Backend.ID
			}
			if got != tc.want {
				t.Errorf("Match(%q, %q) = %q, want %q; problems: %+v", tc.host, tc.path, got, tc.want, res.Problems)
			}
		})
	}
}

func TestCompileProblems(t *testing.T) {
	t.Parallel()
	prefix := networkingv1.PathTypePrefix
	resource := func(ing *networkingv1.Ingress) {
		typ := prefix
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: "foo.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/res", PathType: &typ,
				Backend: networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}}}}}}})
	}
	tests := []struct {
		name    string
		ing     *networkingv1.Ingress
		reason  string
		message string
	}{
		{"missing service", ingress("ns", "a", 0, rule("foo.com", "/", prefix, "missing", 80)), "ServiceNotFound", "Service ns/missing not found"},
		{"missing port", ingress("ns", "a", 0, rule("foo.com", "/", prefix, "svc1", "grpc")), "ServicePortNotFound", "has no port grpc"},
		{"relative path", ingress("ns", "a", 0, rule("foo.com", "foo", prefix, "svc1", 80)), "InvalidPath", "must start with /"},
		{"dot segments", ingress("ns", "a", 0, rule("foo.com", "/a/../b", prefix, "svc1", 80)), "InvalidPath", "dot segments"},
		{"regex chars", ingress("ns", "a", 0, rule("foo.com", "/a.*", networkingv1.PathTypeExact, "svc1", 80)), "RegexNotSupported", "literally"},
		{"resource backend", ingress("ns", "a", 0, resource), "UnsupportedBackend", "resource backend Bucket b"},
		{"bad timeout", ingress("ns", "a", 0, annotate(annReadTimeout, "banana"), rule("foo.com", "/", prefix, "svc1", 80)), "InvalidAnnotation", "proxy-read-timeout"},
		{"negative timeout", ingress("ns", "a", 0, annotate(annConnectTimeout, "-5s"), rule("foo.com", "/", prefix, "svc1", 80)), "InvalidAnnotation", "above 0"},
		{"long host", ingress("ns", "a", 0, rule(strings.Repeat("a", 10000), "/", prefix, "svc1", 80)), "InvalidHost", "longer than 253"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good := ingress("ns", "good", 0, rule("good.com", "/", prefix, "svc1", 80))
			res := Compile(cluster([]*networkingv1.Ingress{tc.ing, good}, "svc1"), CompileConfig{Class: testClass})
			found := false
			for _, p := range res.Problems {
				if p.Ingress == tc.ing && p.Reason == tc.reason && strings.Contains(p.Message, tc.message) {
					found = true
				}
				if p.Ingress == good {
					t.Errorf("problem reported on the good Ingress: %+v", p)
				}
			}
			if !found {
				t.Errorf("want problem %s containing %q, got %+v", tc.reason, tc.message, res.Problems)
			}
			if r := res.Table.Match("good.com", "/"); r == nil || r.Backend.ID != "ns/svc1:80" {
				t.Errorf("the good Ingress stopped routing")
			}
		})
	}
}

func TestCompileConflictEventNamesWinner(t *testing.T) {
	t.Parallel()
	prefix := networkingv1.PathTypePrefix
	old := ingress("ns", "old", 0, rule("foo.com", "/", prefix, "svc1", 80))
	young := ingress("ns", "young", 1, rule("foo.com", "/", prefix, "svc2", 80))
	res := Compile(cluster([]*networkingv1.Ingress{young, old}, "svc1", "svc2"), CompileConfig{Class: testClass})
	if len(res.Problems) != 1 || res.Problems[0].Ingress != young || res.Problems[0].Reason != "RuleConflict" ||
		!strings.Contains(res.Problems[0].Message, "ns/old") {
		t.Fatalf("problems = %+v", res.Problems)
	}
	if len(res.Admitted) != 1 || res.Admitted[0] != old || len(res.Rejected) != 1 || res.Rejected[0] != young {
		t.Errorf("admitted=%v rejected=%v", res.Admitted, res.Rejected)
	}
}

func TestCompileDefaultBackend(t *testing.T) {
	t.Parallel()
	withDefault := func(svc string) ingressOpt {
		return func(ing *networkingv1.Ingress) { b := svcBackend(svc, 80); ing.Spec.DefaultBackend = &b }
	}
	flag := &ServiceRef{Namespace: "ns", Name: "svc3", Port: "http"}
	tests := []struct {
		name string
		ings []*networkingv1.Ingress
		flag *ServiceRef
		want string
	}{
		{"none: 404", nil, nil, ""},
		{"flag", nil, flag, "ns/svc3:http"},
		{"ingress beats flag", []*networkingv1.Ingress{ingress("ns", "a", 0, withDefault("svc1"))}, flag, "ns/svc1:80"},
		{"oldest ingress wins", []*networkingv1.Ingress{
			ingress("ns", "b", 2, withDefault("svc2")), ingress("ns", "a", 1, withDefault("svc1"))}, nil, "ns/svc1:80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Compile(cluster(tc.ings, "svc1", "svc2", "svc3"), CompileConfig{Class: testClass, DefaultBackend: tc.flag})
			got := ""
			if r := res.Table.Match("any.host", "/whatever"); r != nil {
				got = r.Backend.ID
			}
			if got != tc.want {
				t.Errorf("default = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseAnnotations(t *testing.T) {
	t.Parallel()
	o, errs := parseAnnotations(map[string]string{
		annLoadBalance: "least-request", annNextUpstreamTries: "3", annConnectTimeout: "2s", annReadTimeout: "30",
		annBodySize: "8m", annBackendProtocol: "GRPC", annUpstreamHost: "internal.svc:8080", annSSLRedirect: "false",
		annHSTS: "max-age=300; includeSubDomains", "other.io/x": "ignored",
	})
	if len(errs) != 0 {
		t.Fatalf("errs: %v", errs)
	}
	r := o.route
	if r.Balance.String() != "least-request" || r.NextUpstreamTries != 3 || r.ConnectTimeout != 2*time.Second ||
		r.ReadTimeout != 30*time.Second || r.MaxBodyBytes != 8<<20 || r.Protocol.String() != "grpc" ||
		r.UpstreamHost != "internal.svc:8080" || r.SSLRedirect || r.HSTS != "max-age=300; includeSubDomains" {
		t.Errorf("parsed %+v", r)
	}
	for _, bad := range []map[string]string{
		{annLoadBalance: "random"}, {annNextUpstreamTries: "0"}, {annSendTimeout: "-5s"}, {annBodySize: "lots"},
		{annBackendProtocol: "ftp"}, {annUpstreamHost: "evil\r\nX-Injected: 1"}, {annHSTS: "forever"}, {annACME: "yes please"},
		{"portico.dev/typo": "1"},
	} {
		if _, errs := parseAnnotations(bad); len(errs) != 1 {
			t.Errorf("%v: want one error, got %v", bad, errs)
		}
	}
}
