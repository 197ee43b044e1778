package proxy

import (
	"net/http"
	"testing"

	"portico.dev/portico/router"
)

// TestConditionsAndSplitsThroughTheProxy sends real requests through the
// proxy to a table with Gateway-style rules: conditions pick the rule, and
// a weighted split sends each backend its share, with the share of an
// unresolved backend answered 500 (Gateway API backendRefs).
func TestConditionsAndSplitsThroughTheProxy(t *testing.T) {
	t.Parallel()
	_, a := backend(t, "a", nil)
	_, b := backend(t, "b", nil)
	_, c := backend(t, "c", nil)
	bk := func(name, addr string) *router.Backend {
		return &router.Backend{ID: "ns/" + name + ":80", Namespace: "ns", Service: name, Port: "80", Endpoints: []string{addr}}
	}
	routes := []router.Route{
		{Host: "gw.test", Path: "/", Type: router.Prefix, Source: "ns/split", Backends: []router.WeightedBackend{
			{Backend: bk("a", a), Weight: 3}, {Backend: bk("b", b), Weight: 1}, {Backend: nil, Weight: 1},
		}},
		{Host: "gw.test", Path: "/", Type: router.Prefix, Source: "ns/canary", Backend: bk("c", c),
			Conditions: router.Conditions{Headers: []router.HeaderMatch{{Name: "X-Canary", Value: "yes"}}}},
		{Host: "gw.test", Path: "/none", Type: router.Prefix, Source: "ns/zero", Backends: []router.WeightedBackend{{Backend: bk("a", a), Weight: 0}}},
	}
	table, conflicts := router.New(routes, nil, router.WildcardAnyDepth())
	if len(conflicts) != 0 {
		t.Fatal(conflicts)
	}
	f := newFixture(t, nil, Config{})
	f.proxy.cfg.Table.Store(table)

	host := func(req *http.Request) { req.Host = "gw.test" }
	counts := map[string]int{}
	const n = 1000
	for range n {
		resp, _ := f.doWith(t, "GET", "/x", host)
		counts[resp.Header.Get("X-Backend")+"/"+resp.Status]++
	}
	// Expected 600 / 200 / 200; binomial sd is at most ~16, so ±80 is 5 sd.
	for key, want := range map[string]int{"a/200 OK": 600, "b/200 OK": 200, "/500 Internal Server Error": 200} {
		if got := counts[key]; got < want-80 || got > want+80 {
			t.Errorf("%s: %d of %d, want about %d (all: %v)", key, got, n, want, counts)
		}
	}
	if resp, _ := f.doWith(t, "GET", "/x", host, hdr("X-Canary", "yes")); resp.Header.Get("X-Backend") != "c" {
		t.Errorf("header condition: got backend %q, want c", resp.Header.Get("X-Backend"))
	}
	if resp, _ := f.doWith(t, "GET", "/none", host); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("split without weight: %s, want 500", resp.Status)
	}
}

func hdr(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }

// doWith sends one request without a body through the fixture after
// applying the edits (see do).
func (f *fixture) doWith(t testing.TB, method, path string, edits ...func(*http.Request)) (*http.Response, string) {
	t.Helper()
	return f.send(t, method, path, nil, edits...)
}

// TestFiltersThroughTheProxy: request and response header edits, a URL
// rewrite of host and path, and a redirect, over real sockets.
func TestFiltersThroughTheProxy(t *testing.T) {
	t.Parallel()
	type seen struct{ host, path, query, hdr, gone string }
	got := make(chan seen, 4)
	_, addr := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Added"), r.Header.Get("X-Secret")}
		w.Header().Set("Server", "backend")
		w.Header().Set("X-Internal", "1")
	})
	be := &router.Backend{ID: "ns/a:80", Namespace: "ns", Service: "a", Port: "80", Endpoints: []string{addr}}
	routes := []router.Route{
		{Host: "gw.test", Path: "/api", Type: router.Prefix, Source: "ns/r", Backend: be, Filters: &router.Filters{
			RequestHeaders:  router.HeaderEdits{Add: []router.HeaderField{{Name: "X-Added", Value: "yes"}}, Remove: []string{"X-Secret"}},
			ResponseHeaders: router.HeaderEdits{Set: []router.HeaderField{{Name: "Server", Value: "portico"}}, Remove: []string{"X-Internal"}},
			Rewrite:         &router.Rewrite{Hostname: "internal.test", Path: &router.PathRewrite{Type: router.ReplacePrefixMatch, Value: "/v2"}},
		}},
		{Host: "gw.test", Path: "/old", Type: router.Prefix, Source: "ns/redirect", Backend: be, Filters: &router.Filters{
			Redirect: &router.Redirect{Scheme: "https", Path: &router.PathRewrite{Type: router.ReplacePrefixMatch, Value: "/new"}, Status: 301},
		}},
	}
	table, _ := router.New(routes, nil)
	f := newFixture(t, nil, Config{Port: 8080})
	f.proxy.cfg.Table.Store(table)
	host := func(r *http.Request) { r.Host = "gw.test:8080" }

	resp, _ := f.doWith(t, "GET", "/api/items?x=1", host, hdr("X-Secret", "s"))
	s := <-got
	if want := (seen{"internal.test", "/v2/items", "x=1", "yes", ""}); s != want {
		t.Errorf("backend saw %+v, want %+v", s, want)
	}
	if resp.Header.Get("Server") != "portico" || resp.Header.Get("X-Internal") != "" {
		t.Errorf("response headers not edited: %v", resp.Header)
	}

	f.srv.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ = f.doWith(t, "GET", "/old/page?q=2", host)
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://gw.test/new/page?q=2" {
		t.Errorf("redirect: %s Location %q", resp.Status, resp.Header.Get("Location"))
	}
	select {
	case s := <-got:
		t.Errorf("a redirect reached the backend: %+v", s)
	default:
	}
}
