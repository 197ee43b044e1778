package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// exchange is one request and what its answer must be: the status, each
// header in want ("" means absent), and for a proxied answer (an Echo) the
// path and Host the backend saw.
type exchange struct {
	src          string // the ported assertion
	host, method string
	path         string
	hdr          []string // request header pairs
	status       int
	want         map[string]string
	echoPath     string // set: the backend saw this path
	echoHost     string // set: the backend saw this Host
}

func (x exchange) do(c *http.Client, base string) error {
	method := x.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, base+x.path, nil)
	if err != nil {
		return err
	}
	req.Host = x.host
	for i := 0; i+1 < len(x.hdr); i += 2 {
		req.Header.Set(x.hdr[i], x.hdr[i+1])
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
	what := fmt.Sprintf("%s: %s %s (Host %s)", x.src, method, x.path, x.host)
	if resp.StatusCode != x.status {
		return fmt.Errorf("%s: status %d, want %d (Location %q)", what, resp.StatusCode, x.status, resp.Header.Get("Location"))
	}
	for k, v := range x.want {
		got, ok := resp.Header[http.CanonicalHeaderKey(k)]
		switch {
		case v == "" && ok:
			return fmt.Errorf("%s: header %s = %q, want none", what, k, got)
		case v != "" && (len(got) != 1 || got[0] != v):
			return fmt.Errorf("%s: header %s = %q, want %q", what, k, got, v)
		}
	}
	if x.echoPath != "" || x.echoHost != "" {
		e, err := harness.ParseEcho(body)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if x.echoPath != "" && e.Path != x.echoPath {
			return fmt.Errorf("%s: backend saw path %q, want %q", what, e.Path, x.echoPath)
		}
		if x.echoHost != "" && e.Host != x.echoHost {
			return fmt.Errorf("%s: backend saw Host %q, want %q", what, e.Host, x.echoHost)
		}
	}
	return nil
}

// runExchanges checks each exchange through c against base, retrying
// each until the Ingresses are live.
func runExchanges(t *testing.T, c *http.Client, base string, xs []exchange) {
	t.Helper()
	for _, x := range xs {
		harness.Eventually(t, 10*time.Second, func() error { return x.do(c, base) })
	}
}

// startPorticoStdPorts runs Portico with its HTTP and HTTPS listeners on
// ports 80 and 443 of the loopback address ip, as ingress-nginx's e2e
// suite runs, so that the Locations its tests expect (which name those
// ports, or leave them out) can be compared as they are.
func startPorticoStdPorts(t *testing.T, ip string, flags ...string) *harness.Portico {
	t.Helper()
	httpAddr, httpsAddr := net.JoinHostPort(ip, "80"), net.JoinHostPort(ip, "443")
	p := harness.StartPortico(t, cp, append(flags, "--http-addr", httpAddr, "--https-addr", httpsAddr)...)
	p.HTTPAddr, p.HTTPSAddr = httpAddr, httpsAddr
	return p
}

// peerClient sends every request to addr from the local address local,
// without following redirects, over TLS when cfg is set.
func peerClient(addr, local string, cfg *tls.Config) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// nginxIngress creates Ingress name for host, path / (Prefix) to Service
// svc:80, with annotations ann and, when secret is set, a TLS section for
// tlsHosts (host alone when none are given) naming it.
func nginxIngress(t *testing.T, ns, name, host, svc string, ann map[string]string, secret string, tlsHosts ...string) {
	t.Helper()
	ing := harness.IngressObject(ns, name, "portico", host, harness.Path("/", networkingv1.PathTypePrefix, svc, 80))
	ing.Annotations = ann
	if secret != "" {
		if len(tlsHosts) == 0 {
			tlsHosts = []string{host}
		}
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: tlsHosts, SecretName: secret}}
		cert, key := validPair(t, tlsHosts...)
		applySecret(t, ns, secret, corev1.SecretTypeTLS, cert, key)
	}
	harness.CreateIngress(t, cp, ing)
}

const nginxAnn = "nginx.ingress.kubernetes.io/"

