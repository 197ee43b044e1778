package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// TestNginxAffinity runs ingress-nginx cookie session affinity through the
// real binary against a Service with three endpoints.
func TestNginxAffinity(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, bs := pods(t, "web", 3)
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(bs...)...))
	sites := map[string]map[string]string{
		"sticky":   {ngx + "session-cookie-name": "SERVERID"},
		"path":     {ngx + "session-cookie-name": "SERVERID", ngx + "session-cookie-path": "/something"},
		"expires":  {ngx + "session-cookie-name": "ExpiresCookie", ngx + "session-cookie-expires": "172800", ngx + "session-cookie-max-age": "259200"},
		"domain":   {ngx + "session-cookie-name": "DomainCookie", ngx + "session-cookie-domain": "foo.bar"},
		"nodomain": {ngx + "session-cookie-name": "NoDomainCookie"},
		"secure":   {ngx + "session-cookie-secure": "true"},
		"insecure": {ngx + "session-cookie-secure": "false"},
		"default":  {},
		"samesite": {ngx + "session-cookie-samesite": "None", ngx + "session-cookie-conditional-samesite-none": "true"},
	}
	for h, ann := range sites {
		ann[ngx+"affinity"] = "cookie"
		ing := harness.IngressObject(ns, h, "portico", h+".affinity.test", harness.Path("/", prefix, "web", 80))
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	get := func(host, cookie string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host = host
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Backend"), resp.Header.Get("Set-Cookie")
	}
	harness.Eventually(t, 10*time.Second, func() error {
		for h := range sites {
			if st, _, _ := get(h+".affinity.test", ""); st != 200 {
				return fmt.Errorf("%s.test: %d", h, st)
			}
		}
		return nil
	})
	setCookie := func(host string) string {
		_, _, sc := get(host, "")
		return sc
	}
	wantIn := func(src, host, sub string, want bool) {
		t.Helper()
		if sc := setCookie(host); strings.Contains(sc, sub) != want {
			t.Errorf("%s: Set-Cookie %q: contains %q = %v, want %v", src, sc, sub, !want, want)
		}
	}
	// session-cookie-conditional-samesite-none: SameSite=None is left out for
	// browsers that reject it (ingress-nginx same_site.lua), kept for others.
	for ua, want := range map[string]bool{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/59.0.3071.115 Safari/537.36": false,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 12_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.0 Mobile": false,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":     true,
	} {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host, req.Header["User-Agent"] = "samesite.affinity.test", []string{ua}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if sc := resp.Header.Get("Set-Cookie"); strings.Contains(sc, "SameSite=None") != want || !strings.Contains(sc, "INGRESSCOOKIE=") {
			t.Errorf("User-Agent %q: Set-Cookie %q, want SameSite=None %v", ua, sc, want)
		}
	}
	// ingress-nginx annotations/affinity.go "should set sticky cookie SERVERID"
	wantIn("should set sticky cookie SERVERID", "sticky.affinity.test", "SERVERID=", true)
	// ingress-nginx annotations/affinity.go "should set the path to /something on the generated cookie"
	wantIn("should set the path to /something", "path.affinity.test", "Path=/something", true)
	// ingress-nginx annotations/affinity.go "should set cookie with expires"
	expected := time.Now().UTC().Add(172800 * time.Second)
	sc := setCookie("expires.affinity.test")
	if !strings.Contains(sc, "Max-Age=259200") {
		t.Errorf("should set cookie with expires: %q has no Max-Age=259200", sc)
	}
	_, exp, _ := strings.Cut(sc, "Expires=")
	exp, _, _ = strings.Cut(exp, ";")
	if got, err := http.ParseTime(exp); err != nil || got.Sub(expected).Abs() > time.Minute {
		t.Errorf("should set cookie with expires: %q, want Expires about %s", sc, expected.Format(http.TimeFormat))
	}
	// ingress-nginx annotations/affinity.go "should set cookie with domain"
	wantIn("should set cookie with domain", "domain.affinity.test", "Domain=foo.bar", true)
	// ingress-nginx annotations/affinity.go "should not set cookie without domain annotation"
	wantIn("should not set cookie without domain annotation", "nodomain.affinity.test", "; Domain", false)
	// ingress-nginx annotations/affinity.go "should set secure in cookie with provided true annotation on http"
	wantIn("should set secure with true on http", "secure.affinity.test", "; Secure", true)
	// ingress-nginx annotations/affinity.go "should not set secure in cookie with provided false annotation on http"
	wantIn("should not set secure with false on http", "insecure.affinity.test", "; Secure", false)
	// Defaults: INGRESSCOOKIE, the location's path, HttpOnly (sticky.lua).
	if sc := setCookie("default.affinity.test"); !strings.HasPrefix(sc, "INGRESSCOOKIE=") || !strings.Contains(sc, "Path=/") ||
		!strings.Contains(sc, "HttpOnly") || strings.Contains(sc, "10.") {
		t.Errorf("default cookie %q", sc)
	}

	// A client with the cookie stays on its endpoint for 50 requests.
	_, first, sc := get("sticky.affinity.test", "")
	cookie, _, _ := strings.Cut(sc, ";")
	for i := range 50 {
		st, got, again := get("sticky.affinity.test", cookie)
		if st != 200 || got != first || again != "" {
			t.Fatalf("request %d with %s: %d from %q (Set-Cookie %q), want %q and no new cookie", i, cookie, st, got, again, first)
		}
	}
	// Without a cookie, requests spread over the three endpoints.
	seen := map[string]bool{}
	for range 30 {
		_, got, _ := get("sticky.affinity.test", "")
		seen[got] = true
	}
	if len(seen) != 3 {
		t.Errorf("without a cookie: endpoints %v, want all 3", seen)
	}
	// Its endpoint leaves: the client moves to another and gets a new cookie.
	var rest []*harness.Backend
	for _, b := range bs {
		if b.Name != first {
			rest = append(rest, b)
		}
	}
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(rest...)...))
	var moved, newCookie string
	harness.Eventually(t, 10*time.Second, func() error {
		_, got, sc := get("sticky.affinity.test", cookie)
		if got == first || got == "" {
			return fmt.Errorf("still on %q", got)
		}
		moved, newCookie = got, sc
		return nil
	})
	if newCookie == "" || strings.HasPrefix(newCookie, cookie+";") {
		t.Errorf("moved to %s with Set-Cookie %q, want a new cookie", moved, newCookie)
	}
	next, _, _ := strings.Cut(newCookie, ";")
	for i := range 20 {
		if _, got, _ := get("sticky.affinity.test", next); got != moved {
			t.Fatalf("request %d with the new cookie: %q, want %q", i, got, moved)
		}
	}
	t.Logf("client stayed on %s for 50 requests, moved to %s when it left", first, moved)
}

