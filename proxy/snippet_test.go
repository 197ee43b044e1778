package proxy

import (
	"net/http"
	"testing"

	"portico.dev/portico/router"
)

// TestSnippetThroughTheProxy: an ingress-nginx snippet's edits on the
// backend's answers by status, on Portico's own answers (return, redirect,
// an unreachable backend), and on the request sent upstream.
func TestSnippetThroughTheProxy(t *testing.T) {
	t.Parallel()
	_, addr := backend(t, "v1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Debug-Trace", "t")
		w.Header().Set("X-Seen-Secret", r.Header.Get("X-Prefix-Secret"))
		w.Header().Set("X-Seen-Up", r.Header.Get("X-Up"))
		if r.URL.Path == "/s/404" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	rules := func(ret *router.FixedResponse) *router.Filters {
		return &router.Filters{
			RequestHeaders:  router.HeaderEdits{Set: []router.HeaderField{{Name: "X-Up", Value: "u"}}},
			ResponseHeaders: router.HeaderEdits{Set: []router.HeaderField{{Name: "X-Set", Value: "s"}}},
			Snippet: &router.SnippetRules{ClearPrefixes: []string{"x-debug-"}, ClearRequestPrefixes: []string{"X-Prefix-"},
				Add: []router.HeaderField{{Name: "X-Add", Value: "a"}}, AddAlways: []router.HeaderField{{Name: "X-Always", Value: "y"}},
				Return: ret},
		}
	}
	redirect := rules(nil)
	redirect.Redirect = &router.Redirect{Form: router.FormURL, URL: "https://a.test/", Status: 301}
	f := newRouteFixture(t, Config{},
		router.Route{Path: "/s", Type: router.Prefix, Source: "ns/s", Backend: testBackend("v1", addr), Filters: rules(nil)},
		router.Route{Path: "/ret", Type: router.Prefix, Source: "ns/s", Backend: testBackend("v1", addr),
			Filters: rules(&router.FixedResponse{Status: 403, Body: "Forbidden"})},
		router.Route{Path: "/redir", Type: router.Prefix, Source: "ns/s", Backend: testBackend("v1", addr), Filters: redirect},
		router.Route{Path: "/down", Type: router.Prefix, Source: "ns/s", Backend: testBackend("v1", refusedAddr(t)), Filters: rules(nil)},
	)
	f.srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tests := []struct {
		path                 string
		status               int
		body                 string // "-": not checked
		add, always, set, up string
	}{
		{"/s", 200, "-", "a", "y", "s", "u"},
		{"/s/404", 404, "-", "", "y", "s", "u"},
		{"/ret", 403, "Forbidden", "", "y", "s", ""},
		{"/redir", 301, "-", "a", "y", "s", ""},
		{"/down", 502, "-", "", "y", "s", ""},
	}
	for _, tc := range tests {
		resp, body := f.do(t, "GET", tc.path, nil, "X-Prefix-Secret", "p")
		h := resp.Header
		if resp.StatusCode != tc.status || tc.body != "-" && body != tc.body || h.Get("X-Add") != tc.add ||
			h.Get("X-Always") != tc.always || h.Get("X-Set") != tc.set || h.Get("X-Seen-Up") != tc.up ||
			h.Get("X-Debug-Trace") != "" || h.Get("X-Seen-Secret") != "" {
			t.Errorf("%s: %d %q %v; want %d %q X-Add %q X-Always %q X-Set %q X-Seen-Up %q, no X-Debug-Trace or X-Seen-Secret",
				tc.path, resp.StatusCode, body, h, tc.status, tc.body, tc.add, tc.always, tc.set, tc.up)
		}
	}
}
