package proxy

import (
	"net/http"
	"regexp"
	"testing"

	"portico.dev/portico/router"
)

// TestCaptureRewriteThroughTheProxy: an ingress-nginx rewrite-target with
// capture groups, over real sockets: the backend gets the rewritten path,
// the query as sent, and X-Forwarded-Prefix from the route, not from the
// client; a route without the rewrite forwards the path and the client's
// header as before.
func TestCaptureRewriteThroughTheProxy(t *testing.T) {
	t.Parallel()
	type seen struct{ path, query, prefix string }
	got := make(chan seen, 2)
	_, addr := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Forwarded-Prefix")}
	})
	be := &router.Backend{ID: "ns/a:80", Namespace: "ns", Service: "a", Port: "80", Endpoints: []string{addr}}
	target, _ := router.ParseTemplate("$2")
	prefix, _ := router.ParseTemplate("/$1")
	path := "/(api)(/.*)"
	routes := []router.Route{
		{Host: "r.test", Path: path, Type: router.RegexPrefix, PathRegex: regexp.MustCompile("(?i)^" + path), Source: "ns/r", Backend: be,
			Filters: &router.Filters{Rewrite: &router.Rewrite{Captures: &router.CaptureRewrite{
				Regexp: regexp.MustCompile("(?i)" + path), Target: target, Prefix: &prefix}}}},
		{Host: "r.test", Path: "/plain", Type: router.Prefix, Source: "ns/p", Backend: be},
	}
	table, _ := router.New(routes, nil)
	f := newFixture(t, nil, Config{})
	f.proxy.cfg.Table.Store(table)
	host := func(r *http.Request) { r.Host = "r.test" }

	f.doWith(t, "GET", "/API/v1/users?id=7&x", host, hdr("X-Forwarded-Prefix", "/evil"))
	if s, want := <-got, (seen{"/v1/users", "id=7&x", "/API"}); s != want {
		t.Errorf("rewritten: backend saw %+v, want %+v", s, want)
	}
	f.doWith(t, "GET", "/plain/x?q=1", host, hdr("X-Forwarded-Prefix", "/client"))
	if s, want := <-got, (seen{"/plain/x", "q=1", "/client"}); s != want {
		t.Errorf("plain: backend saw %+v, want %+v", s, want)
	}
}
