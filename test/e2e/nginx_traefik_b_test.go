package e2e

// Ports of traefik/ingress-nginx-migration's e2e suites (e2e/*_suite_test.go):
// each upstream test sends the same request to ingress-nginx and to Traefik's
// kubernetesIngressNginx provider and asserts both answer alike. Here the
// Ingress and request are theirs and the expected answer is ingress-nginx's.
// Their backend is traefik/whoami (one replica); ours is the echo backend,
// whose ?wait=D stands in for whoami's.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// traefikReply is what one request got.
type traefikReply struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
}

// traefikDo sends method base+path with Host host, an optional body (sent
// with a Content-Length and Content-Type application/octet-stream, as the
// suites' makeRequestWithBody does) and header pairs. A body that cannot be
// read after the status (a server closing after 413) is tolerated, as
// upstream does.
func traefikDo(c *http.Client, method, url, host string, body []byte, hdr ...string) (traefikReply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return traefikReply{}, err
	}
	req.Host = host
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return traefikReply{}, fmt.Errorf("%s %s (Host %s): %w", method, url, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return traefikReply{resp.StatusCode, resp.Header, b, time.Since(start)}, nil
}

// traefikIngress creates Ingress name routing host / (Prefix) to svc:80,
// as the suites' ingress.yaml.tmpl does.
func traefikIngress(t *testing.T, ns, name, host, svc string, ann map[string]string) {
	t.Helper()
	ing := harness.IngressObject(ns, name, "portico", host, harness.Path("/", prefix, svc, 80))
	ing.Annotations = ann
	harness.CreateIngress(t, cp, ing)
}

// traefikService creates Service svc:80 whose one endpoint is be.
func traefikService(t *testing.T, ns, svc string, be *harness.Backend) {
	t.Helper()
	harness.Service(t, cp, ns, svc, 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, svc, svc+"-1", 8080, harness.Endpoint{Addr: hostOf(be)}))
}

