package e2e

import (
	"net/http"
	"testing"

	"portico.dev/portico/test/harness"
)

// TestNginxCORS ports the HTTP-level assertions of ingress-nginx's
// test/e2e/annotations/cors.go and of traefik's e2e/cors_suite_test.go
// (its nginx side): the same annotations and requests, the same status and
// Access-Control-* headers. Where ingress-nginx only checks nginx.conf
// text (the more_set_headers lines of its CORS template), the headers that
// text makes nginx send are checked on a response instead.
func TestNginxCORS(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	harness.Service(t, cp, ns, "echo", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "echo", "echo-1", 8080, harness.Endpoint{Addr: hostOf(be[0])}))
	const (
		enable  = nginxAnn + "enable-cors"
		origin  = nginxAnn + "cors-allow-origin"
		methods = nginxAnn + "cors-allow-methods"
		headers = nginxAnn + "cors-allow-headers"
		expose  = nginxAnn + "cors-expose-headers"
		creds   = nginxAnn + "cors-allow-credentials"
		maxAge  = nginxAnn + "cors-max-age"

		acao = "Access-Control-Allow-Origin"
		acam = "Access-Control-Allow-Methods"
		acah = "Access-Control-Allow-Headers"
		acac = "Access-Control-Allow-Credentials"
		aceh = "Access-Control-Expose-Headers"
		acma = "Access-Control-Max-Age"

		defMethods = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
		defHeaders = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
	)
	// Each ingress-nginx test has its own Ingress for cors.foo.com; here
	// each gets its own host under it.
	ing := func(host string, kv ...string) {
		ann := map[string]string{enable: "true"}
		for i := 0; i+1 < len(kv); i += 2 {
			ann[kv[i]] = kv[i+1]
		}
		nginxIngress(t, ns, host, host+".cors.foo.com", "echo", ann, "")
	}
	ing("enable")
	ing("methods", methods, "POST, GET")
	ing("maxage", maxAge, "200")
	ing("nocreds", creds, "false")
	ing("origin", origin, "https://origin.cors.com:8080")
	ing("headers", headers, "DNT, User-Agent")
	ing("expose", expose, "X-CustomResponseHeader, X-CustomSecondHeader")
	ing("multi", origin, "https://origin.cors.com:8080, https://origin2.cors.com")
	ing("multi-no", origin, "http://origin2.cors.com, https://origin.com")
	ing("multi-bad", origin, "origin.cors.com:8080, https://origin2.cors.com, https://origin.com")
	ing("star", origin, "*")
	ing("star-extra", origin, "*, foo.bar.com")
	ing("nomatch", origin, "https://foo.bar.com")
	ing("port", origin, "http://origin.cors.com:8080, http://origin.com:8080")
	ing("port-no", origin, "https://origin2.cors.com, http://origin.com")
	ing("wild", origin, "http://*.origin.cors.com, http://*.origin.com:8080")
	ing("wildport", origin, "http://origin.cors.com:8080, http://*.origin.com:8080")
	ing("blank", origin, "      ")
	ing("comma", origin, "https://origin-123.cors.com:8080,   ,https://origin-321.cors.com:8080,")
	ing("schemes", origin, "test://localhost, tauri://localhost:3000")
	// traefik e2e/cors_suite_test.go SetupSuite
	nginxIngress(t, ns, "cors-test", "cors-test.nginx.local", "echo", map[string]string{enable: "true",
		origin: "https://app.example.com", methods: "GET,POST,PUT", headers: "Content-Type,Authorization,X-Request-ID",
		creds: "true", maxAge: "7200", expose: "X-Request-ID,X-Trace-ID"}, "")
	nginxIngress(t, ns, "cors-default-test", "cors-default-test.nginx.local", "echo", map[string]string{enable: "true"}, "")
	nginxIngress(t, ns, "cors-no-creds-test", "cors-no-creds-test.nginx.local", "echo", map[string]string{enable: "true",
		origin: "https://app.example.com", creds: "false"}, "")

	p := harness.StartPortico(t, cp)
	c, base := p.Client(), "http://"+p.HTTPAddr
	h := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	o := func(v string) []string { return []string{"Origin", v} }
	const ok = http.StatusOK

	t.Run("ingress-nginx cors.go", func(t *testing.T) {
		const s = "ingress-nginx annotations/cors.go "
		runExchanges(t, c, base, []exchange{
			{src: s + `"should enable cors"`, host: "enable.cors.foo.com", path: "/", status: ok, echoPath: "/"},
			// Its nginx.conf check, as the headers of a response ("set $http_origin *").
			{src: s + `"should enable cors" (headers)`, host: "enable.cors.foo.com", path: "/", status: ok,
				want: h(acam, defMethods, acao, "*", acah, defHeaders, acma, "1728000", acac, "true", aceh, "")},
			{src: s + `"should set cors methods to only allow POST, GET" (headers)`, host: "methods.cors.foo.com", path: "/", status: ok,
				want: h(acam, "POST, GET")},
			{src: s + `"should set cors max-age" (headers)`, host: "maxage.cors.foo.com", path: "/", status: ok, want: h(acma, "200")},
			{src: s + `"should disable cors allow credentials" (headers)`, host: "nocreds.cors.foo.com", path: "/", status: ok,
				want: h(acac, "", acao, "*")},
			{src: s + `"should allow origin for cors"`, host: "origin.cors.foo.com", path: "/", hdr: o("https://origin.cors.com:8080"),
				status: ok, want: h(acao, "https://origin.cors.com:8080")},
			{src: s + `"should allow headers for cors" (headers)`, host: "headers.cors.foo.com", path: "/", status: ok,
				want: h(acah, "DNT, User-Agent")},
			{src: s + `"should expose headers for cors" (headers)`, host: "expose.cors.foo.com", path: "/", status: ok,
				want: h(aceh, "X-CustomResponseHeader, X-CustomSecondHeader")},
			{src: s + `"should allow - single origin for multiple cors values"`, host: "multi.cors.foo.com", path: "/",
				hdr: o("https://origin.cors.com:8080"), status: ok, want: h(acao, "https://origin.cors.com:8080")},
			{src: s + `"should not allow - single origin for multiple cors values"`, host: "multi-no.cors.foo.com", path: "/",
				hdr: o("http://no.origin.com"), status: ok, want: h(acao, "")},
			{src: s + `"should allow correct origins - single origin for multiple cors values" (bad origin)`, host: "multi-bad.cors.foo.com",
				path: "/", hdr: o("origin.cors.com:8080"), status: ok, want: h(acao, "")},
			{src: s + `"should allow correct origins - single origin for multiple cors values" (origin1)`, host: "multi-bad.cors.foo.com",
				path: "/", hdr: o("https://origin2.cors.com"), status: ok, want: h(acao, "https://origin2.cors.com")},
			{src: s + `"should allow correct origins - single origin for multiple cors values" (origin2)`, host: "multi-bad.cors.foo.com",
				path: "/", hdr: o("https://origin.com"), status: ok, want: h(acao, "https://origin.com")},
			{src: s + `"should not break functionality"`, host: "star.cors.foo.com", path: "/", status: ok, want: h(acao, "*")},
			{src: s + "\"should not break functionality - without `*`\"", host: "enable.cors.foo.com", path: "/", status: ok, want: h(acao, "*")},
			{src: s + `"should not break functionality with extra domain"`, host: "star-extra.cors.foo.com", path: "/", status: ok,
				want: h(acao, "*")},
			{src: s + `"should not match"`, host: "nomatch.cors.foo.com", path: "/", hdr: o("https://fooxbar.com"), status: ok, want: h(acao, "")},
			{src: s + `"should allow - single origin with required port"`, host: "port.cors.foo.com", path: "/", hdr: o("http://origin.com:8080"),
				status: ok, want: h(acao, "http://origin.com:8080")},
			{src: s + `"should not allow - single origin with port and origin without port"`, host: "port-no.cors.foo.com", path: "/",
				hdr: o("http://origin.com:8080"), status: ok, want: h(acao, "")},
			{src: s + `"should not allow - single origin without port and origin with required port"`, host: "port.cors.foo.com", path: "/",
				hdr: o("http://origin.com"), status: ok, want: h(acao, "")},
			{src: s + `"should allow - matching origin with wildcard origin (2 subdomains)" (origin)`, host: "wild.cors.foo.com", path: "/",
				hdr: o("http://foo.origin.cors.com"), status: ok, want: h(acao, "http://foo.origin.cors.com")},
			{src: s + `"should allow - matching origin with wildcard origin (2 subdomains)" (origin2)`, host: "wild.cors.foo.com", path: "/",
				hdr: o("http://bar-foo.origin.cors.com"), status: ok, want: h(acao, "http://bar-foo.origin.cors.com")},
			{src: s + `"should not allow - unmatching origin with wildcard origin (2 subdomains)"`, host: "wild.cors.foo.com", path: "/",
				hdr: o("http://bar.foo.origin.cors.com"), status: ok, want: h(acao, "")},
			{src: s + `"should allow - matching origin+port with wildcard origin"`, host: "wildport.cors.foo.com", path: "/",
				hdr: o("http://abc.origin.com:8080"), status: ok, want: h(acao, "http://abc.origin.com:8080")},
			{src: s + `"should not allow - portless origin with wildcard origin"`, host: "wildport.cors.foo.com", path: "/",
				hdr: o("http://abc.origin.com"), status: ok, want: h(acao, "")},
			{src: s + `"should allow correct origins - missing subdomain + origin with wildcard origin and correct origin" (bad origin)`,
				host: "wildport.cors.foo.com", path: "/", hdr: o("http://origin.com:8080"), status: ok, want: h(acao, "")},
			{src: s + `"should allow correct origins - missing subdomain + origin with wildcard origin and correct origin" (origin)`,
				host: "wildport.cors.foo.com", path: "/", hdr: o("http://bar.origin.com:8080"), status: ok, want: h(acao, "http://bar.origin.com:8080")},
			{src: s + `"should allow - missing origins (should allow all origins)" (origin)`, host: "blank.cors.foo.com", path: "/",
				hdr: o("http://origin.com"), status: ok, want: h(acao, "*")},
			{src: s + `"should allow - missing origins (should allow all origins)" (origin2)`, host: "blank.cors.foo.com", path: "/",
				hdr: o("http://book.origin.com"), status: ok, want: h(acao, "*")},
			{src: s + `"should allow - missing origins (should allow all origins)" (origin3)`, host: "blank.cors.foo.com", path: "/",
				hdr: o("test.origin.com"), status: ok, want: h(acao, "*")},
			{src: s + `"should allow correct origin but not others - cors allow origin annotations contain trailing comma" (origin1)`,
				host: "comma.cors.foo.com", path: "/", hdr: o("https://origin-123.cors.com:8080"), status: ok, want: h(acao, "https://origin-123.cors.com:8080")},
			{src: s + `"should allow correct origin but not others - cors allow origin annotations contain trailing comma" (origin2)`,
				host: "comma.cors.foo.com", path: "/", hdr: o("https://origin-321.cors.com:8080"), status: ok, want: h(acao, "https://origin-321.cors.com:8080")},
			{src: s + `"should allow correct origin but not others - cors allow origin annotations contain trailing comma" (origin3)`,
				host: "comma.cors.foo.com", path: "/", hdr: o("https://unknown.cors.com:8080"), status: ok, want: h(acao, "")},
			{src: s + `"should allow - origins with non-http[s] protocols" (origin)`, host: "schemes.cors.foo.com", path: "/",
				hdr: o("test://localhost"), status: ok, want: h(acao, "test://localhost")},
			{src: s + `"should allow - origins with non-http[s] protocols" (origin2)`, host: "schemes.cors.foo.com", path: "/",
				hdr: o("tauri://localhost:3000"), status: ok, want: h(acao, "tauri://localhost:3000")},
		})
	})

	t.Run("ingress-nginx CORS template: preflight", func(t *testing.T) {
		// The template's "trueoptions" branch: an OPTIONS request from an
		// allowed origin is answered 204 by nginx with every header, a
		// text/plain Content-Type and no body; the backend never sees
		// it. From an origin that is not allowed it is proxied, without
		// CORS headers.
		const s = "ingress-nginx CORS template (nginx.tmpl) "
		preflight := func(org string) []string {
			return []string{"Origin", org, "Access-Control-Request-Method", "POST"}
		}
		runExchanges(t, c, base, []exchange{
			{src: s + "preflight, wildcard", host: "enable.cors.foo.com", method: http.MethodOptions, path: "/", hdr: preflight("https://a.test"),
				status: http.StatusNoContent, want: h(acao, "*", acam, defMethods, acah, defHeaders, acma, "1728000", acac, "true",
					"Content-Type", "text/plain charset=UTF-8", "X-Backend", "")},
			{src: s + "preflight, listed origin", host: "wild.cors.foo.com", method: http.MethodOptions, path: "/x", hdr: preflight("http://foo.origin.cors.com"),
				status: http.StatusNoContent, want: h(acao, "http://foo.origin.cors.com", acam, defMethods, "X-Backend", "")},
			{src: s + "OPTIONS from an allowed origin without Access-Control-Request-Method", host: "wild.cors.foo.com",
				method: http.MethodOptions, path: "/", hdr: o("http://foo.origin.cors.com"), status: http.StatusNoContent,
				want: h(acao, "http://foo.origin.cors.com", "X-Backend", "")},
			{src: s + "preflight, origin not allowed, is proxied", host: "wild.cors.foo.com", method: http.MethodOptions, path: "/x",
				hdr: preflight("http://bar.foo.origin.cors.com"), status: ok, want: h(acao, "", acam, "", "X-Backend", "echo-0"), echoPath: "/x"},
			{src: s + "POST from an allowed origin is proxied with the headers", host: "wild.cors.foo.com", method: http.MethodPost, path: "/x",
				hdr: o("http://foo.origin.cors.com"), status: ok, want: h(acao, "http://foo.origin.cors.com", acac, "true", "X-Backend", "echo-0"),
				echoPath: "/x"},
		})
	})

	t.Run("traefik cors_suite_test.go", func(t *testing.T) {
		const s, host = "traefik e2e/cors_suite_test.go ", "cors-test.nginx.local"
		app := "https://app.example.com"
		runExchanges(t, c, base, []exchange{
			{src: s + "TestPreflightMatchingOrigin", host: host, method: http.MethodOptions, path: "/",
				hdr:    []string{"Origin", app, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "Content-Type, Authorization"},
				status: http.StatusNoContent, want: h(acao, app, acam, "GET,POST,PUT", acah, "Content-Type,Authorization,X-Request-ID",
					acac, "true", acma, "7200")},
			{src: s + "TestPreflightNonMatchingOrigin", host: host, method: http.MethodOptions, path: "/",
				hdr: []string{"Origin", "https://evil.example.com", "Access-Control-Request-Method", "GET"}, status: ok, want: h(acao, "")},
			{src: s + "TestSimpleGetMatchingOrigin", host: host, path: "/", hdr: o(app), status: ok,
				want: h(acao, app, acac, "true", aceh, "X-Request-ID,X-Trace-ID")},
			{src: s + "TestSimpleGetNonMatchingOrigin", host: host, path: "/", hdr: o("https://other.example.com"), status: ok, want: h(acao, "")},
			{src: s + "TestAllowMethodsValue", host: host, method: http.MethodOptions, path: "/",
				hdr: []string{"Origin", app, "Access-Control-Request-Method", "PUT"}, status: http.StatusNoContent, want: h(acam, "GET,POST,PUT")},
			{src: s + "TestAllowHeadersValue", host: host, method: http.MethodOptions, path: "/",
				hdr:    []string{"Origin", app, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "X-Request-ID"},
				status: http.StatusNoContent, want: h(acah, "Content-Type,Authorization,X-Request-ID")},
			{src: s + "TestMaxAgeValue", host: host, method: http.MethodOptions, path: "/",
				hdr: []string{"Origin", app, "Access-Control-Request-Method", "GET"}, status: http.StatusNoContent, want: h(acma, "7200")},
			{src: s + "TestExposeHeadersOnSimpleRequest", host: host, path: "/", hdr: o(app), status: ok, want: h(aceh, "X-Request-ID,X-Trace-ID")},
			{src: s + "TestDefaultCORSPreflightHeaders", host: "cors-default-test.nginx.local", method: http.MethodOptions, path: "/",
				hdr: []string{"Origin", "https://any.example.com", "Access-Control-Request-Method", "GET"}, status: http.StatusNoContent,
				want: h(acao, "*", acac, "true", acma, "1728000")},
			{src: s + "TestDefaultCORSAllowOriginWildcard", host: "cors-default-test.nginx.local", path: "/", hdr: o("https://any.example.com"),
				status: ok, want: h(acao, "*")},
			{src: s + "TestCredentialsFalse", host: "cors-no-creds-test.nginx.local", path: "/", hdr: o(app), status: ok, want: h(acac, "", acao, app)},
			// "nginx returns 204, traefik returns 200 for preflight"
			{src: s + "TestPreflightStatusCode", host: host, method: http.MethodOptions, path: "/",
				hdr: []string{"Origin", app, "Access-Control-Request-Method", "POST"}, status: http.StatusNoContent},
		})
	})
}
