package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"portico.dev/portico/test/harness"
)

// wantEchoHost checks (for Eventually) that GET path with Host host gets
// 200 from a backend that saw that very Host (ingress-nginx's echo
// "host=<host>").
func wantEchoHost(c *http.Client, base, path, host string) func() error {
	return func() error {
		st, e, err := harness.GetEcho(c, base+path, host)
		if err != nil {
			return err
		}
		if st != http.StatusOK || e.Host != host {
			return fmt.Errorf("GET %s (Host %s) = %d, backend saw Host %q", path, host, st, e.Host)
		}
		return nil
	}
}

// TestNginxServerAlias ports ingress-nginx's annotations/alias.go and
// traefik's e2e/serveralias_suite_test.go: server-alias gives the host's
// routes to more names.
func TestNginxServerAlias(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	harness.Service(t, cp, ns, "echo", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "echo", "echo-1", 8080, endpoints(be...)...))
	prefix := networkingv1.PathTypePrefix
	ingress := func(name, host, path, alias string) {
		ing := harness.IngressObject(ns, name, "portico", host, harness.Path(path, prefix, "echo", 80))
		if alias != "" {
			ing.Annotations = map[string]string{ngx + "server-alias": alias}
		}
		harness.CreateIngress(t, cp, ing)
	}
	ingress("plain", "foo.plain.test", "/", "")
	ingress("alias", "foo.alias.test", "/", "bar.alias.test")
	ingress("app-a", "foo.two.test", "/app-a", "")
	ingress("app-b", "foo.two.test", "/app-b", "bar.two.test")
	ingress("multi", "multi.alias.test", "/", "alias1.multi.test, alias2.multi.test,*.wild.test")
	// An alias that is another Ingress's host stays that host's.
	ingress("taken", "foo.taken.test", "/", "foo.plain.test")

	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	for _, tc := range []struct{ src, host, path string }{
		{`ingress-nginx annotations/alias.go "should return status code 200 for host 'foo' and 404 for 'bar'"`, "foo.plain.test", "/"},
		{`ingress-nginx annotations/alias.go "should return status code 200 for host 'foo' and 'bar'"`, "foo.alias.test", "/"},
		{`ingress-nginx annotations/alias.go "should return status code 200 for host 'foo' and 'bar'"`, "bar.alias.test", "/"},
		{`ingress-nginx annotations/alias.go "... defined in two ingresses, different path with one alias"`, "foo.two.test", "/app-a"},
		{`ingress-nginx annotations/alias.go "... defined in two ingresses, different path with one alias"`, "bar.two.test", "/app-a"},
		{"traefik e2e/serveralias_suite_test.go TestPrimaryHostServesNormally", "foo.alias.test", "/"},
		{"traefik e2e/serveralias_suite_test.go TestAliasHostServesContent", "bar.alias.test", "/"},
		{"traefik e2e/serveralias_suite_test.go TestAliasHostOnSubpath", "bar.alias.test", "/some/path"},
		{"traefik e2e/serveralias_suite_test.go TestMultipleAliases", "alias1.multi.test", "/"},
		{"traefik e2e/serveralias_suite_test.go TestMultipleAliases", "alias2.multi.test", "/"},
		{"Portico: a wildcard alias", "x.wild.test", "/"},
		{"Portico: the alias's own path", "bar.two.test", "/app-b"},
	} {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			t.Log(tc.src)
			harness.Eventually(t, 10*time.Second, wantEchoHost(c, base, tc.path, tc.host))
		})
	}
	for _, tc := range []struct{ src, host string }{
		// ingress-nginx annotations/alias.go "should return status code 200 for host 'foo' and 404 for 'bar'"
		{"alias.go", "bar.plain.test"},
		// traefik e2e/serveralias_suite_test.go TestNonAliasHostReturns404
		{"serveralias_suite_test.go", "unknown-alias.alias.test"},
	} {
		if err := wantStatus(c, base+"/", tc.host, http.StatusNotFound)(); err != nil {
			t.Errorf("%s: %v", tc.src, err)
		}
	}
	// The alias foo.plain.test of foo.taken.test is ignored, with a
	// Warning; foo.taken.test itself works.
	harness.Eventually(t, 10*time.Second, wantEchoHost(c, base, "/", "foo.taken.test"))
	wantEvent(t, ns, "taken", "Warning", "AliasConflict", `server-alias "foo.plain.test"`, "is a host of its own")
}

