package e2e

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

const ngx = "nginx.ingress.kubernetes.io/"

// TestNginxCanary runs ingress-nginx canary Ingresses through the real
// binary: a main Ingress routes each host to Service main (answers
// "main-0"), a canary Ingress of the same host and path names Service
// canary ("canary-0").
func TestNginxCanary(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, mb := pods(t, "main", 1)
	_, cb := pods(t, "canary", 1)
	for name, b := range map[string]*harness.Backend{"main": mb[0], "canary": cb[0]} {
		harness.Service(t, cp, ns, name, 80)
		harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, name, name+"-1", 8080, endpoints(b)...))
	}
	ingress := func(name, host, svc string, ann map[string]string) {
		ing := harness.IngressObject(ns, name, "portico", host, harness.Path("/", prefix, svc, 80))
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	canary := func(host string, ann map[string]string) {
		ann[ngx+"canary"] = "true"
		ingress(host+"-canary", host, "canary", ann)
	}
	hosts := map[string]map[string]string{
		"header":         {ngx + "canary-by-header": "CanaryByHeader"},
		"value":          {ngx + "canary-by-header": "CanaryByHeader", ngx + "canary-by-header-value": "DoCanary"},
		"pattern":        {ngx + "canary-by-header": "CanaryByHeader", ngx + "canary-by-header-pattern": "^Do[A-Z][a-z]+y$"},
		"valuecookie":    {ngx + "canary-by-header": "CanaryByHeader", ngx + "canary-by-header-value": "DoCanary", ngx + "canary-by-cookie": "CanaryByCookie"},
		"cookie":         {ngx + "canary-by-cookie": "Canary-By-Cookie"},
		"weight0":        {ngx + "canary-weight": "0"},
		"weight100":      {ngx + "canary-weight": "100"},
		"weighttotal":    {ngx + "canary-weight": "1000", ngx + "canary-weight-total": "1000"},
		"weight50":       {ngx + "canary-weight": "50"},
		"weight100of200": {ngx + "canary-weight": "100", ngx + "canary-weight-total": "200"},
		"all":            {ngx + "canary-by-header": "CanaryByHeader", ngx + "canary-by-cookie": "CanaryByCookie", ngx + "canary-weight": "100"},
	}
	// traefik e2e/canary_suite_test.go scenarios.
	for name, ann := range map[string]map[string]string{
		"t-wt-all":   {ngx + "canary-weight": "100"},
		"t-wt-none":  {ngx + "canary-weight": "0"},
		"t-wt-total": {ngx + "canary-weight": "200", ngx + "canary-weight-total": "200"},
		"t-hdr":      {ngx + "canary-by-header": "X-Canary"},
		"t-hdr-val":  {ngx + "canary-by-header": "X-Canary", ngx + "canary-by-header-value": "route-to-canary"},
		"t-hdr-pat":  {ngx + "canary-by-header": "X-Canary", ngx + "canary-by-header-pattern": "^(lab|staging)$"},
		"t-cookie":   {ngx + "canary-by-cookie": "canary_enabled"},
		"t-hdr-wt":   {ngx + "canary-by-header": "X-Canary", ngx + "canary-weight": "100"},
	} {
		hosts[name] = ann
	}
	for h, ann := range hosts {
		ingress(h, h+".canary.test", "main", nil)
		canary(h+".canary.test", ann)
	}
	canary("orphan.canary.test", map[string]string{ngx + "canary-weight": "100"})
	affinity := map[string]string{ngx + "affinity": "cookie", ngx + "session-cookie-name": "Affinity"}
	ingress("sticky", "sticky.canary.test", "main", affinity)
	canary("sticky.canary.test", map[string]string{ngx + "canary-by-header": "ForceCanary", ngx + "canary-by-header-value": "yes", ngx + "canary-weight": "1"})
	for name, behavior := range map[string]string{"t-aff-sticky": "sticky", "t-aff-legacy": "legacy", "t-aff-default": ""} {
		ingress(name, name+".canary.test", "main", map[string]string{ngx + "affinity": "cookie", ngx + "session-cookie-name": "route"})
		ann := map[string]string{ngx + "canary-weight": "50"}
		if behavior != "" {
			ann[ngx+"affinity-canary-behavior"] = behavior
		}
		canary(name+".canary.test", ann)
	}
	ingress("legacy", "legacy.canary.test", "main", affinity)
	canary("legacy.canary.test", map[string]string{ngx + "canary-by-header": "ForceCanary", ngx + "canary-by-header-value": "yes",
		ngx + "canary-weight": "50", ngx + "affinity-canary-behavior": "legacy"})

	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	get := func(host string, hdr, cookie map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/info", nil)
		req.Host = host
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		for k, v := range cookie {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Backend")
	}
	harness.Eventually(t, 10*time.Second, func() error {
		for h := range hosts {
			if st, _ := get(h+".canary.test", map[string]string{"CanaryByHeader": "never"}, nil); st != 200 {
				return fmt.Errorf("%s.test: %d", h, st)
			}
		}
		if st, _ := get("all.canary.test", nil, nil); st != 200 {
			return fmt.Errorf("all.test: %d", st)
		}
		for _, h := range []string{"sticky.canary.test", "legacy.canary.test", "t-aff-sticky.canary.test", "t-aff-legacy.canary.test", "t-aff-default.canary.test"} {
			if st, _ := get(h, nil, nil); st != 200 {
				return fmt.Errorf("%s: %d", h, st)
			}
		}
		return nil
	})

	type hv = map[string]string
	tests := []struct {
		src, host string
		header    hv
		cookie    hv
		want      string
	}{
		// ingress-nginx annotations/canary.go "when canaried by header with no value"
		{"header with no value: always", "header.canary.test", hv{"CanaryByHeader": "always"}, nil, "canary-0"},
		{"header with no value: never", "header.canary.test", hv{"CanaryByHeader": "never"}, nil, "main-0"},
		{"header with no value: anything else", "header.canary.test", hv{"CanaryByHeader": "badheadervalue"}, nil, "main-0"},
		// ingress-nginx annotations/canary.go "when canaried by header with value"
		{"header with value: match", "value.canary.test", hv{"CanaryByHeader": "DoCanary"}, nil, "canary-0"},
		{"header with value: always is not the value", "value.canary.test", hv{"CanaryByHeader": "always"}, nil, "main-0"},
		{"header with value: never", "value.canary.test", hv{"CanaryByHeader": "never"}, nil, "main-0"},
		{"header with value: other", "value.canary.test", hv{"CanaryByHeader": "otherheadervalue"}, nil, "main-0"},
		// ingress-nginx annotations/canary.go "when canaried by header with value and pattern"
		{"header pattern: match", "pattern.canary.test", hv{"CanaryByHeader": "DoCanary"}, nil, "canary-0"},
		{"header pattern: case differs", "pattern.canary.test", hv{"CanaryByHeader": "Docanary"}, nil, "main-0"},
		// ingress-nginx annotations/canary.go "when canaried by header with value and cookie"
		{"header value mismatch, cookie always", "valuecookie.canary.test", hv{"CanaryByHeader": "otherheadervalue"}, hv{"CanaryByCookie": "always"}, "canary-0"},
		// ingress-nginx annotations/canary.go "when canaried by cookie" "respects always and never values"
		{"cookie always", "cookie.canary.test", nil, hv{"Canary-By-Cookie": "always"}, "canary-0"},
		{"cookie never", "cookie.canary.test", nil, hv{"Canary-By-Cookie": "never"}, "main-0"},
		{"cookie other", "cookie.canary.test", nil, hv{"Canary-By-Cookie": "badcookievalue"}, "main-0"},
		// Precedence: header, then cookie, then weight (balancer.lua).
		{"weight 100 alone", "all.canary.test", nil, nil, "canary-0"},
		{"header never beats cookie always and weight", "all.canary.test", hv{"CanaryByHeader": "never"}, hv{"CanaryByCookie": "always"}, "main-0"},
		{"header always beats cookie never", "all.canary.test", hv{"CanaryByHeader": "always"}, hv{"CanaryByCookie": "never"}, "canary-0"},
		{"header other, cookie never beats weight", "all.canary.test", hv{"CanaryByHeader": "x"}, hv{"CanaryByCookie": "never"}, "main-0"},
		{"cookie other falls to weight 100", "all.canary.test", nil, hv{"CanaryByCookie": "x"}, "canary-0"},
	}
	for _, tt := range []struct {
		src, host string
		header    hv
		cookie    hv
		want      string
	}{
		{"TestWeightAll", "t-wt-all.canary.test", nil, nil, "canary-0"},
		{"TestWeightNone", "t-wt-none.canary.test", nil, nil, "main-0"},
		{"TestWeightTotal", "t-wt-total.canary.test", nil, nil, "canary-0"},
		{"TestHeader always", "t-hdr.canary.test", hv{"X-Canary": "always"}, nil, "canary-0"},
		{"TestHeader never", "t-hdr.canary.test", hv{"X-Canary": "never"}, nil, "main-0"},
		{"TestHeader absent", "t-hdr.canary.test", nil, nil, "main-0"},
		{"TestHeaderValue match", "t-hdr-val.canary.test", hv{"X-Canary": "route-to-canary"}, nil, "canary-0"},
		{"TestHeaderValue other", "t-hdr-val.canary.test", hv{"X-Canary": "something-else"}, nil, "main-0"},
		{"TestHeaderValue absent", "t-hdr-val.canary.test", nil, nil, "main-0"},
		{"TestHeaderPattern LabRoutesToCanary", "t-hdr-pat.canary.test", hv{"X-Canary": "lab"}, nil, "canary-0"},
		{"TestHeaderPattern StagingRoutesToCanary", "t-hdr-pat.canary.test", hv{"X-Canary": "staging"}, nil, "canary-0"},
		{"TestHeaderPattern OtherRoutesToProduction", "t-hdr-pat.canary.test", hv{"X-Canary": "other"}, nil, "main-0"},
		{"TestCookie AlwaysRoutesToCanary", "t-cookie.canary.test", hv{"Cookie": "canary_enabled=always"}, nil, "canary-0"},
		{"TestCookie NeverRoutesToProduction", "t-cookie.canary.test", hv{"Cookie": "canary_enabled=never"}, nil, "main-0"},
		{"TestCookie AbsentRoutesToProduction", "t-cookie.canary.test", nil, nil, "main-0"},
		{"TestCookie MultiCookieRoutesToCanary", "t-cookie.canary.test", hv{"Cookie": "other_cookie=foo; canary_enabled=always"}, nil, "canary-0"},
		{"TestHeaderWeight AlwaysRoutesToCanary", "t-hdr-wt.canary.test", hv{"X-Canary": "always"}, nil, "canary-0"},
		{"TestHeaderWeight NeverRoutesToProduction", "t-hdr-wt.canary.test", hv{"X-Canary": "never"}, nil, "main-0"},
		{"TestHeaderWeight AbsentFallsBackToWeight", "t-hdr-wt.canary.test", nil, nil, "canary-0"},
	} {
		// traefik e2e/canary_suite_test.go (the test named in src)
		if st, got := get(tt.host, tt.header, tt.cookie); st != 200 || got != tt.want {
			t.Errorf("traefik %s: %s header %v = %d from %q, want %q", tt.src, tt.host, tt.header, st, got, tt.want)
		}
	}
	for _, tt := range tests {
		if st, got := get(tt.host, tt.header, tt.cookie); st != 200 || got != tt.want {
			t.Errorf("%s: %s header %v cookie %v = %d from %q, want %q", tt.src, tt.host, tt.header, tt.cookie, st, got, tt.want)
		}
	}

	count := func(host string, n int) (canaries int) {
		for range n {
			if _, got := get(host, nil, nil); got == "canary-0" {
				canaries++
			}
		}
		return canaries
	}
	// ingress-nginx annotations/canary.go "should route requests only to mainline if canary weight is 0"
	if n := count("weight0.canary.test", 50); n != 0 {
		t.Errorf("weight 0: %d of 50 to the canary", n)
	}
	// ingress-nginx annotations/canary.go "should route requests only to canary if canary weight is 100"
	if n := count("weight100.canary.test", 50); n != 50 {
		t.Errorf("weight 100: %d of 50 to the canary", n)
	}
	// ingress-nginx annotations/canary.go "should route requests only to canary if canary weight is equal to canary weight total"
	if n := count("weighttotal.canary.test", 50); n != 50 {
		t.Errorf("weight 1000 of 1000: %d of 50 to the canary", n)
	}
	// ingress-nginx annotations/canary.go "should route requests split between mainline and canary if canary weight is 50"
	// and "... if canary weight is 100 and weight total is 200": binomial(400, 1/2),
	// sigma 10, within 4.5 sigma.
	for _, h := range []string{"weight50.canary.test", "weight100of200.canary.test"} {
		n := count(h, 400)
		t.Logf("%s: %d of 400 to the canary (%.1f sigma)", h, n, math.Abs(float64(n)-200)/10)
		if n < 155 || n > 245 {
			t.Errorf("%s: %d of 400 to the canary, want 200±45", h, n)
		}
	}

	// ingress-nginx annotations/canary.go "canary affinity behavior"
	// "always routes traffic to canary if first request was affinitized to canary (default behavior)"
	// and "routes traffic to either mainline or canary backend (legacy behavior)".
	for _, h := range []string{"sticky.canary.test", "legacy.canary.test"} {
		req, _ := http.NewRequest("GET", base+"/info", nil)
		req.Host = h
		req.Header.Set("ForceCanary", "yes")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var ck string
		for _, k := range resp.Cookies() {
			if k.Name == "Affinity" {
				ck = k.Value
			}
		}
		if resp.Header.Get("X-Backend") != "canary-0" || ck == "" {
			t.Fatalf("%s forced to the canary: %q with cookie %q (Set-Cookie %q)", h, resp.Header.Get("X-Backend"), ck, resp.Header.Values("Set-Cookie"))
		}
		seen := map[string]int{}
		for range 50 {
			_, got := get(h, nil, map[string]string{"Affinity": ck})
			seen[got]++
		}
		if h == "sticky.canary.test" && seen["canary-0"] != 50 {
			t.Errorf("sticky: with the canary's cookie, 50 requests went %v, want all to canary-0", seen)
		}
		if h == "legacy.canary.test" && (seen["canary-0"] == 0 || seen["main-0"] == 0) {
			t.Errorf("legacy: with the canary's cookie, 50 requests went %v, want both backends", seen)
		}
	}

	// traefik e2e/affinitycanary_suite_test.go TestAffinityCanaryStickyReturnsOK,
	// TestAffinityCanaryStickyPreservesRouting, TestAffinityCanaryLegacyReturnsOK,
	// TestAffinityCanaryDefaultReturnsOK.
	for _, h := range []string{"t-aff-sticky.canary.test", "t-aff-legacy.canary.test", "t-aff-default.canary.test"} {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host = h
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var route string
		for _, k := range resp.Cookies() {
			if k.Name == "route" {
				route = k.Value
			}
		}
		if resp.StatusCode != 200 {
			t.Errorf("traefik %s: %d, want 200", h, resp.StatusCode)
		}
		if h != "t-aff-legacy.canary.test" && route == "" {
			t.Errorf("traefik %s: no route cookie", h)
		}
		if h == "t-aff-sticky.canary.test" {
			if _, again := get(h, nil, map[string]string{"route": route}); again != resp.Header.Get("X-Backend") {
				t.Errorf("traefik TestAffinityCanaryStickyPreservesRouting: %q then %q", resp.Header.Get("X-Backend"), again)
			}
		}
	}

	// ingress-nginx annotations/canary.go "should return 404 status for requests to the canary if no matching ingress is found"
	if st, _ := get("orphan.canary.test", nil, nil); st != http.StatusNotFound {
		t.Errorf("canary without main: %d, want 404", st)
	}
	harness.Eventually(t, 10*time.Second, func() error {
		evs, err := eventsFor(ns, "orphan.canary.test-canary")
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Reason == "CanaryWithoutMain" && e.Type == "Warning" {
				return nil
			}
		}
		return fmt.Errorf("no CanaryWithoutMain Warning on the orphan canary: %v", evs)
	})
	// Canary Ingresses do not conflict with their main Ingress.
	evs, _ := eventsFor(ns, "header.canary.test-canary")
	for _, e := range evs {
		if e.Reason == "RuleConflict" {
			t.Errorf("canary got %s: %s", e.Reason, e.Message)
		}
	}
}
