package proxy

import (
	"strings"
	"testing"

	"portico.dev/portico/router"
)

// TestAffinityChangeOnFailure: a cookie naming an endpoint that refuses
// connections is replaced on the retry only with change-on-failure; without
// it the next request, the endpoint in back-off, gets the new cookie.
func TestAffinityChangeOnFailure(t *testing.T) {
	t.Parallel()
	dead := refusedAddr(t)
	_, live := backend(t, "live", nil)
	cookie := "S=" + router.AffinityKey("ns/svc:80", dead) + "|" + router.AffinityBackendKey("ns/svc:80")
	for _, change := range []bool{true, false} {
		f := newFixture(t, &router.Options{NextUpstreamTries: 2, Affinity: &router.Affinity{Cookie: "S", ChangeOnFailure: change}}, Config{}, dead, live)
		resp, _ := f.do(t, "GET", "/", nil, "Cookie", cookie)
		sc := resp.Header.Values("Set-Cookie")
		if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "live" {
			t.Fatalf("change=%v: %d from %q", change, resp.StatusCode, resp.Header.Get("X-Backend"))
		}
		want := "S=" + router.AffinityKey("ns/svc:80", live) + "|"
		if change && (len(sc) != 1 || !strings.HasPrefix(sc[0], want) || !strings.Contains(sc[0], "HttpOnly")) {
			t.Errorf("change-on-failure: Set-Cookie %q, want one naming the live endpoint", sc)
		}
		if !change && len(sc) != 0 {
			t.Errorf("without change-on-failure: Set-Cookie %q, want none", sc)
		}
		resp, _ = f.do(t, "GET", "/", nil, "Cookie", cookie)
		if !change && !strings.HasPrefix(resp.Header.Get("Set-Cookie"), want) {
			t.Errorf("next request, endpoint in back-off: Set-Cookie %q, want one naming the live endpoint", resp.Header.Get("Set-Cookie"))
		}
	}
}

// TestAffinityCookieDomain: session-cookie-domain is written as given, a
// leading dot kept, as ingress-nginx's sticky.lua (lua-resty-cookie) writes
// it; net/http's Cookie.String would drop the dot.
func TestAffinityCookieDomain(t *testing.T) {
	t.Parallel()
	_, addr := backend(t, "a", nil)
	for _, domain := range []string{".example.com", "foo.bar"} {
		f := newFixture(t, &router.Options{Affinity: &router.Affinity{Cookie: "S", Domain: domain}}, Config{}, addr)
		resp, _ := f.do(t, "GET", "/", nil)
		sc := resp.Header.Get("Set-Cookie")
		if resp.StatusCode != 200 || !strings.Contains(sc, "; Domain="+domain+";") && !strings.HasSuffix(sc, "; Domain="+domain) {
			t.Errorf("domain %q: %d, Set-Cookie %q, want Domain=%s", domain, resp.StatusCode, sc, domain)
		}
		if strings.Count(sc, "Domain=") != 1 || !strings.HasPrefix(sc, "S=") || !strings.Contains(sc, "Path=/") || !strings.Contains(sc, "HttpOnly") {
			t.Errorf("domain %q: Set-Cookie %q, want one Domain, the name, Path and HttpOnly", domain, sc)
		}
	}
}