// mirrorRecorder is the mirror target: a real HTTP server in a network
// namespace of its own that keeps what it was sent.
type mirrorRecorder struct {
	mu   sync.Mutex
	seen []mirrored
}

type mirrored struct{ method, uri, host, body string }

func (m *mirrorRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	m.mu.Lock()
	m.seen = append(m.seen, mirrored{r.Method, r.RequestURI, r.Host, string(b)})
	m.mu.Unlock()
	if r.URL.Query().Get("slow") != "" {
		time.Sleep(3 * time.Second) // the client must not wait for it
	}
	w.WriteHeader(http.StatusTeapot) // discarded
}

// find returns the recorded request with URI uri.
func (m *mirrorRecorder) find(uri string) (mirrored, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.seen {
		if s.uri == uri {
			return s, true
		}
	}
	return mirrored{}, false
}

// TestNginxMirror: mirror-target copies each request to a real second
// server while the client gets the backend's answer. ingress-nginx's
// annotations/mirror.go checks nginx.conf text only (0 HTTP-level
// assertions to port); traefik has no mirror suite.
func TestNginxMirror(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	mpod, _ := pods(t, "mirror", 1)
	l, err := mpod.Listen("tcp", net.JoinHostPort(mpod.Addrs[0].String(), "9090"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &mirrorRecorder{}
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	target := "http://" + l.Addr().String()

	site(t, ns, "body", "body.mirror.test", map[string]string{ngx + "mirror-target": target + "$request_uri"}, hostOf(be[0]))
	site(t, ns, "nobody", "nobody.mirror.test", map[string]string{ngx + "mirror-target": target + "/copy$request_uri",
		ngx + "mirror-request-body": "off", ngx + "mirror-host": "test.env.com"}, hostOf(be[0]))
	site(t, ns, "nxdomain", "nxdomain.mirror.test", map[string]string{ngx + "mirror-target": "http://no-such-mirror.invalid$request_uri"}, hostOf(be[0]))
	site(t, ns, "bad", "bad.mirror.test", map[string]string{ngx + "mirror-target": "http://x.example/$host"}, hostOf(be[0]))

	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	post := func(host, uri, body string) (int, harness.Echo, time.Duration) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+uri, strings.NewReader(body))
		req.Host = host
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		e, _ := harness.ParseEcho(b)
		return resp.StatusCode, e, time.Since(start)
	}
	for _, h := range []string{"body", "nobody", "nxdomain", "bad"} {
		harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", h+".mirror.test", "echo-0"))
	}
	wantMirrored := func(want mirrored) {
		t.Helper()
		harness.Eventually(t, 5*time.Second, func() error {
			got, ok := rec.find(want.uri)
			if !ok {
				return fmt.Errorf("the mirror has not seen %s", want.uri)
			}
			if got != want {
				return fmt.Errorf("the mirror got %+v, want %+v", got, want)
			}
			return nil
		})
	}

	// The client gets the backend's answer (not the mirror's 418) with
	// the whole body; the copy has method, request URI and body, and as
	// Host the target's host (ingress-nginx: the target URL's hostname).
	st, e, _ := post("body.mirror.test", "/orders/1?x=y", "payload-1")
	if st != http.StatusOK || e.Backend != "echo-0" || e.BodyBytes != int64(len("payload-1")) {
		t.Errorf("client got %d from %q (%d body bytes)", st, e.Backend, e.BodyBytes)
	}
	wantMirrored(mirrored{"POST", "/orders/1?x=y", mpod.Addrs[0].String(), "payload-1"})
	// A slow mirror does not slow the client down.
	if st, _, took := post("body.mirror.test", "/slow?slow=1", "s"); st != http.StatusOK || took > 2*time.Second {
		t.Errorf("with a slow mirror: %d after %s", st, took)
	}
	// mirror-request-body off and mirror-host.
	if st, e, _ = post("nobody.mirror.test", "/n?k=v", "secret"); st != http.StatusOK || e.BodyBytes != 6 {
		t.Errorf("nobody: %d, %d body bytes", st, e.BodyBytes)
	}
	wantMirrored(mirrored{"POST", "/copy/n?k=v", "test.env.com", ""})
	// A target that resolves to nothing changes nothing for the client.
	if st, e, took := post("nxdomain.mirror.test", "/", "x"); st != http.StatusOK || e.Backend != "echo-0" || took > 2*time.Second {
		t.Errorf("unresolvable mirror: %d from %q after %s", st, e.Backend, took)
	}
	wantEvent(t, ns, "bad", "Warning", "InvalidAnnotation", ngx+"mirror-target", "$request_uri")
}

