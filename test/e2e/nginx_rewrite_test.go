package e2e

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// TestNginxRewrite ports the HTTP-level assertions of ingress-nginx's
// test/e2e/annotations/rewrite.go and xforwardedprefix.go and of traefik's
// e2e/rewritetarget_suite_test.go and xforwardedprefix_suite_test.go
// (their nginx side): the same annotations, paths and requests, the same
// status, upstream path and headers, checked on what the echo backend
// received.
func TestNginxRewrite(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 2)
	for i, name := range []string{"plain", "rewrite"} {
		harness.Service(t, cp, ns, name, 80)
		harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, name, name+"-1", 8080, harness.Endpoint{Addr: hostOf(be[i])}))
	}
	prefix, exact, impl := networkingv1.PathTypePrefix, networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific
	ingress := func(name, host string, ann map[string]string, path string, typ networkingv1.PathType, svc string) {
		ing := harness.IngressObject(ns, name, "portico", host, harness.Path(path, typ, svc, 80))
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	const (
		regex  = "nginx.ingress.kubernetes.io/use-regex"
		target = "nginx.ingress.kubernetes.io/rewrite-target"
		xfp    = "nginx.ingress.kubernetes.io/x-forwarded-prefix"
	)
	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr

	// check sends GET path to host (with header pairs) and checks what the
	// backend saw; it retries until the Ingresses are live.
	type want struct {
		backend, path, query, prefix string // prefix "-": no X-Forwarded-Prefix
		hdr                          [2]string
	}
	check := func(t *testing.T, host, path string, w want, hdr ...string) {
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
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s%s: status %d, want 200", host, path, resp.StatusCode)
			}
			e, err := harness.ParseEcho(body)
			if err != nil {
				return err
			}
			gotPrefix := "-"
			if v := e.Headers.Values("X-Forwarded-Prefix"); len(v) > 0 {
				gotPrefix = v[0]
			}
			if e.Backend != w.backend || e.Path != w.path || e.Query != w.query || gotPrefix != w.prefix {
				return fmt.Errorf("%s%s reached %s with path %q query %q X-Forwarded-Prefix %q; want %s %q %q %q",
					host, path, e.Backend, e.Path, e.Query, gotPrefix, w.backend, w.path, w.query, w.prefix)
			}
			if w.hdr[0] != "" && e.Headers.Get(w.hdr[0]) != w.hdr[1] {
				return fmt.Errorf("%s%s: header %s = %q, want %q", host, path, w.hdr[0], e.Headers.Get(w.hdr[0]), w.hdr[1])
			}
			return nil
		})
	}
	plain, rewritten := "echo-0", "echo-1"

	// ingress-nginx rewrite.go "should write rewrite logs" (its log line says
	// "/something" was rewritten to "/"; the backend seeing "/" is the
	// HTTP-level equivalent).
	ingress("logs", "logs.rewrite.test", map[string]string{target: "/"}, "/something", prefix, "rewrite")
	// ingress-nginx rewrite.go "should use correct longest path match"
	ingress("kube-lego", "lego.rewrite.test", nil, "/.well-known/acme/challenge", prefix, "plain")
	// ingress-nginx rewrite.go "should use ~* location modifier if regex annotation is present"
	ingress("foo", "modifier.rewrite.test", nil, "/foo", prefix, "plain")
	ingress("regex", "modifier.rewrite.test", map[string]string{regex: "true", target: "/new/backend"}, "/foo.+", impl, "rewrite")
	// ingress-nginx rewrite.go "should fail to use longest match for documented warning"
	ingress("warn-plain", "warning.rewrite.test", nil, "/foo/bar/bar", prefix, "plain")
	ingress("warn-regex", "warning.rewrite.test", map[string]string{regex: "true", target: "/new/backend"}, "/foo/bar/[a-z]{3}", impl, "rewrite")
	// ingress-nginx rewrite.go "should allow for custom rewrite parameters"
	ingress("custom", "custom.rewrite.test", map[string]string{regex: "true", target: "/new/backend/$1"}, "/foo/bar/(.+)", impl, "rewrite")
	// ingress-nginx xforwardedprefix.go (both tests)
	ingress("xfp", "xfp.baz.test", map[string]string{xfp: "/test/value", target: "/foo"}, "/", prefix, "rewrite")
	ingress("noxfp", "noxfp.baz.test", map[string]string{xfp: "", target: "/foo"}, "/", prefix, "rewrite")
	// traefik rewritetarget_suite_test.go fixtures
	simple := map[string]string{target: "/$2", regex: "true"}
	ingress("rewrite-test", "rewrite-test.nginx.test", simple, "/app(/|$)(.*)", impl, "rewrite")
	ingress("rewrite-capture-test", "rewrite-capture-test.nginx.test", simple, "/api(/|$)(.*)", impl, "rewrite")
	ingress("no-regex-test", "no-regex-test.nginx.test", map[string]string{target: "/rewritten", regex: "false"}, "/", prefix, "rewrite")
	ingress("exact-path-test", "exact-path-test.nginx.test", map[string]string{target: "/rewritten"}, "/original", exact, "rewrite")
	// traefik xforwardedprefix_suite_test.go fixtures
	ingress("xfp-test", "xfp-test.nginx.test", map[string]string{xfp: "/api", target: "/$1", regex: "true"}, "/(.*)", impl, "rewrite")
	ingress("xfp-noannot-test", "xfp-noannot-test.nginx.test", nil, "/", prefix, "plain")
	ingress("xfp-nested-test", "xfp-nested-test.nginx.test", map[string]string{xfp: "/api/v1", target: "/$1", regex: "true"}, "/(.*)", impl, "rewrite")

	t.Run("ingress-nginx rewrite.go", func(t *testing.T) {
		// ingress-nginx annotations/rewrite.go "should write rewrite logs"
		check(t, "logs.rewrite.test", "/something", want{backend: rewritten, path: "/", prefix: "-"})
		// ingress-nginx annotations/rewrite.go "should use correct longest path match" (before the rewrite Ingress)
		check(t, "lego.rewrite.test", "/.well-known/acme/challenge", want{backend: plain, path: "/.well-known/acme/challenge", prefix: "-"})
		ingress("rewrite-index", "lego.rewrite.test", map[string]string{target: "/new/backend"}, "/", prefix, "rewrite")
		check(t, "lego.rewrite.test", "/other", want{backend: rewritten, path: "/new/backend", prefix: "-"}) // the new Ingress is live
		// ingress-nginx annotations/rewrite.go "should use correct longest path match" (after it)
		check(t, "lego.rewrite.test", "/.well-known/acme/challenge", want{backend: plain, path: "/.well-known/acme/challenge", prefix: "-"})
		// ingress-nginx annotations/rewrite.go "should use ~* location modifier if regex annotation is present" ('/foo' matches '~* ^/foo')
		check(t, "modifier.rewrite.test", "/foo", want{backend: plain, path: "/foo", prefix: "-"})
		// ingress-nginx annotations/rewrite.go "should use ~* location modifier if regex annotation is present" ('/foo/bar' matches '~* ^/foo.+')
		check(t, "modifier.rewrite.test", "/foo/bar", want{backend: rewritten, path: "/new/backend", prefix: "-"})
		// ingress-nginx annotations/rewrite.go "should fail to use longest match for documented warning"
		check(t, "warning.rewrite.test", "/foo/bar/bar", want{backend: rewritten, path: "/new/backend", prefix: "-"})
		// ingress-nginx annotations/rewrite.go "should allow for custom rewrite parameters"
		check(t, "custom.rewrite.test", "/foo/bar/bar", want{backend: rewritten, path: "/new/backend/bar", prefix: "-"})
	})
	t.Run("ingress-nginx xforwardedprefix.go", func(t *testing.T) {
		// ingress-nginx annotations/xforwardedprefix.go "should set the X-Forwarded-Prefix to the annotation value"
		check(t, "xfp.baz.test", "/", want{backend: rewritten, path: "/foo", prefix: "/test/value"})
		// ingress-nginx annotations/xforwardedprefix.go "should not add X-Forwarded-Prefix if the annotation value is empty"
		check(t, "noxfp.baz.test", "/", want{backend: rewritten, path: "/foo", prefix: "-"})
	})
	t.Run("traefik rewritetarget_suite_test.go", func(t *testing.T) {
		// traefik e2e/rewritetarget_suite_test.go TestSimpleRewrite
		check(t, "rewrite-test.nginx.test", "/app", want{backend: rewritten, path: "/", prefix: "-"})
		// traefik e2e/rewritetarget_suite_test.go TestSimpleRewriteSubpath
		check(t, "rewrite-test.nginx.test", "/app/hello", want{backend: rewritten, path: "/hello", prefix: "-"})
		// traefik e2e/rewritetarget_suite_test.go TestCaptureGroupRewrite
		check(t, "rewrite-capture-test.nginx.test", "/api/users", want{backend: rewritten, path: "/users", prefix: "-"})
		// traefik e2e/rewritetarget_suite_test.go TestCaptureGroupRewriteRoot
		check(t, "rewrite-capture-test.nginx.test", "/api/", want{backend: rewritten, path: "/", prefix: "-"})
		// traefik e2e/rewritetarget_suite_test.go TestCaptureGroupRewriteDeepPath
		check(t, "rewrite-capture-test.nginx.test", "/api/v1/users/123", want{backend: rewritten, path: "/v1/users/123", prefix: "-"})
		// traefik e2e/rewritetarget_suite_test.go TestNoRegexRewriteBehavior
		check(t, "no-regex-test.nginx.test", "/", want{backend: rewritten, path: "/rewritten", prefix: "-"})
		// traefik e2e/rewritetarget_suite_test.go TestExactPathRewrite
		check(t, "exact-path-test.nginx.test", "/original", want{backend: rewritten, path: "/rewritten", prefix: "-"})
	})
	t.Run("traefik xforwardedprefix_suite_test.go", func(t *testing.T) {
		// traefik e2e/xforwardedprefix_suite_test.go TestXForwardedPrefixSet
		check(t, "xfp-test.nginx.test", "/", want{backend: rewritten, path: "/", prefix: "/api"})
		// traefik e2e/xforwardedprefix_suite_test.go TestNoXForwardedPrefix
		check(t, "xfp-noannot-test.nginx.test", "/", want{backend: plain, path: "/", prefix: "-"})
		// traefik e2e/xforwardedprefix_suite_test.go TestXForwardedPrefixOnSubpath
		check(t, "xfp-test.nginx.test", "/some/path", want{backend: rewritten, path: "/some/path", prefix: "/api"})
		// traefik e2e/xforwardedprefix_suite_test.go TestXForwardedPrefixPreservesHeaders
		check(t, "xfp-test.nginx.test", "/", want{backend: rewritten, path: "/", prefix: "/api", hdr: [2]string{"X-Custom-Header", "test-value"}},
			"X-Custom-Header", "test-value")
		// traefik e2e/xforwardedprefix_suite_test.go TestXForwardedPrefixNested
		check(t, "xfp-nested-test.nginx.test", "/", want{backend: rewritten, path: "/", prefix: "/api/v1"})
	})
	t.Run("portico", func(t *testing.T) {
		// The query string is kept; a client's X-Forwarded-Prefix is replaced.
		check(t, "rewrite-capture-test.nginx.test", "/API/x?a=1&b=2", want{backend: rewritten, path: "/x", query: "a=1&b=2", prefix: "-"})
		check(t, "xfp-test.nginx.test", "/y", want{backend: rewritten, path: "/y", prefix: "/api"}, "X-Forwarded-Prefix", "/evil")
		// Regex matching is case-insensitive and covers the host's plain
		// prefix paths too: "/foo" there matches "/FOObar".
		check(t, "modifier.rewrite.test", "/FOO", want{backend: plain, path: "/FOO", prefix: "-"})
	})
}
