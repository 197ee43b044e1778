package controller

import (
	"strconv"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestCanaryParse(t *testing.T) {
	t.Parallel()
	n := nginxPrefix
	tests := []struct {
		name    string
		ann     map[string]string
		canary  bool   // a canary config results
		check   string // "header=..,value=..,cookie=..,weight=W/T" of the result
		invalid string // annotation named by an InvalidAnnotation problem
	}{
		{"not a canary", map[string]string{n + "canary": "false"}, false, "", ""},
		{"weight", map[string]string{n + "canary": "true", n + "canary-weight": "30"}, true, "header=,value=,pattern=,cookie=,weight=30/100", ""},
		{"total above 100", map[string]string{n + "canary": "true", n + "canary-weight": "3", n + "canary-weight-total": "1000"}, true, "header=,value=,pattern=,cookie=,weight=3/1000", ""},
		{"total below 100 is 100 (balancer.lua)", map[string]string{n + "canary": "true", n + "canary-weight": "3", n + "canary-weight-total": "10"}, true, "header=,value=,pattern=,cookie=,weight=3/100", ""},
		{"header canonical", map[string]string{n + "canary": "true", n + "canary-by-header": "x-canary", n + "canary-by-header-value": "yes"}, true, "header=X-Canary,value=yes,pattern=,cookie=,weight=0/100", ""},
		{"pattern and cookie", map[string]string{n + "canary": "true", n + "canary-by-header": "CanaryByHeader", n + "canary-by-header-pattern": "^(DoCanary|Do)$", n + "canary-by-cookie": "ck"}, true, "header=Canarybyheader,value=,pattern=^(DoCanary|Do)$,cookie=ck,weight=0/100", ""},
		{"bad weight", map[string]string{n + "canary": "true", n + "canary-weight": "x"}, true, "header=,value=,pattern=,cookie=,weight=0/100", n + "canary-weight"},
		{"negative weight", map[string]string{n + "canary": "true", n + "canary-weight": "-1"}, true, "header=,value=,pattern=,cookie=,weight=0/100", n + "canary-weight"},
		{"bad total", map[string]string{n + "canary": "true", n + "canary-weight-total": "0"}, true, "header=,value=,pattern=,cookie=,weight=0/100", n + "canary-weight-total"},
		{"bad header chars", map[string]string{n + "canary": "true", n + "canary-by-header": "a b"}, true, "header=,value=,pattern=,cookie=,weight=0/100", n + "canary-by-header"},
		{"header with slash", map[string]string{n + "canary": "true", n + "canary-by-header": "a/b"}, true, "header=,value=,pattern=,cookie=,weight=0/100", n + "canary-by-header"},
		{"bad value chars", map[string]string{n + "canary": "true", n + "canary-by-header": "h", n + "canary-by-header-value": "a;b"}, true, "header=H,value=,pattern=,cookie=,weight=0/100", n + "canary-by-header-value"},
		{"bad pattern", map[string]string{n + "canary": "true", n + "canary-by-header": "h", n + "canary-by-header-pattern": "(("}, true, "header=H,value=,pattern=,cookie=,weight=0/100", n + "canary-by-header-pattern"},
		{"bad canary bool", map[string]string{n + "canary": "yes"}, false, "", n + "canary"},
		// ingress-nginx canary/main.go: "configured but not enabled".
		{"rules without canary", map[string]string{n + "canary-weight": "10"}, false, "", n + "canary-weight"},
		{"portico prefix", map[string]string{porticoPrefix + "canary": "true", porticoPrefix + "canary-by-cookie": "c"}, true, "header=,value=,pattern=,cookie=c,weight=0/100", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, probs := parseAnnotations(tt.ann)
			if (o.canary != nil) != tt.canary {
				t.Fatalf("canary = %v, want %v", o.canary != nil, tt.canary)
			}
			if o.canary != nil {
				c := o.canary.rules
				pat := ""
				if c.HeaderPattern != nil {
					pat = c.HeaderPattern.String()
				}
				got := "header=" + c.Header + ",value=" + c.HeaderValue + ",pattern=" + pat + ",cookie=" + c.Cookie +
					",weight=" + itoa(c.Weight) + "/" + itoa(c.Total)
				if got != tt.check {
					t.Errorf("got %s, want %s", got, tt.check)
				}
			}
			var bad []string
			for _, p := range probs {
				bad = append(bad, p.reason+": "+p.msg)
			}
			if tt.invalid == "" && len(probs) > 0 {
				t.Errorf("problems %v", bad)
			}
			if tt.invalid != "" && (len(probs) != 1 || probs[0].reason != "InvalidAnnotation" || !strings.Contains(probs[0].msg, tt.invalid+":")) {
				t.Errorf("problems %v, want one InvalidAnnotation for %s", bad, tt.invalid)
			}
		})
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func TestCanaryMerge(t *testing.T) {
	t.Parallel()
	prefix, exact := networkingv1.PathTypePrefix, networkingv1.PathTypeExact
	canary := func(ns, name string, age int, opts ...ingressOpt) *networkingv1.Ingress {
		return ingress(ns, name, age, append([]ingressOpt{annotate(nginxPrefix+"canary", "true"), annotate(nginxPrefix+"canary-weight", "50")}, opts...)...)
	}
	main := ingress("ns", "main", 0, rule("foo.com", "/", prefix, "svc1", 80), rule("foo.com", "/api", exact, "svc1", 80))
	c1 := canary("ns", "c1", 1, rule("FOO.com", "/", prefix, "svc2", 80))
	c2 := canary("ns", "c2", 2, rule("foo.com", "/", prefix, "svc3", 80), rule("foo.com", "/api", prefix, "svc3", 80))
	orphan := canary("ns", "orphan", 3, rule("bar.com", "/", prefix, "svc2", 80))
	res := Compile(cluster([]*networkingv1.Ingress{orphan, c2, c1, main}, "svc1", "svc2", "svc3"), CompileConfig{Class: testClass})

	reasons := map[string]string{}
	for _, p := range res.Problems {
		reasons[p.Ingress.Name] += p.Reason + " "
		if p.Reason == "RuleConflict" {
			t.Errorf("canary Ingresses must not conflict: %s", p.Message)
		}
	}
	if reasons["c2"] != "CanaryConflict " || reasons["orphan"] != "CanaryWithoutMain " || reasons["c1"] != "" || len(res.Problems) != 2 {
		t.Errorf("problems = %+v", res.Problems)
	}
	if !strings.Contains(res.Problems[0].Message+res.Problems[1].Message, "ns/c1") {
		t.Errorf("the conflict names the older canary: %+v", res.Problems)
	}
	root := res.Table.Match("foo.com", "/x")
	if root == nil || root.Backend.ID != "ns/svc1:80" || root.Options.Canary == nil || root.Options.Canary.Backend.ID != "ns/svc2:80" ||
		root.Options.Canary.Weight != 50 {
		t.Fatalf("foo.com/x: %+v", root)
	}
	// c2's /api reaches the main Ingress's Exact /api (ingress-nginx
	// merges by host and path).
	api := res.Table.Match("foo.com", "/api")
	if api == nil || api.Backend.ID != "ns/svc1:80" || api.Options.Canary == nil || api.Options.Canary.Backend.ID != "ns/svc3:80" {
		t.Fatalf("foo.com/api: %+v", api)
	}
	if res.Table.Match("bar.com", "/") != nil {
		t.Error("a canary without main routes nothing of its own")
	}
	admitted := map[string]bool{}
	for _, ing := range res.Admitted {
		admitted[ing.Name] = true
	}
	if !admitted["main"] || !admitted["c1"] || !admitted["c2"] || admitted["orphan"] {
		t.Errorf("admitted = %v", admitted)
	}
	// The main Ingress's own Options stay untouched for a route without canary.
	plain := Compile(cluster([]*networkingv1.Ingress{main}, "svc1"), CompileConfig{Class: testClass})
	if r := plain.Table.Match("foo.com", "/"); r == nil || r.Options.Canary != nil {
		t.Errorf("no canary: %+v", r)
	}
}