// TestNginxCustomErrors ports ingress-nginx's annotations/default_backend.go
// and disableproxyintercepterrors.go and traefik's
// e2e/customerrors_suite_test.go (ingress-nginx's customhttperrors.go
// checks nginx.conf text only). Service app (echo "app-0", /__status/NNN
// answers NNN) serves the Ingresses; Service errors (echo "errors-0") is
// their default-backend.
func TestNginxCustomErrors(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, app := pods(t, "app", 1)
	_, errs := pods(t, "errors", 1)
	for name, b := range map[string]*harness.Backend{"app": app[0], "errors": errs[0]} {
		harness.Service(t, cp, ns, name, 80)
		harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, name, name+"-1", 8080, endpoints(b)...))
	}
	prefix := networkingv1.PathTypePrefix
	ingress := func(name, host, svc string, ann map[string]string) {
		ing := harness.IngressObject(ns, name, "portico", host, harness.Path("/", prefix, svc, 80))
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	ingress("default-backend", "default-backend", "invalid", map[string]string{ngx + "default-backend": "errors"})
	ingress("pie", "pie.foo.com", "app", map[string]string{ngx + "custom-http-errors": "404",
		ngx + "disable-proxy-intercept-errors": "true", ngx + "default-backend": "errors"})
	ingress("ce", "ce.test", "app", map[string]string{ngx + "custom-http-errors": "404,503", ngx + "default-backend": "errors"})
	ingress("ce-nobackend", "nobackend.ce.test", "app", map[string]string{ngx + "custom-http-errors": "404,503"})

	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	do := func(method, host, path string, hdr ...string) (int, string, harness.Echo) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader("client body"))
		req.Host = host
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		e, _ := harness.ParseEcho(b)
		return resp.StatusCode, resp.Header.Get("X-Backend"), e
	}
	for _, h := range []string{"pie.foo.com", "ce.test", "nobackend.ce.test"} {
		harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", h, "app-0"))
	}
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "default-backend", "errors-0"))
	errorPage := func(src string, st int, from string, e harness.Echo, code, ingName, svc, reqID string) {
		t.Helper()
		if st != http.StatusOK || from != "errors-0" {
			t.Errorf("%s: %d from %q, want 200 from the default backend", src, st, from)
			return
		}
		for k, v := range map[string]string{"X-Code": code, "X-Ingress-Name": ingName, "X-Service-Name": svc, "X-Request-Id": reqID, "X-Namespace": ns} {
			if v != "" && e.Headers.Get(k) != v {
				t.Errorf("%s: the default backend got %s %q, want %q", src, k, e.Headers.Get(k), v)
			}
		}
		if e.Path != "/" || e.BodyBytes != 0 {
			t.Errorf("%s: the default backend got path %q with %d body bytes", src, e.Path, e.BodyBytes)
		}
	}

	// ingress-nginx annotations/default_backend.go "should use a custom default backend as upstream"
	st, from, e := do("GET", "default-backend", "/alma/armud", "X-Request-Id", "something-unique")
	errorPage("default_backend.go", st, from, e, "503", "default-backend", "invalid", "something-unique")
	if e.Headers.Get("X-Original-Uri") != "/alma/armud" {
		t.Errorf("X-Original-URI %q", e.Headers.Get("X-Original-Uri"))
	}

	// ingress-nginx annotations/disableproxyintercepterrors.go "configures Nginx correctly":
	// with intercept disabled the backend's 404 reaches the client ...
	if st, from, _ := do("GET", "pie.foo.com", "/__status/404", "X-Request-Id", "proxy_intercept_errors"); st != http.StatusNotFound || from != "app-0" {
		t.Errorf("intercept disabled: %d from %q, want the backend's 404", st, from)
	}
	// ... and with it enabled, the default backend answers.
	harness.UpdateIngress(t, cp, ns, "pie", func(ing *networkingv1.Ingress) {
		ing.Annotations[ngx+"disable-proxy-intercept-errors"] = "false"
	})
	harness.Eventually(t, 10*time.Second, func() error {
		if _, from, _ := do("GET", "pie.foo.com", "/__status/404"); from != "errors-0" {
			return fmt.Errorf("404 still from %q", from)
		}
		return nil
	})
	st, from, e = do("GET", "pie.foo.com", "/__status/404", "X-Request-Id", "proxy_intercept_errors")
	errorPage("disableproxyintercepterrors.go", st, from, e, "404", "pie", "app", "proxy_intercept_errors")

	// traefik e2e/customerrors_suite_test.go
	if st, from, _ := do("GET", "ce.test", "/"); st != 200 || from != "app-0" {
		t.Errorf("TestNonErrorStatusPassesThrough/TestNonErrorBodyPassesThrough/TestUnlistedErrorCodeNotIntercepted: %d from %q", st, from)
	}
	for _, code := range []string{"404", "503"} {
		// Test404TriggersCustomErrorPage, Test503TriggersCustomErrorPage and
		// Test404StatusCodePreserved, Test503StatusCodePreserved: nginx's
		// status is the error backend's (200), as traefik's.
		st, from, e := do("GET", "ce.test", "/__status/"+code)
		errorPage("Test"+code+"TriggersCustomErrorPage", st, from, e, code, "ce", "app", "")
	}
	if st, from, _ := do("GET", "ce.test", "/__status/500"); st != 500 || from != "app-0" {
		t.Errorf("an unlisted code: %d from %q", st, from)
	}
	for _, m := range []string{"GET", "POST", "PUT"} { // Test404WithDifferentMethods
		st, from, e := do(m, "ce.test", "/__status/404")
		errorPage("Test404WithDifferentMethods "+m, st, from, e, "404", "ce", "app", "")
		if e.Method != m {
			t.Errorf("%s: the default backend got %s", m, e.Method)
		}
	}
	// TestNoBackend404: without a default backend, ingress-nginx's own answers 404.
	if st, from, _ := do("GET", "nobackend.ce.test", "/__status/503"); st != http.StatusNotFound || from != "" {
		t.Errorf("TestNoBackend404: %d from %q", st, from)
	}
	// TestNoBackendNonError
	if st, from, _ := do("GET", "nobackend.ce.test", "/"); st != 200 || from != "app-0" {
		t.Errorf("TestNoBackendNonError: %d from %q", st, from)
	}
}