// TestNginxRedirect ports the HTTP-level assertions of ingress-nginx's
// test/e2e/annotations/redirect.go, approot.go and fromtowwwredirect.go
// and of traefik's e2e/permanentredirect_suite_test.go,
// approot_suite_test.go and wwwredirect_suite_test.go (their nginx side).
// Portico listens on ports 80 and 443, as ingress-nginx does in its suite,
// so the expected Locations are compared as they are written there.
func TestNginxRedirect(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	harness.Service(t, cp, ns, "echo", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "echo", "echo-1", 8080, harness.Endpoint{Addr: hostOf(be[0])}))
	ing := func(name, host string, ann map[string]string) { nginxIngress(t, ns, name, host, "echo", ann, "") }
	pathIng := func(name, host, path string, ann map[string]string) {
		i := harness.IngressObject(ns, name, "portico", host, harness.Path(path, networkingv1.PathTypePrefix, "echo", 80))
		i.Annotations = ann
		harness.CreateIngress(t, cp, i)
	}

	// ingress-nginx annotations/redirect.go: NewSingleIngress(host, "/something", ...)
	pathIng("redirect", "redirect", "/something", map[string]string{nginxAnn + "permanent-redirect": "http://redirect.example.com"})
	pathIng("redirect-code", "redirect-code", "/something", map[string]string{nginxAnn + "permanent-redirect": "http://redirect.example.com",
		nginxAnn + "permanent-redirect-code": "302"})
	// ingress-nginx annotations/relativeredirects.go (its one host,
	// rr.foo.com, is two here: the two tests run one after the other there)
	pathIng("rr-abs", "rr-abs.foo.com", "/something", map[string]string{nginxAnn + "permanent-redirect": "/new-location",
		nginxAnn + "relative-redirects": "false"})
	pathIng("rr", "rr.foo.com", "/something", map[string]string{nginxAnn + "permanent-redirect": "/new-location",
		nginxAnn + "relative-redirects": "true"})
	// ingress-nginx annotations/approot.go
	ing("approot", "approot.bar.com", map[string]string{nginxAnn + "app-root": "/foo"})
	// ingress-nginx annotations/fromtowwwredirect.go
	ing("fromtowww", "fromtowwwredirect.bar.com", map[string]string{nginxAnn + "from-to-www-redirect": "true"})
	const fromHost = "fromtowww-tls.bar.com"
	nginxIngress(t, ns, "fromtowww-tls", fromHost, "echo", map[string]string{nginxAnn + "from-to-www-redirect": "true"},
		"fromtowww-tls", fromHost, "www."+fromHost)
	// traefik e2e/permanentredirect_suite_test.go SetupSuite
	ing("perm-redirect-test", "perm-redirect-test.nginx.local", map[string]string{nginxAnn + "permanent-redirect": "https://example.com/new-home"})
	ing("temp-redirect-test", "temp-redirect-test.nginx.local", map[string]string{nginxAnn + "temporal-redirect": "https://example.com/temp"})
	ing("perm-redirect-308-test", "perm-redirect-308-test.nginx.local", map[string]string{nginxAnn + "permanent-redirect": "https://example.com/new-home",
		nginxAnn + "permanent-redirect-code": "308"})
	ing("temp-redirect-307-test", "temp-redirect-307-test.nginx.local", map[string]string{nginxAnn + "temporal-redirect": "https://example.com/temp-307",
		nginxAnn + "temporal-redirect-code": "307"})
	ing("both-redirect-test", "both-redirect-test.nginx.local", map[string]string{nginxAnn + "permanent-redirect": "https://example.com/permanent",
		nginxAnn + "temporal-redirect": "https://example.com/temporal"})
	// traefik e2e/approot_suite_test.go SetupSuite and TestAppRootWithVariableInterpolation
	ing("app-root-test", "app-root-test.nginx.local", map[string]string{nginxAnn + "app-root": "/dashboard"})
	ing("app-root-var", "app-root-var.nginx.local", map[string]string{nginxAnn + "app-root": "/login$is_args$args"})
	// traefik e2e/wwwredirect_suite_test.go SetupSuite
	ing("wwwredir-nonwww-test", "wwwredir-nonwww-test.nginx.local", map[string]string{nginxAnn + "from-to-www-redirect": "true"})
	ing("wwwredir-www-test", "www.wwwredir-www-test.nginx.local", map[string]string{nginxAnn + "from-to-www-redirect": "true"})

	p := startPorticoStdPorts(t, "127.0.83.1")
	c, base := peerClient(p.HTTPAddr, "127.0.0.1", nil), "http://"+p.HTTPAddr
	loc := func(l string) map[string]string { return map[string]string{"Location": l} }
	const perm, temp = http.StatusMovedPermanently, http.StatusFound

	t.Run("ingress-nginx redirect.go approot.go fromtowwwredirect.go", func(t *testing.T) {
		runExchanges(t, c, base, []exchange{
			{src: `ingress-nginx annotations/redirect.go "should respond with a standard redirect code"`,
				host: "redirect", path: "/something", status: perm, want: loc("http://redirect.example.com")},
			{src: `ingress-nginx annotations/redirect.go "should respond with a custom redirect code"`,
				host: "redirect-code", path: "/something", status: temp, want: loc("http://redirect.example.com")},
			{src: `ingress-nginx annotations/relativeredirects.go "should respond with absolute URL in Location"`,
				host: "rr-abs.foo.com", path: "/something", status: perm, want: loc("http://rr-abs.foo.com/new-location")},
			{src: `ingress-nginx annotations/relativeredirects.go "should respond with relative URL in Location"`,
				host: "rr.foo.com", path: "/something", status: perm, want: loc("/new-location")},
			{src: `ingress-nginx annotations/approot.go "should redirect to /foo"`,
				host: "approot.bar.com", path: "/", status: temp, want: loc("http://approot.bar.com/foo")},
			{src: `ingress-nginx annotations/fromtowwwredirect.go "should redirect from www HTTP to HTTP"`,
				host: "www.fromtowwwredirect.bar.com", path: "/foo", status: http.StatusPermanentRedirect,
				want: loc("http://fromtowwwredirect.bar.com:80/foo")},
		})
		tc := peerClient(p.HTTPSAddr, "127.0.0.1", &tls.Config{InsecureSkipVerify: true, ServerName: "www." + fromHost}) //nolint:gosec // the test checks answers, not the chain
		runExchanges(t, tc, "https://"+p.HTTPSAddr, []exchange{
			{src: `ingress-nginx annotations/fromtowwwredirect.go "should redirect from www HTTPS to HTTPS" (www to domain)`,
				host: "www." + fromHost, path: "/", status: http.StatusPermanentRedirect, want: loc("https://" + fromHost + ":443")},
		})
		tc = peerClient(p.HTTPSAddr, "127.0.0.1", &tls.Config{InsecureSkipVerify: true, ServerName: fromHost}) //nolint:gosec
		runExchanges(t, tc, "https://"+p.HTTPSAddr, []exchange{
			// Its ExpectedHost header (a configuration-snippet echoing
			// $http_host) is the Host the backend saw.
			{src: `ingress-nginx annotations/fromtowwwredirect.go "should redirect from www HTTPS to HTTPS" (domain not to www)`,
				host: fromHost, path: "/", status: http.StatusOK, want: loc(""), echoHost: fromHost},
		})
	})

	t.Run("traefik permanentredirect_suite_test.go", func(t *testing.T) {
		const s = "traefik e2e/permanentredirect_suite_test.go "
		runExchanges(t, c, base, []exchange{
			{src: s + "TestPermanentRedirectStatus", host: "perm-redirect-test.nginx.local", path: "/", status: perm},
			{src: s + "TestPermanentRedirectLocation", host: "perm-redirect-test.nginx.local", path: "/", status: perm,
				want: loc("https://example.com/new-home")},
			{src: s + "TestTemporalRedirectStatus", host: "temp-redirect-test.nginx.local", path: "/", status: temp},
			{src: s + "TestTemporalRedirectLocation", host: "temp-redirect-test.nginx.local", path: "/", status: temp,
				want: loc("https://example.com/temp")},
			{src: s + "TestPermanentRedirectCustomCode", host: "perm-redirect-308-test.nginx.local", path: "/", status: http.StatusPermanentRedirect},
			{src: s + "TestTemporalRedirectCustomCode", host: "temp-redirect-307-test.nginx.local", path: "/", status: http.StatusTemporaryRedirect},
			{src: s + "TestTemporalRedirectCustomCodeLocation", host: "temp-redirect-307-test.nginx.local", path: "/",
				status: http.StatusTemporaryRedirect, want: loc("https://example.com/temp-307")},
			{src: s + "TestPermanentRedirectPreservesMethod", host: "perm-redirect-test.nginx.local", method: http.MethodPost, path: "/", status: perm},
			{src: s + "TestTemporalPrecedenceOverPermanent", host: "both-redirect-test.nginx.local", path: "/", status: temp,
				want: loc("https://example.com/temporal")},
			{src: s + "TestPermanentRedirectCustomCodeLocation", host: "perm-redirect-308-test.nginx.local", path: "/",
				status: http.StatusPermanentRedirect, want: loc("https://example.com/new-home")},
		})
	})

	t.Run("traefik approot_suite_test.go", func(t *testing.T) {
		const s, h = "traefik e2e/approot_suite_test.go ", "app-root-test.nginx.local"
		runExchanges(t, c, base, []exchange{
			{src: s + `TestAppRoot "root redirects to app-root"`, host: h, path: "/", status: temp, want: loc("http://" + h + "/dashboard")},
			{src: s + `TestAppRoot "non-root path passthrough"`, host: h, path: "/other", status: http.StatusOK, want: loc(""), echoPath: "/other"},
			{src: s + `TestAppRoot "non-root path with trailing slash"`, host: h, path: "/some/path/", status: http.StatusOK},
			{src: s + `TestAppRoot "root with query parameter"`, host: h, path: "/?foo=bar", status: temp, want: loc("http://" + h + "/dashboard")},
			{src: s + `TestAppRoot "root with multiple query parameters"`, host: h, path: "/?foo=bar&baz=qux", status: temp,
				want: loc("http://" + h + "/dashboard")},
		})
		const v = "app-root-var.nginx.local"
		runExchanges(t, c, base, []exchange{
			{src: s + `TestAppRootWithVariableInterpolation "root without query params"`, host: v, path: "/", status: temp,
				want: loc("http://" + v + "/login")},
			{src: s + `TestAppRootWithVariableInterpolation "root with single query param"`, host: v, path: "/?foo=bar", status: temp,
				want: loc("http://" + v + "/login?foo=bar")},
			{src: s + `TestAppRootWithVariableInterpolation "root with multiple query params"`, host: v, path: "/?foo=bar&baz=qux", status: temp,
				want: loc("http://" + v + "/login?foo=bar&baz=qux")},
		})
	})

	t.Run("traefik wwwredirect_suite_test.go", func(t *testing.T) {
		const s = "traefik e2e/wwwredirect_suite_test.go "
		const nonWWW, www = "wwwredir-nonwww-test.nginx.local", "www.wwwredir-www-test.nginx.local"
		// Their Location checks (it names the other host and ends with
		// the path) are made on the whole of it, as ingress-nginx's
		// ngx_srv_redirect.lua writes it.
		runExchanges(t, c, base, []exchange{
			{src: s + "TestNonWWWHostServesNormally", host: nonWWW, path: "/", status: http.StatusOK, echoHost: nonWWW},
			{src: s + "TestWWWToNonWWWRedirect", host: "www." + nonWWW, path: "/", status: http.StatusPermanentRedirect,
				want: loc("http://" + nonWWW + ":80")},
			{src: s + "TestWWWHostServesNormally", host: www, path: "/", status: http.StatusOK, echoHost: www},
			{src: s + "TestNonWWWToWWWRedirect", host: strings.TrimPrefix(www, "www."), path: "/", status: http.StatusPermanentRedirect,
				want: loc("http://" + www + ":80")},
			{src: s + "TestWWWRedirectPreservesPath", host: "www." + nonWWW, path: "/some/path", status: http.StatusPermanentRedirect,
				want: loc("http://" + nonWWW + ":80/some/path")},
		})
	})
}