// findSetCookie is the suites' findCookie: the first Set-Cookie of cookie name.
func findSetCookie(h http.Header, name string) string {
	for _, v := range h.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

// TestNginxTraefikSessionAffinity ports sessionaffinity_suite_test.go: the
// affinity cookie and its session-cookie-* attributes. Like upstream, each
// Ingress has its own Service (ingress-nginx merges sticky settings per
// upstream), all three on the one backend.
func TestNginxTraefikSessionAffinity(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "backend", 1)
	const (
		defaultHost  = "affinity-default-test.nginx.local"
		customHost   = "affinity-custom-test.nginx.local"
		extendedHost = "affinity-extended-test.nginx.local"
	)
	for _, s := range []struct {
		name, host, svc string
		ann             map[string]string
	}{
		{"affinity-default-test", defaultHost, "backend-sa-default", map[string]string{
			ngx + "affinity": "cookie",
		}},
		{"affinity-custom-test", customHost, "backend-sa-custom", map[string]string{
			ngx + "affinity":                "cookie",
			ngx + "session-cookie-name":     "SERVERID",
			ngx + "session-cookie-secure":   "true",
			ngx + "session-cookie-path":     "/app",
			ngx + "session-cookie-samesite": "Strict",
			ngx + "session-cookie-max-age":  "3600",
		}},
		{"affinity-extended-test", extendedHost, "backend-sa-extended", map[string]string{
			ngx + "affinity":               "cookie",
			ngx + "session-cookie-name":    "EXTSESSION",
			ngx + "session-cookie-domain":  ".example.com",
			ngx + "session-cookie-expires": "172800",
		}},
	} {
		traefikService(t, ns, s.svc, be[0])
		traefikIngress(t, ns, s.name, s.host, s.svc, s.ann)
	}
	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	for _, h := range []string{defaultHost, customHost, extendedHost} {
		harness.Eventually(t, 10*time.Second, wantStatus(c, base+"/", h, http.StatusOK))
	}

	for _, tc := range []struct {
		src, host, path, cookie string
		contains                []string // in the cookie's Set-Cookie, which must be there
		expiry                  bool     // it has Expires= or Max-Age=
	}{
		// sessionaffinity_suite_test.go TestDefaultCookiePresent
		{src: "TestDefaultCookiePresent", host: defaultHost, path: "/", cookie: "INGRESSCOOKIE"},
		// sessionaffinity_suite_test.go TestDefaultCookiePath
		{src: "TestDefaultCookiePath", host: defaultHost, path: "/", cookie: "INGRESSCOOKIE", contains: []string{"Path=/"}},
		// sessionaffinity_suite_test.go TestCustomCookieName
		{src: "TestCustomCookieName", host: customHost, path: "/app", cookie: "SERVERID"},
		// sessionaffinity_suite_test.go TestCustomCookieSecure
		{src: "TestCustomCookieSecure", host: customHost, path: "/app", cookie: "SERVERID", contains: []string{"Secure"}},
		// sessionaffinity_suite_test.go TestCustomCookiePath
		{src: "TestCustomCookiePath", host: customHost, path: "/app", cookie: "SERVERID", contains: []string{"Path=/app"}},
		// sessionaffinity_suite_test.go TestCustomCookieSameSite
		{src: "TestCustomCookieSameSite", host: customHost, path: "/app", cookie: "SERVERID", contains: []string{"SameSite=Strict"}},
		// sessionaffinity_suite_test.go TestCustomCookieMaxAge
		{src: "TestCustomCookieMaxAge", host: customHost, path: "/app", cookie: "SERVERID", contains: []string{"Max-Age=3600"}},
		// sessionaffinity_suite_test.go TestExtendedCookieDomain
		{src: "TestExtendedCookieDomain", host: extendedHost, path: "/", cookie: "EXTSESSION", contains: []string{"Domain=.example.com"}},
		// sessionaffinity_suite_test.go TestExtendedCookieExpires
		{src: "TestExtendedCookieExpires", host: extendedHost, path: "/", cookie: "EXTSESSION", expiry: true},
	} {
		r, err := traefikDo(c, http.MethodGet, base+tc.path, tc.host, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		sc := findSetCookie(r.header, tc.cookie)
		if r.status != http.StatusOK || sc == "" {
			t.Errorf("%s: GET %s (Host %s) = %d, Set-Cookie %q, want 200 and a %s cookie", tc.src, tc.path, tc.host, r.status, r.header.Values("Set-Cookie"), tc.cookie)
			continue
		}
		for _, want := range tc.contains {
			if !strings.Contains(sc, want) {
				t.Errorf("%s: Set-Cookie %q, want %s", tc.src, sc, want)
			}
		}
		if tc.expiry && !strings.Contains(sc, "Expires=") && !strings.Contains(sc, "Max-Age=") {
			t.Errorf("%s: Set-Cookie %q, want Expires or Max-Age", tc.src, sc)
		}
	}

	// sessionaffinity_suite_test.go TestStickySessionWithCookie: the first
	// request gets INGRESSCOOKIE; sending it back is answered 200.
	r, err := traefikDo(c, http.MethodGet, base+"/", defaultHost, nil)
	if err != nil {
		t.Fatalf("TestStickySessionWithCookie: %v", err)
	}
	sc := findSetCookie(r.header, "INGRESSCOOKIE")
	if sc == "" {
		t.Fatalf("TestStickySessionWithCookie: first request %d, Set-Cookie %q, want INGRESSCOOKIE", r.status, r.header.Values("Set-Cookie"))
	}
	cookie, _, _ := strings.Cut(sc, ";")
	if r, err := traefikDo(c, http.MethodGet, base+"/", defaultHost, nil, "Cookie", cookie); err != nil || r.status != http.StatusOK {
		t.Errorf("TestStickySessionWithCookie: with %s: %d, %v, want 200", cookie, r.status, err)
	}
}

// TestNginxTraefikProxyBodySize ports proxybodysize_suite_test.go:
// proxy-body-size in bytes, k and m, 0 (unlimited), and the buffering
// annotations Portico accepts without effect (it streams bodies), which
// must not change the answers.
func TestNginxTraefikProxyBodySize(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "backend", 1)
	traefikService(t, ns, "backend", be[0])
	const (
		limitHost     = "body-limit-test.nginx.local"
		noLimitHost   = "body-no-limit-test.nginx.local"
		bufferOffHost = "buffering-off-test.nginx.local"
		limitMBHost   = "body-limit-mb-test.nginx.local"
		bufferCfgHost = "buffer-config-test.nginx.local"
	)
	for host, ann := range map[string]map[string]string{
		limitHost:   {ngx + "proxy-body-size": "1k"},
		noLimitHost: {ngx + "proxy-body-size": "0"},
		bufferOffHost: {
			ngx + "proxy-buffering":         "off",
			ngx + "proxy-request-buffering": "off",
		},
		limitMBHost: {ngx + "proxy-body-size": "1m"},
		bufferCfgHost: {
			ngx + "client-body-buffer-size":  "16k",
			ngx + "proxy-buffer-size":        "8k",
			ngx + "proxy-buffers-number":     "8",
			ngx + "proxy-max-temp-file-size": "1024m",
		},
	} {
		traefikIngress(t, ns, strings.TrimSuffix(host, ".nginx.local"), host, "backend", ann)
	}
	p := harness.StartPortico(t, cp)
	c := p.Client()
	c.Timeout = 5 * time.Second // the suites' client
	base := "http://" + p.HTTPAddr
	for _, h := range []string{limitHost, noLimitHost, bufferOffHost, limitMBHost, bufferCfgHost} {
		harness.Eventually(t, 10*time.Second, wantStatus(c, base+"/", h, http.StatusOK))
	}

	const kib = 1024
	for _, tc := range []struct {
		src    string
		host   string
		method string
		size   int // bytes of body; -1 sends none
		fill   byte
		want   int
	}{
		// proxybodysize_suite_test.go TestSmallBodyWithinLimit
		{"TestSmallBodyWithinLimit", limitHost, http.MethodPost, 500, 'A', 200},
		// proxybodysize_suite_test.go TestLargeBodyExceedsLimit
		{"TestLargeBodyExceedsLimit", limitHost, http.MethodPost, 2 * kib, 'A', 413},
		// proxybodysize_suite_test.go TestLargeBodyUnlimited
		{"TestLargeBodyUnlimited", noLimitHost, http.MethodPost, 2 * kib, 'A', 200},
		// proxybodysize_suite_test.go TestVeryLargeBodyUnlimited
		{"TestVeryLargeBodyUnlimited", noLimitHost, http.MethodPost, 100 * kib, 'A', 200},
		// proxybodysize_suite_test.go TestBufferingOffSmallBody
		{"TestBufferingOffSmallBody", bufferOffHost, http.MethodPost, 500, 'B', 200},
		// proxybodysize_suite_test.go TestBufferingOffLargeBody
		{"TestBufferingOffLargeBody", bufferOffHost, http.MethodPost, 100 * kib, 'B', 200},
		// proxybodysize_suite_test.go TestExactBoundaryBody: upstream asserts
		// only that both controllers agree; ingress-nginx answers 200
		// (client_max_body_size refuses a Content-Length above the limit).
		{"TestExactBoundaryBody", limitHost, http.MethodPost, 1 * kib, 'A', 200},
		// proxybodysize_suite_test.go TestBodyLimitMBSuffix (500KB under 1m, 2MB over it)
		{"TestBodyLimitMBSuffix 500KB", limitMBHost, http.MethodPost, 500 * kib, 'M', 200},
		{"TestBodyLimitMBSuffix 2MB", limitMBHost, http.MethodPost, 2 * kib * kib, 'M', 413},
		// proxybodysize_suite_test.go TestBufferConfigNormalRequest
		{"TestBufferConfigNormalRequest", bufferCfgHost, http.MethodGet, -1, 0, 200},
		// proxybodysize_suite_test.go TestBufferConfigSmallBody
		{"TestBufferConfigSmallBody", bufferCfgHost, http.MethodPost, 500, 'C', 200},
		// proxybodysize_suite_test.go TestBufferConfigLargeBody
		{"TestBufferConfigLargeBody", bufferCfgHost, http.MethodPost, 100 * kib, 'C', 200},
		// proxybodysize_suite_test.go TestClientBodyBufferWithinBuffer
		{"TestClientBodyBufferWithinBuffer", bufferCfgHost, http.MethodPost, 8 * kib, 'D', 200},
		// proxybodysize_suite_test.go TestClientBodyBufferExceedsBuffer
		{"TestClientBodyBufferExceedsBuffer", bufferCfgHost, http.MethodPost, 32 * kib, 'D', 200},
	} {
		var body []byte
		if tc.size >= 0 {
			body = bytes.Repeat([]byte{tc.fill}, tc.size)
		}
		r, err := traefikDo(c, tc.method, base+"/", tc.host, body)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if r.status != tc.want {
			t.Errorf("%s: %s / (Host %s) with %d bytes = %d, want %d", tc.src, tc.method, tc.host, tc.size, r.status, tc.want)
			continue
		}
		// Portico: what was let through reached the backend whole.
		if tc.want == http.StatusOK && tc.size > 0 {
			e, err := harness.ParseEcho(r.body)
			if err != nil || e.BodyBytes != int64(tc.size) {
				t.Errorf("%s: the backend got %d bytes (%v), want %d", tc.src, e.BodyBytes, err, tc.size)
			}
		}
	}
}