// flakyServer answers 503 to the first ?fail=N requests with the same
// ?id, then 200; it counts requests per id. It is a real HTTP server in a
// network namespace of its own (traefik's e2e flaky-backend).
type flakyServer struct {
	mu    sync.Mutex
	count map[string]int
}

func (f *flakyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	q := r.URL.Query()
	f.mu.Lock()
	f.count[q.Get("id")]++
	n := f.count[q.Get("id")]
	f.mu.Unlock()
	var fail int
	_, _ = fmt.Sscan(q.Get("fail"), &fail)
	w.Header().Set("X-Backend", "flaky")
	w.Header().Set("X-Seen-Custom-Test", r.Header.Get("X-Custom-Test"))
	if n <= fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "fail attempt=%d fail_until=%d\n", n, fail)
		return
	}
	fmt.Fprintln(w, "status backend OK")
}

func (f *flakyServer) attempts(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count[id]
}

// TestNginxNextUpstream ports traefik's e2e/retry_suite_test.go (its nginx
// side; proxy-request-buffering is not part of this group).
// ingress-nginx's annotations/proxy.go "should build proxy next upstream"
// checks nginx.conf text only: its values are parsed in
// TestNextUpstreamParse.
func TestNginxNextUpstream(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	fpod, _ := pods(t, "flaky", 1)
	l, err := fpod.Listen("tcp", net.JoinHostPort(fpod.Addrs[0].String(), "9090"))
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyServer{count: map[string]int{}}
	srv := &http.Server{Handler: fl, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	harness.Service(t, cp, ns, "flaky", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "flaky", "flaky-1", 9090, harness.Endpoint{Addr: fpod.Addrs[0].String()}))
	prefix := networkingv1.PathTypePrefix
	hosts := map[string]map[string]string{
		"default":  {},
		"disabled": {ngx + "proxy-next-upstream": "off"},
		"custom": {ngx + "proxy-next-upstream": "error timeout http_503", ngx + "proxy-next-upstream-tries": "5",
			ngx + "proxy-next-upstream-timeout": "10"},
		"tries":     {ngx + "proxy-next-upstream-tries": "1"},
		"timeout":   {ngx + "proxy-next-upstream-timeout": "5"},
		"bodylimit": {ngx + "proxy-next-upstream": "error timeout http_503", ngx + "proxy-next-upstream-tries": "3", ngx + "proxy-body-size": "1k"},
		"flakyon":   {ngx + "proxy-next-upstream": "error timeout http_503", ngx + "proxy-next-upstream-tries": "3"},
		"nonidem":   {ngx + "proxy-next-upstream": "error timeout http_503 non_idempotent", ngx + "proxy-next-upstream-tries": "3"},
	}
	for name, ann := range hosts {
		ing := harness.IngressObject(ns, name, "portico", name+".retry.test", harness.Path("/", prefix, "flaky", 80))
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	var ids atomic.Int64
	do := func(method, host, path string, body []byte, hdr ...string) (int, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Host = host + ".retry.test"
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header
	}
	for h := range hosts {
		harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", h+".retry.test", "flaky"))
	}
	// TestDefaultRetry*, TestRetryDisabled*, TestCustomRetry*, TestRetryTries*,
	// TestRetryTimeout*: StatusMatch (GET /), OnSubpath (GET /some/path), POST /: 200.
	for _, h := range []string{"default", "disabled", "custom", "tries", "timeout"} {
		for _, m := range [][2]string{{"GET", "/"}, {"GET", "/some/path"}, {"POST", "/"}} {
			if st, _ := do(m[0], h, m[1], nil); st != http.StatusOK {
				t.Errorf("%s: %s %s = %d, want 200", h, m[0], m[1], st)
			}
		}
	}
	// TestRetryDisabledPreservesHeaders, TestCustomRetryPreservesHeaders,
	// TestRetryTimeoutPreservesHeaders: the backend got the client's header.
	for _, h := range []string{"disabled", "custom", "timeout"} {
		if st, hdr := do("GET", h, "/", nil, "X-Custom-Test", "retry-"+h); st != http.StatusOK || hdr.Get("X-Seen-Custom-Test") != "retry-"+h {
			t.Errorf("%s: %d, backend saw X-Custom-Test %q", h, st, hdr.Get("X-Seen-Custom-Test"))
		}
	}
	// TestRetryBodyLimitWithinLimit, TestRetryBodyLimitExceedsLimit
	if st, _ := do("POST", "bodylimit", "/", bytes.Repeat([]byte("R"), 500)); st != http.StatusOK {
		t.Errorf("500 bytes under proxy-body-size 1k: %d", st)
	}
	if st, _ := do("POST", "bodylimit", "/", bytes.Repeat([]byte("R"), 2048)); st != http.StatusRequestEntityTooLarge {
		t.Errorf("2 KiB over proxy-body-size 1k: %d, want 413", st)
	}
	flaky := func(name, host, method string, fail int, body []byte, wantStatus, wantAttempts int) {
		t.Helper()
		id := fmt.Sprint(ids.Add(1))
		st, _ := do(method, host, fmt.Sprintf("/flaky?fail=%d&id=%s", fail, id), body)
		if st != wantStatus || fl.attempts(id) != wantAttempts {
			t.Errorf("%s: %d after %d attempts, want %d after %d", name, st, fl.attempts(id), wantStatus, wantAttempts)
		}
	}
	// TestRetryFlakyBufferingOnRecovers: PUT, 2 fails + 1 success.
	flaky("TestRetryFlakyBufferingOnRecovers", "flakyon", "PUT", 2, bytes.Repeat([]byte("R"), 500), 200, 3)
	// TestRetryFlakyBufferingOffNoBodyRecovers (the GET part, buffering as default)
	flaky("GET recovers", "flakyon", "GET", 2, nil, 200, 3)
	// Portico: the ingress-nginx rules around it.
	flaky("POST is not sent again", "flakyon", "POST", 2, []byte("p"), 503, 1)
	flaky("non_idempotent POST is", "nonidem", "POST", 2, []byte("p"), 200, 3)
	flaky("tries bound the attempts", "flakyon", "GET", 5, nil, 503, 3)
	flaky("off", "disabled", "GET", 1, nil, 503, 1)
	flaky("the default (error timeout) does not retry a 503", "default", "GET", 1, nil, 503, 1)
	flaky("custom: tries 5", "custom", "GET", 4, nil, 200, 5)
}

// TestNginxServiceUpstream ports ingress-nginx's annotations/serviceupstream.go
// "should use the Service Cluster IP and Port": the test cluster has no
// kube-proxy, so the Service is given a cluster IP that is the address of
// a pod of its own (in the service range 10.0.0.0/24), serving on the
// Service port; its EndpointSlice names another pod. With service-upstream
// the cluster-IP pod answers, without it the endpoint.
func TestNginxServiceUpstream(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, eps := pods(t, "endpoint", 1)
	// A free /30 near the top of the service range, whose address no
	// other test's Service was given: the pod first, then the Service.
	var vip *harness.Pod
	var err error
	for _, last := range rand.Perm(60) {
		if vip, err = harness.NewPodWithPrefix(netip.MustParsePrefix(fmt.Sprintf("10.0.0.%d/30", 4*(last+2))), 1); err != nil {
			continue
		}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "echo"}, Spec: corev1.ServiceSpec{ClusterIP: vip.Addrs[0].String(),
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}
		if _, err = cp.Client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err == nil {
			break
		}
		_ = vip.Close() // the address is taken (another Service has it): next
		vip = nil
	}
	if vip == nil {
		t.Fatalf("no pod and Service with a free cluster IP: %v", err)
	}
	t.Cleanup(func() { _ = vip.Close() })
	clusterIP := vip.Addrs[0].String()
	l, err := vip.Listen("tcp", net.JoinHostPort(clusterIP, "80"))
	if err != nil {
		t.Fatal(err)
	}
	b := harness.StartBackend(l, "cluster-ip")
	t.Cleanup(b.Close)

	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "echo", "echo-1", 8080, endpoints(eps...)...))
	prefix := networkingv1.PathTypePrefix
	for name, ann := range map[string]map[string]string{
		"serviceupstream": {ngx + "service-upstream": "true"},
		"off":             {ngx + "service-upstream": "false"},
		"plain":           nil,
	} {
		ing := harness.IngressObject(ns, name, "portico", name+".su.test", harness.Path("/", prefix, "echo", 80))
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	// ingress-nginx annotations/serviceupstream.go "should use the Service Cluster IP and Port":
	// 200, and the address used is the cluster IP.
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "serviceupstream.su.test", "cluster-ip"))
	// ... "should not use the Service Cluster IP and Port" (annotation false), and the default.
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "off.su.test", "endpoint-0"))
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "plain.su.test", "endpoint-0"))
}
