package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"portico.dev/portico/router"
)

func mustTemplate(s string) router.URLTemplate { return router.URLTemplate{{Lit: s}} }

func TestExternalAuth(t *testing.T) {
	var seen http.Header
	authSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		seen.Set("X-Got-Method", r.Method)
		seen.Set("X-Got-Query", r.URL.RawQuery)
		switch r.Header.Get("X-Test") {
		case "ok":
			w.Header().Set("X-Auth-Request-User", "alice")
			w.Header().Set("Set-Cookie", "s=1")
			w.WriteHeader(http.StatusAccepted)
		case "forbid":
			w.WriteHeader(http.StatusForbidden)
		case "teapot":
			w.WriteHeader(http.StatusTeapot)
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("secret auth body"))
		}
	}))
	defer authSrv.Close()
	_, ep := backend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-User", r.Header.Get("X-Auth-Request-User"))
		_, _ = w.Write([]byte("backend"))
	})
	u := router.URLTemplate{{Lit: authSrv.URL + "/auth?u="}, {Var: router.VarEscapedRequestURI}, {Lit: "&h="}, {Var: router.VarHost}}
	ext := &router.ExternalAuth{URL: u, Method: "POST", SigninParam: "rd", ResponseHeaders: []string{"X-Auth-Request-User"}, AlwaysSetCookie: true}
	f := newFixture(t, &router.Options{Auth: &router.Auth{External: ext}}, Config{Scheme: "http"}, ep)

	resp, body := f.do(t, "GET", "/p?q=1", nil, "X-Test", "ok", "X-Auth-Request-User", "mallory")
	if resp.StatusCode != 200 || body != "backend" || resp.Header.Get("X-User") != "alice" || resp.Header.Get("Set-Cookie") != "s=1" {
		t.Fatalf("pass: %d %q user=%q cookie=%q", resp.StatusCode, body, resp.Header.Get("X-User"), resp.Header.Get("Set-Cookie"))
	}
	if seen.Get("X-Got-Method") != "POST" || seen.Get("X-Original-Method") != "GET" || !strings.HasSuffix(seen.Get("X-Original-Url"), "/p?q=1") ||
		seen.Get("X-Auth-Request-Redirect") != "/p?q=1" || seen.Get("X-Got-Query") != "u="+url.QueryEscape("/p?q=1")+"&h=127.0.0.1" {
		t.Fatalf("auth request headers: %v", seen)
	}
	// The auth service answered without the header: the client's is dropped.
	resp, _ = f.do(t, "GET", "/", nil, "X-Test", "ok")
	if resp.Header.Get("X-User") != "alice" {
		t.Fatalf("user %q", resp.Header.Get("X-User"))
	}

	resp, body = f.do(t, "GET", "/", nil)
	if resp.StatusCode != 401 || resp.Header.Get("Www-Authenticate") != `Basic realm="x"` || strings.Contains(body, "secret") {
		t.Fatalf("401: %d %q %q", resp.StatusCode, resp.Header.Get("Www-Authenticate"), body)
	}
	for hdr, want := range map[string]int{"forbid": 403, "teapot": 500} {
		if resp, _ := f.do(t, "GET", "/", nil, "X-Test", hdr); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", hdr, resp.StatusCode, want)
		}
	}

	ext.Signin = mustTemplate("https://login.example/start")
	f.proxy.cfg.Transports.CloseIdleConnections()
	resp, _ = noRedirect(t, f, "/a b?x=1")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://login.example/start?rd="+f.srv.URL+url.QueryEscape("/a%20b?x=1") {
		t.Fatalf("signin: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	authSrv.Close()
	if resp, _ := f.do(t, "GET", "/", nil, "X-Test", "ok"); resp.StatusCode != 500 {
		t.Fatalf("auth down: %d", resp.StatusCode)
	}
}

func noRedirect(t *testing.T, f *fixture, path string) (*http.Response, string) {
	t.Helper()
	c := *f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp, ""
}

func TestAuthDeny(t *testing.T) {
	_, ep := backend(t, "b", nil)
	f := newFixture(t, &router.Options{Auth: &router.Auth{Deny: true}}, Config{}, ep)
	if resp, _ := f.do(t, "GET", "/", nil); resp.StatusCode != 503 {
		t.Fatalf("deny: %d", resp.StatusCode)
	}
}

func TestSigninURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://a/s", "https://a/s?rd=http://h%2Fp"},
		{"https://a/s?x=1", "https://a/s?x=1&rd=http://h%2Fp"},
		{"https://a/s?rd=keep", "https://a/s?rd=keep"},
	} {
		if got := signinURL(c.in, "rd", "http://h", "/p"); got != c.want {
			t.Errorf("%s: %s, want %s", c.in, got, c.want)
		}
	}
}

// TestAuthAfterRedirectsAndLimits: nginx's phase order. The SSL redirect
// (rewrite phase) answers before the auth service is asked, and so does a
// refusing access list (access, before auth_request); an address the list
// admits is then authenticated.
func TestAuthAfterRedirectsAndLimits(t *testing.T) {
	t.Parallel()
	var asked atomic.Int32
	authSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer authSrv.Close()
	_, ep := backend(t, "b", nil)
	auth := &router.Auth{External: &router.ExternalAuth{URL: mustTemplate(authSrv.URL + "/auth")}}
	f := newFixture(t, &router.Options{SSLRedirect: true, Auth: auth}, Config{Scheme: "http"}, ep)
	f.srv.client = &http.Client{Transport: f.srv.client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, _ := f.do(t, "GET", "/p", nil); resp.StatusCode != http.StatusPermanentRedirect || asked.Load() != 0 {
		t.Errorf("plain HTTP: %d, auth service asked %d times; want 308 before any auth request", resp.StatusCode, asked.Load())
	}
	deny := &router.AccessList{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	f = newFixture(t, &router.Options{Access: deny, Auth: auth}, Config{Scheme: "http"}, ep)
	if resp, _ := f.do(t, "GET", "/p", nil); resp.StatusCode != http.StatusForbidden || asked.Load() != 0 {
		t.Errorf("denied address: %d, auth service asked %d times; want 403 before any auth request", resp.StatusCode, asked.Load())
	}
	allow := &router.AccessList{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	f = newFixture(t, &router.Options{Access: allow, Auth: auth}, Config{Scheme: "http"}, ep)
	if resp, _ := f.do(t, "GET", "/p", nil); resp.StatusCode != http.StatusUnauthorized || asked.Load() != 1 {
		t.Errorf("allowed address: %d, auth service asked %d times; want 401 from it", resp.StatusCode, asked.Load())
	}
}