// TestNginxTraefikProxyTimeout ports proxytimeout_suite_test.go:
// proxy-connect-, -read- and -send-timeout, with a backend that waits
// (?wait=, as whoami's) inside or beyond the read timeout.
func TestNginxTraefikProxyTimeout(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "backend", 1)
	traefikService(t, ns, "backend", be[0])
	const (
		allHost         = "timeout-all-test.nginx.local"
		shortReadHost   = "timeout-short-read-test.nginx.local"
		connectOnlyHost = "timeout-connect-only-test.nginx.local"
		sendOnlyHost    = "timeout-send-only-test.nginx.local"
	)
	for host, ann := range map[string]map[string]string{
		allHost: {
			ngx + "proxy-connect-timeout": "30",
			ngx + "proxy-read-timeout":    "30",
			ngx + "proxy-send-timeout":    "30",
		},
		shortReadHost: {
			ngx + "proxy-connect-timeout": "5",
			ngx + "proxy-read-timeout":    "1",
			ngx + "proxy-send-timeout":    "5",
		},
		connectOnlyHost: {ngx + "proxy-connect-timeout": "10"},
		sendOnlyHost:    {ngx + "proxy-send-timeout": "10"},
	} {
		traefikIngress(t, ns, strings.TrimSuffix(host, ".nginx.local"), host, "backend", ann)
	}
	p := harness.StartPortico(t, cp)
	base := "http://" + p.HTTPAddr
	for _, h := range []string{allHost, shortReadHost, connectOnlyHost, sendOnlyHost} {
		harness.Eventually(t, 10*time.Second, wantStatus(p.Client(), base+"/", h, http.StatusOK))
	}

	for _, tc := range []struct {
		src           string
		host, method  string
		path          string
		clientTimeout time.Duration // the suites': 5s (MakeRequest), or 10s or 15s
		want          int
		// Portico: how long the answer may take: at least min (the
		// backend's wait was served), less than max.
		min, max time.Duration
	}{
		// proxytimeout_suite_test.go TestAllTimeoutsNormalRequest
		{"TestAllTimeoutsNormalRequest", allHost, http.MethodGet, "/", 5 * time.Second, 200, 0, 5 * time.Second},
		// proxytimeout_suite_test.go TestAllTimeoutsWithSubpath
		{"TestAllTimeoutsWithSubpath", allHost, http.MethodGet, "/some/path", 5 * time.Second, 200, 0, 5 * time.Second},
		// proxytimeout_suite_test.go TestShortReadTimeoutFastRequest
		{"TestShortReadTimeoutFastRequest", shortReadHost, http.MethodGet, "/", 10 * time.Second, 200, 0, 5 * time.Second},
		// proxytimeout_suite_test.go TestShortReadTimeoutSlowBackend: 504
		// after the 1s read timeout, well before the backend's 5s.
		{"TestShortReadTimeoutSlowBackend", shortReadHost, http.MethodGet, "/?wait=5s", 15 * time.Second, 504, time.Second, 4 * time.Second},
		// proxytimeout_suite_test.go TestAllTimeoutsSlowBackendWithinLimit
		{"TestAllTimeoutsSlowBackendWithinLimit", allHost, http.MethodGet, "/?wait=2s", 15 * time.Second, 200, 2 * time.Second, 10 * time.Second},
		// proxytimeout_suite_test.go TestConnectOnlyNormalRequest
		{"TestConnectOnlyNormalRequest", connectOnlyHost, http.MethodGet, "/", 5 * time.Second, 200, 0, 5 * time.Second},
		// proxytimeout_suite_test.go TestSendOnlyNormalRequest
		{"TestSendOnlyNormalRequest", sendOnlyHost, http.MethodGet, "/", 5 * time.Second, 200, 0, 5 * time.Second},
		// proxytimeout_suite_test.go TestAllTimeoutsPostRequest
		{"TestAllTimeoutsPostRequest", allHost, http.MethodPost, "/", 5 * time.Second, 200, 0, 5 * time.Second},
		// proxytimeout_suite_test.go TestConnectOnlySlowBackendWithinDefaultReadTimeout
		{"TestConnectOnlySlowBackendWithinDefaultReadTimeout", connectOnlyHost, http.MethodGet, "/?wait=2s", 15 * time.Second, 200, 2 * time.Second, 10 * time.Second},
	} {
		c := p.Client()
		c.Timeout = tc.clientTimeout
		r, err := traefikDo(c, tc.method, base+tc.path, tc.host, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if r.status != tc.want {
			t.Errorf("%s: %s %s (Host %s) = %d after %v, want %d", tc.src, tc.method, tc.path, tc.host, r.status, r.elapsed, tc.want)
		}
		if r.elapsed < tc.min || r.elapsed >= tc.max {
			t.Errorf("%s: answered %d after %v, want from %v to %v", tc.src, r.status, r.elapsed, tc.min, tc.max)
		}
	}
}