// TestNginxUpstreamHashBy runs upstream-hash-by against three endpoints.
func TestNginxUpstreamHashBy(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, bs := pods(t, "web", 3)
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(bs...)...))
	for h, key := range map[string]string{"uri": "$request_uri", "user": "$http_x_user", "bad": "$request_body"} {
		ing := harness.IngressObject(ns, h, "portico", h+".hashby.test", harness.Path("/", prefix, "web", 80))
		ing.Annotations = map[string]string{ngx + "upstream-hash-by": key}
		harness.CreateIngress(t, cp, ing)
	}
	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	get := func(host, path, user string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Host = host
		if user != "" {
			req.Header.Set("X-User", user)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Header.Get("X-Backend")
	}
	harness.Eventually(t, 10*time.Second, wantStatus(c, base+"/", "uri.hashby.test", 200))
	harness.Eventually(t, 10*time.Second, wantStatus(c, base+"/", "user.hashby.test", 200))

	// ingress-nginx annotations/upstreamhashby.go "should connect to the same pod"
	seen := map[string]bool{}
	for range 100 {
		seen[get("uri.hashby.test", "/", "")] = true
	}
	if len(seen) != 1 {
		t.Errorf("$request_uri: 100 requests to / went to %v, want one endpoint", seen)
	}
	// Different keys spread; each keeps its endpoint.
	users := map[string]string{}
	spread := map[string]bool{}
	for i := range 30 {
		u := fmt.Sprintf("user-%d", i)
		users[u] = get("user.hashby.test", "/", u)
		spread[users[u]] = true
	}
	if len(spread) != 3 {
		t.Errorf("$http_x_user: 30 users went to %v, want all 3 endpoints", spread)
	}
	for u, want := range users {
		if got := get("user.hashby.test", "/x", u); got != want {
			t.Errorf("%s: %q then %q", u, want, got)
		}
	}
	// An endpoint leaves: only its keys move.
	gone := bs[0].Name
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(bs[1:]...)...))
	harness.Eventually(t, 10*time.Second, func() error {
		for u, was := range users {
			if was == gone && get("user.hashby.test", "/", u) == gone {
				return fmt.Errorf("%s still on %s", u, gone)
			}
		}
		return nil
	})
	for u, was := range users {
		if got := get("user.hashby.test", "/", u); was != gone && got != was {
			t.Errorf("%s moved from %s to %s though its endpoint stayed", u, was, got)
		}
	}
	// An unknown variable: InvalidAnnotation, and the route still works.
	harness.Eventually(t, 10*time.Second, wantStatus(c, base+"/", "bad.hashby.test", 200))
	harness.Eventually(t, 10*time.Second, func() error {
		evs, err := eventsFor(ns, "bad")
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Reason == "InvalidAnnotation" && strings.Contains(e.Message, "upstream-hash-by") {
				return nil
			}
		}
		return fmt.Errorf("no InvalidAnnotation event: %v", evs)
	})
}

// TestNginxUpstreamHashBySubset: upstream-hash-by-subset against six
// endpoints.
func TestNginxUpstreamHashBySubset(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, bs := pods(t, "subset", 6)
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(bs...)...))
	for h, ann := range map[string]map[string]string{
		"one":    {ngx + "upstream-hash-by": "$request_uri"},
		"subset": {ngx + "upstream-hash-by": "$request_uri", ngx + "upstream-hash-by-subset": "true", ngx + "upstream-hash-by-subset-size": "3"},
	} {
		ing := harness.IngressObject(ns, h, "portico", "upstream-hash-by."+h+".test", harness.Path("/", prefix, "web", 80))
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	podsSeen := func(host string) map[string]bool {
		harness.Eventually(t, 10*time.Second, wantStatus(c, base+"/", host, 200))
		seen := map[string]bool{}
		for range 100 {
			req, _ := http.NewRequest("GET", base+"/", nil)
			req.Host = host
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			seen[resp.Header.Get("X-Backend")] = true
		}
		return seen
	}
	// ingress-nginx annotations/upstreamhashby.go "should connect to the same pod"
	if seen := podsSeen("upstream-hash-by.one.test"); len(seen) != 1 {
		t.Errorf("upstream-hash-by: 100 requests went to %v, want 1 pod", seen)
	}
	// ingress-nginx annotations/upstreamhashby.go "should connect to the same subset of pods"
	if seen := podsSeen("upstream-hash-by.subset.test"); len(seen) != 3 {
		t.Errorf("upstream-hash-by-subset-size 3: 100 requests went to %v, want 3 pods", seen)
	}
}