// TestNginxSSLRedirect ports the HTTP-level assertions of ingress-nginx's
// test/e2e/annotations/forcesslredirect.go and preservetrailingslash.go and
// of traefik's e2e/sslredirect_suite_test.go (its nginx side, which runs
// with use-forwarded-headers: the equivalent here is --trusted-proxies),
// and shows that a TLS-terminating proxy in front does not loop: its
// plain-HTTP request saying X-Forwarded-Proto: https is proxied, while the
// same header from anyone else is still redirected.
func TestNginxSSLRedirect(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	harness.Service(t, cp, ns, "echo", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "echo", "echo-1", 8080, harness.Endpoint{Addr: hostOf(be[0])}))
	ing := func(name, host string, ann map[string]string, secret string) {
		nginxIngress(t, ns, name, host, "echo", ann, secret)
	}
	const pAnn = "portico.dev/"
	// ingress-nginx annotations/forcesslredirect.go
	ing("forcesslredirect", "forcesslredirect.bar.com", map[string]string{nginxAnn + "force-ssl-redirect": "true"}, "")
	// ingress-nginx annotations/preservetrailingslash.go (its host is
	// forcesslredirect.bar.com too; here one host per Ingress)
	ing("preservetrailingslash", "preservetrailingslash.bar.com", map[string]string{nginxAnn + "ssl-redirect": "true",
		nginxAnn + "preserve-trailing-slash": "true"}, "preservetrailingslash")
	// traefik e2e/sslredirect_suite_test.go SetupSuite
	ing("ssl-redirect-test", "ssl-redirect-test.nginx.local", map[string]string{nginxAnn + "force-ssl-redirect": "true"}, "")
	ing("ssl-no-redirect-test", "ssl-no-redirect-test.nginx.local", map[string]string{nginxAnn + "ssl-redirect": "false"}, "")
	ing("ssl-redirect-explicit-test", "ssl-redirect-explicit-test.nginx.local", map[string]string{nginxAnn + "ssl-redirect": "true"}, "")
	// TLS hosts behind a TLS-terminating proxy, one per way of asking.
	ing("tls-default", "tls-default.test", nil, "tls-default")
	ing("tls-nginx", "tls-nginx.test", map[string]string{nginxAnn + "ssl-redirect": "true"}, "tls-nginx")
	ing("tls-nginx-force", "tls-nginx-force.test", map[string]string{nginxAnn + "force-ssl-redirect": "true"}, "tls-nginx-force")
	ing("tls-portico", "tls-portico.test", map[string]string{pAnn + "ssl-redirect": "true"}, "tls-portico")
	ing("tls-portico-force", "tls-portico-force.test", map[string]string{pAnn + "force-ssl-redirect": "true"}, "")

	// 127.0.0.2 is the load balancer in front; 127.0.0.1 is anyone else.
	p := startPorticoStdPorts(t, "127.0.83.2", "--trusted-proxies", "127.0.0.2/32")
	base := "http://" + p.HTTPAddr
	direct, lb := peerClient(p.HTTPAddr, "127.0.0.1", nil), peerClient(p.HTTPAddr, "127.0.0.2", nil)
	loc := func(l string) map[string]string { return map[string]string{"Location": l} }
	const moved = http.StatusPermanentRedirect
	xfp := []string{"X-Forwarded-Proto", "https"}

	t.Run("ingress-nginx forcesslredirect.go preservetrailingslash.go", func(t *testing.T) {
		runExchanges(t, direct, base, []exchange{
			{src: `ingress-nginx annotations/forcesslredirect.go "should redirect to https"`,
				host: "forcesslredirect.bar.com", path: "/", status: moved, want: loc("https://forcesslredirect.bar.com")},
			{src: `ingress-nginx annotations/preservetrailingslash.go "should allow preservation of trailing slashes"`,
				host: "preservetrailingslash.bar.com", path: "/", status: moved, want: loc("https://preservetrailingslash.bar.com/")},
		})
	})
	t.Run("traefik sslredirect_suite_test.go", func(t *testing.T) {
		const s = "traefik e2e/sslredirect_suite_test.go "
		const on = "ssl-redirect-test.nginx.local"
		// Their Location checks (present, starts with https://, ends with
		// the path and query) are made on the whole of it, as
		// ingress-nginx's lua_ingress.lua writes it.
		runExchanges(t, direct, base, []exchange{
			{src: s + "TestSSLRedirectEnabled", host: on, path: "/", status: moved, want: loc("https://" + on)},
			{src: s + "TestSSLRedirectLocationHeader", host: on, path: "/", status: moved, want: loc("https://" + on)},
			{src: s + "TestSSLRedirectDisabled", host: "ssl-no-redirect-test.nginx.local", path: "/", status: http.StatusOK, want: loc("")},
			{src: s + "TestSSLRedirectPreservesPath", host: on, path: "/some/path", status: moved, want: loc("https://" + on + "/some/path")},
			{src: s + "TestSSLRedirectExplicitWithoutTLS", host: "ssl-redirect-explicit-test.nginx.local", path: "/", status: http.StatusOK, want: loc("")},
			{src: s + "TestSSLRedirectPreservesQueryString", host: on, path: "/path?key=value", status: moved,
				want: loc("https://" + on + "/path?key=value")},
		})
		runExchanges(t, lb, base, []exchange{
			{src: s + "TestSSLRedirectBypassedByXForwardedProto", host: on, path: "/", hdr: xfp, status: http.StatusOK, want: loc("")},
			{src: s + "TestSSLRedirectBypassXForwardedProtoPreservesPath", host: on, path: "/some/path", hdr: xfp,
				status: http.StatusOK, echoPath: "/some/path"},
		})
	})
	t.Run("a trusted proxy's X-Forwarded-Proto: https is proxied, anyone else's redirected", func(t *testing.T) {
		for _, host := range []string{"tls-default.test", "tls-nginx.test", "tls-nginx-force.test", "tls-portico.test", "tls-portico-force.test"} {
			// ingress-nginx drops one trailing "/" of the request URI
			// (lua_ingress.lua, unless preserve-trailing-slash); Portico's
			// own redirect keeps the URI as it is.
			const path = "/a/"
			want := "https://" + host + "/a/"
			if strings.HasPrefix(host, "tls-nginx") {
				want = "https://" + host + "/a"
			}
			runExchanges(t, lb, base, []exchange{
				{src: "Portico: trusted proxy, X-Forwarded-Proto https", host: host, path: path, hdr: xfp, status: http.StatusOK,
					want: loc(""), echoPath: path, echoHost: host},
				{src: "Portico: trusted proxy, X-Forwarded-Proto http", host: host, path: path, hdr: []string{"X-Forwarded-Proto", "http"},
					status: moved, want: loc(want)},
				{src: "Portico: trusted proxy, no X-Forwarded-Proto", host: host, path: path, status: moved, want: loc(want)},
			})
			runExchanges(t, direct, base, []exchange{
				{src: "Portico: untrusted peer, X-Forwarded-Proto https", host: host, path: path, hdr: xfp, status: moved, want: loc(want)},
			})
		}
		// Over HTTPS the same hosts are served, not redirected again.
		tc := peerClient(p.HTTPSAddr, "127.0.0.1", &tls.Config{InsecureSkipVerify: true, ServerName: "tls-nginx.test"}) //nolint:gosec // the test checks answers, not the chain
		runExchanges(t, tc, "https://"+p.HTTPSAddr, []exchange{
			{src: "Portico: HTTPS is served", host: "tls-nginx.test", path: "/a/", status: http.StatusOK, want: loc(""), echoPath: "/a/"},
		})
	})
}
