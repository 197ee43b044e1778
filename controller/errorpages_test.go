package controller

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestErrorPagesParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ann     map[string]string
		codes   []int
		backend string
		noInt   bool
		bad     bool
	}{
		{map[string]string{"custom-http-errors": "404,503"}, []int{404, 503}, "", false, false},
		{map[string]string{"custom-http-errors": "404, 503,404"}, []int{404, 503}, "", false, false},
		{map[string]string{"custom-http-errors": "404,200"}, nil, "", false, true},
		{map[string]string{"custom-http-errors": "4044"}, nil, "", false, true},
		{map[string]string{"custom-http-errors": "abc"}, nil, "", false, true},
		{map[string]string{"default-backend": "errors"}, nil, "errors", false, false},
		{map[string]string{"default-backend": "ns/errors"}, nil, "", false, true},
		{map[string]string{"custom-http-errors": "404", "disable-proxy-intercept-errors": "true"}, []int{404}, "", true, false},
		{map[string]string{"custom-http-errors": "404", "disable-proxy-intercept-errors": "maybe"}, []int{404}, "", false, true},
	} {
		ann := map[string]string{}
		for k, v := range tt.ann {
			ann[nginxPrefix+k] = v
		}
		o, probs := parseAnnotations(ann)
		var e errorPageOptions
		if o.errorPages != nil {
			e = *o.errorPages
		}
		if !slices.Equal(e.codes, tt.codes) || e.backend != tt.backend || e.noIntercept != tt.noInt || (len(probs) > 0) != tt.bad {
			t.Errorf("%v: %+v, problems %+v", tt.ann, e, probs)
		}
	}
}

func TestErrorPagesCompile(t *testing.T) {
	t.Parallel()
	prefix := networkingv1.PathTypePrefix
	snap := cluster([]*networkingv1.Ingress{
		ingress("ns", "db", 0, annotate(nginxPrefix+"default-backend", "errors"), annotate(nginxPrefix+"custom-http-errors", "404"),
			rule("a.com", "/", prefix, "svc1", 80), rule("a.com", "/gone", prefix, "missing", 80)),
		ingress("ns", "global", 1, annotate(nginxPrefix+"custom-http-errors", "503"), rule("b.com", "/", prefix, "svc1", 80)),
		ingress("ns", "nodb", 2, annotate(nginxPrefix+"default-backend", "nope"), rule("c.com", "/", prefix, "svc1", 80), rule("c.com", "/gone", prefix, "missing", 80)),
	}, "svc1", "errors", "fallback")
	// ingress-nginx takes the default-backend Service's first port.
	snap.Services[types.NamespacedName{Namespace: "ns", Name: "errors"}].Spec.Ports = []corev1.ServicePort{{Name: "web", Port: 8080}, {Name: "http", Port: 80}}
	res := Compile(snap, CompileConfig{Class: testClass, DefaultBackend: &ServiceRef{Namespace: "ns", Name: "fallback", Port: "80"}})
	a := res.Table.Match("a.com", "/")
	if a == nil || a.Options.ErrorPages == nil || a.Options.ErrorPages.Backend.ID != "ns/errors:8080" || !a.Options.ErrorPages.NoEndpoints ||
		!a.Options.ErrorPages.Intercept || !slices.Equal(a.Options.ErrorPages.Codes, []int{404}) {
		t.Fatalf("a.com: %+v", a)
	}
	// A path whose Service is missing is kept for the default backend.
	if g := res.Table.Match("a.com", "/gone"); g == nil || g.Backend.ID != "ns/missing:80" || len(g.Backend.Endpoints) != 0 {
		t.Errorf("a.com/gone: %+v", g)
	}
	b := res.Table.Match("b.com", "/")
	if b == nil || b.Options.ErrorPages == nil || b.Options.ErrorPages.Backend.ID != "ns/fallback:80" || b.Options.ErrorPages.NoEndpoints {
		t.Errorf("b.com: custom-http-errors go to --default-backend-service: %+v", b.Options.ErrorPages)
	}
	if c := res.Table.Match("c.com", "/"); c == nil || c.Options.ErrorPages != nil {
		t.Errorf("c.com: an unresolved default-backend sets nothing: %+v", c)
	}
	if g := res.Table.Match("c.com", "/gone"); g == nil || g.Path != "/" {
		t.Error("c.com/gone: without a default backend a missing Service's path is ignored")
	}
	reasons := map[string][]string{}
	for _, p := range res.Problems {
		reasons[p.Ingress.Name] = append(reasons[p.Ingress.Name], p.Reason)
	}
	if !slices.Contains(reasons["nodb"], "ServiceNotFound") || !slices.Contains(reasons["db"], "ServiceNotFound") {
		t.Errorf("problems: %v", reasons)
	}
}
