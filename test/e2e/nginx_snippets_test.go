package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// TestNginxSnippets ports the HTTP-level assertions of ingress-nginx's
// test/e2e/annotations/snippet.go and serversnippet.go and of traefik's
// e2e/snippet_suite_test.go (the nginx side, for the directives Portico
// runs): the same annotations and requests, the same status and headers,
// as the client got them and as the echo backend received them. And the
// refusal: a snippet with a directive Portico does not run is refused as a
// whole with a Warning Event naming it, and the Ingress's paths still
// answer from their backends.
func TestNginxSnippets(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "snip", 2)
	for i, name := range []string{"one", "two"} {
		harness.Service(t, cp, ns, name, 80)
		harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, name, name+"-1", 8080, harness.Endpoint{Addr: hostOf(be[i])}))
	}
	prefix := networkingv1.PathTypePrefix
	ingress := func(name, host string, ann map[string]string, paths ...networkingv1.HTTPIngressPath) {
		if len(paths) == 0 {
			paths = []networkingv1.HTTPIngressPath{harness.Path("/", prefix, "one", 80)}
		}
		ing := harness.IngressObject(ns, name, "portico", host, paths...)
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	const (
		cfgSnippet = "nginx.ingress.kubernetes.io/configuration-snippet"
		srvSnippet = "nginx.ingress.kubernetes.io/server-snippet"
	)
	p := harness.StartPortico(t, cp)
	c := p.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := "http://" + p.HTTPAddr

	type answer struct {
		status int
		header http.Header // the response's
		body   string
		echo   *harness.Echo // what the backend received; nil when no backend answered
	}
	// get sends GET path to host with header pairs, retrying until check
	// passes (the Ingresses become live).
	get := func(t *testing.T, host, path string, hdr []string, check func(a answer) error) {
		t.Helper()
		harness.Eventually(t, 10*time.Second, func() error {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			req.Host = host
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err != nil {
				return err
			}
			a := answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
			if resp.Header.Get("X-Backend") != "" {
				e, err := harness.ParseEcho(body)
				if err != nil {
					return err
				}
				a.echo = &e
			}
			if err := check(a); err != nil {
				return fmt.Errorf("%s%s: %v", host, path, err)
			}
			return nil
		})
	}
	// hdrs checks response headers: name, want pairs ("" for absent).
	hdrs := func(status int, pairs ...string) func(a answer) error {
		return func(a answer) error {
			if a.status != status {
				return fmt.Errorf("status %d, want %d", a.status, status)
			}
			for i := 0; i+1 < len(pairs); i += 2 {
				if got := strings.Join(a.header.Values(pairs[i]), ","); got != pairs[i+1] {
					return fmt.Errorf("response header %s = %q, want %q", pairs[i], got, pairs[i+1])
				}
			}
			return nil
		}
	}
	// upstream checks the headers the backend received.
	upstream := func(pairs ...string) func(a answer) error {
		return func(a answer) error {
			if a.status != http.StatusOK || a.echo == nil {
				return fmt.Errorf("status %d (backend answered: %v), want 200 from a backend", a.status, a.echo != nil)
			}
			for i := 0; i+1 < len(pairs); i += 2 {
				if got := strings.Join(a.echo.Headers.Values(pairs[i]), ","); got != pairs[i+1] {
					return fmt.Errorf("upstream header %s = %q, want %q", pairs[i], got, pairs[i+1])
				}
			}
			return nil
		}
	}

	// ingress-nginx annotations/snippet.go
	ingress("configurationsnippet", "configurationsnippet.foo.com", map[string]string{cfgSnippet: `more_set_headers "Foo1: Bar1";`})
	// ingress-nginx annotations/serversnippet.go
	ingress("serversnippet", "serversnippet.foo.com", map[string]string{srvSnippet: `
				more_set_headers "Foo: Bar";
				more_set_headers "Xpto: Lalala";`})
	// traefik e2e/snippet_suite_test.go, the "more-headers" Ingress.
	ingress("snippet-more-headers-test", "snippet-more-headers-test.nginx.local", map[string]string{
		srvSnippet: `
more_set_headers "X-Colon-Clear: colon-value";
more_set_headers "X-NoColon-Clear: nocolon-value";
more_set_headers "X-Server-Cross: server-cross-value";
`,
		cfgSnippet: `
more_set_headers "X-Multi-A: a-val" "X-Multi-B: b-val";
more_set_input_headers "X-Input-Multi-A: ia-val" "X-Input-Multi-B: ib-val";
more_set_input_headers "X-Clear-Input";
more_set_headers "X-To-Clear: clear-me";
more_clear_headers "X-To-Clear";
more_set_headers "X-Clear-One: one-val";
more_set_headers "X-Clear-Two: two-val";
more_set_headers "X-Keep-This: keep-val";
more_clear_headers "X-Clear-One" "X-Clear-Two";
more_set_headers "X-Wild-One: w1";
more_set_headers "X-Wild-Two: w2";
more_set_headers "X-Other-Resp: other";
more_clear_headers "X-Wild-*";
more_clear_input_headers "X-Secret";
more_clear_input_headers "X-Prefix-*";
more_set_headers "X-Colon-Clear:";
more_set_headers "X-NoColon-Clear";
more_clear_headers "X-Server-Cross";
`})
	// The add_header status rule, return and proxy_set_header.
	ingress("directives", "directives.snippet.test", map[string]string{cfgSnippet: `
add_header X-Custom "present";
add_header X-Custom-Always "present" always;
proxy_set_header X-Up "from-snippet";
proxy_set_header X-Drop "";
`})
	ingress("return-text", "return.snippet.test", map[string]string{cfgSnippet: `add_header X-Level "location"; return 403 "Forbidden";`})
	ingress("return-url", "redirect.snippet.test", map[string]string{srvSnippet: `return 301 https://example.com/new;`})
	// The must-show: forbidden directives (proxy_pass; a Lua block; a
	// location block) refuse the snippets, and both paths still answer.
	ingress("refused", "refused.snippet.test", map[string]string{
		cfgSnippet: "more_set_headers \"X-Refused: yes\";\nproxy_pass http://198.51.100.1;",
		srvSnippet: "more_set_headers \"X-Refused-Server: yes\";\nlocation /admin {\n  return 200 \"open\";\n}",
	}, harness.Path("/one", prefix, "one", 80), harness.Path("/two", prefix, "two", 80))
	ingress("refused-lua", "lua.snippet.test", map[string]string{
		cfgSnippet: "access_by_lua_block {\n  ngx.exit(403)\n}",
	}, harness.Path("/one", prefix, "one", 80), harness.Path("/two", prefix, "two", 80))

	t.Run("ingress-nginx snippet.go and serversnippet.go", func(t *testing.T) {
		// ingress-nginx annotations/snippet.go "set snippet more_set_headers in all locations"
		get(t, "configurationsnippet.foo.com", "/", nil, hdrs(http.StatusOK, "Foo1", "Bar1"))
		// ingress-nginx annotations/serversnippet.go "add valid directives to server via server snippet"
		get(t, "serversnippet.foo.com", "/", nil, hdrs(http.StatusOK, "Foo", "Bar", "Xpto", "Lalala"))
	})

	t.Run("traefik snippet_suite_test.go more-headers", func(t *testing.T) {
		const host = "snippet-more-headers-test.nginx.local"
		// traefik e2e/snippet_suite_test.go TestMoreSetHeadersMultiple
		get(t, host, "/", nil, hdrs(http.StatusOK, "X-Multi-A", "a-val", "X-Multi-B", "b-val"))
		// traefik e2e/snippet_suite_test.go TestMoreSetHeadersClearingWithColon
		get(t, host, "/", nil, hdrs(http.StatusOK, "X-Colon-Clear", ""))
		// traefik e2e/snippet_suite_test.go TestMoreSetHeadersClearingWithoutColon
		get(t, host, "/", nil, hdrs(http.StatusOK, "X-NoColon-Clear", ""))
		// traefik e2e/snippet_suite_test.go TestMoreSetInputHeadersMultiple
		get(t, host, "/", nil, upstream("X-Input-Multi-A", "ia-val", "X-Input-Multi-B", "ib-val"))
		// traefik e2e/snippet_suite_test.go TestMoreSetInputHeadersClearing
		get(t, host, "/", []string{"X-Clear-Input", "original-value"}, upstream("X-Clear-Input", ""))
		// traefik e2e/snippet_suite_test.go TestMoreClearHeadersSingle
		get(t, host, "/", nil, hdrs(http.StatusOK, "X-To-Clear", ""))
		// traefik e2e/snippet_suite_test.go TestMoreClearHeadersMultiple
		get(t, host, "/", nil, hdrs(http.StatusOK, "X-Clear-One", "", "X-Clear-Two", "", "X-Keep-This", "keep-val"))
		// traefik e2e/snippet_suite_test.go TestMoreClearHeadersWildcard
		get(t, host, "/", nil, hdrs(http.StatusOK, "X-Wild-One", "", "X-Wild-Two", "", "X-Other-Resp", "other"))
		// traefik e2e/snippet_suite_test.go TestMoreClearHeadersCrossSnippet
		get(t, host, "/", nil, hdrs(http.StatusOK, "X-Server-Cross", ""))
		// traefik e2e/snippet_suite_test.go TestMoreClearInputHeadersSingle
		get(t, host, "/", []string{"X-Secret", "secret-value"}, upstream("X-Secret", ""))
		// traefik e2e/snippet_suite_test.go TestMoreClearInputHeadersWildcard
		get(t, host, "/", []string{"X-Prefix-One", "val1", "X-Prefix-Two", "val2", "X-Other", "other"},
			upstream("X-Prefix-One", "", "X-Prefix-Two", "", "X-Other", "other"))
	})

	t.Run("add_header, proxy_set_header and return", func(t *testing.T) {
		const host = "directives.snippet.test"
		// traefik e2e/snippet_suite_test.go TestAddHeaderNoAlwaysOnSuccess and
		// TestAddHeaderAlwaysOnSuccess (the 200 is the backend's here, not a
		// location's return)
		get(t, host, "/", nil, hdrs(http.StatusOK, "X-Custom", "present", "X-Custom-Always", "present"))
		// traefik e2e/snippet_suite_test.go TestAddHeaderNoAlwaysOnError and
		// TestAddHeaderAlwaysOnError (the 404 is the backend's)
		get(t, host, "/__status/404", nil, hdrs(http.StatusNotFound, "X-Custom", "", "X-Custom-Always", "present"))
		get(t, host, "/__status/500", nil, hdrs(http.StatusInternalServerError, "X-Custom", "", "X-Custom-Always", "present"))
		get(t, host, "/", []string{"X-Drop", "client"}, upstream("X-Up", "from-snippet", "X-Drop", ""))
		// traefik e2e/snippet_suite_test.go TestLocationReturn (return 403
		// "Forbidden", here in a configuration-snippet): status and body;
		// add_header is not sent with a 403.
		get(t, "return.snippet.test", "/anything", nil, func(a answer) error {
			if a.status != http.StatusForbidden || a.body != "Forbidden" || a.echo != nil || a.header.Get("X-Level") != "" {
				return fmt.Errorf("status %d body %q X-Level %q (backend answered: %v), want 403 \"Forbidden\" from Portico, no X-Level",
					a.status, a.body, a.header.Get("X-Level"), a.echo != nil)
			}
			return nil
		})
		get(t, "redirect.snippet.test", "/x?y=1", nil, hdrs(http.StatusMovedPermanently, "Location", "https://example.com/new"))
	})

	t.Run("a forbidden directive refuses the snippet, with an Event; the paths still answer", func(t *testing.T) {
		wantEvent(t, ns, "refused", corev1.EventTypeWarning, "InvalidAnnotation",
			"configuration-snippet", `directive "proxy_pass" is not supported`, "the whole snippet is ignored")
		wantEvent(t, ns, "refused", corev1.EventTypeWarning, "InvalidAnnotation",
			"server-snippet", `block directive "location" is not supported`)
		wantEvent(t, ns, "refused-lua", corev1.EventTypeWarning, "InvalidAnnotation",
			"configuration-snippet", `block directive "access_by_lua_block" is not supported`)
		for _, host := range []string{"refused.snippet.test", "lua.snippet.test"} {
			for i, path := range []string{"/one", "/two"} {
				get(t, host, path, nil, func(a answer) error {
					if a.status != http.StatusOK || a.echo == nil || a.echo.Backend != be[i].Name {
						return fmt.Errorf("status %d from backend %v, want 200 from %s", a.status, a.echo, be[i].Name)
					}
					if a.header.Get("X-Refused") != "" || a.header.Get("X-Refused-Server") != "" {
						return fmt.Errorf("a refused snippet was half applied: %v", a.header)
					}
					return nil
				})
			}
		}
		get(t, "refused.snippet.test", "/admin", nil, hdrs(http.StatusNotFound))
	})
}
