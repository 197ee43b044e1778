package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// startAuthServer builds test/cmd/portico-authserver and runs it as its own
// process, serving on addr:9000 inside a new network namespace (the
// listener is opened there and handed over as fd 3).
func startAuthServer(t *testing.T) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "portico-authserver")
	build := exec.Command("go", "build", "-o", bin, "./test/cmd/portico-authserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build authserver: %v\n%s", err, out)
	}
	pod, err := harness.NewPod(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	addr := net.JoinHostPort(pod.Addrs[0].String(), "9000")
	l, err := pod.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return addr
}

func TestNginxExternalAuth(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "authbe", 1)
	authAddr := startAuthServer(t)
	n := "nginx.ingress.kubernetes.io/"
	site(t, ns, "ext", "ext-auth.test", map[string]string{
		n + "auth-url":              "http://" + authAddr + "/auth",
		n + "auth-response-headers": "X-Auth-Request-User, X-Auth-Request-Email",
	}, hostOf(be[0]))
	site(t, ns, "signin", "signin.test", map[string]string{
		n + "auth-url":               "http://" + authAddr + "/auth",
		n + "auth-signin":            "http://$host/auth/start",
		n + "auth-response-headers":  "X-Auth-Request-User",
		n + "auth-always-set-cookie": "true",
	}, hostOf(be[0]))
	site(t, ns, "forbid", "forbid.test", map[string]string{n + "auth-url": "http://" + authAddr + "/forbid"}, hostOf(be[0]))
	down, _, _ := net.SplitHostPort(authAddr)
	site(t, ns, "down", "down.test", map[string]string{n + "auth-url": "http://" + net.JoinHostPort(down, "9001") + "/auth"}, hostOf(be[0]))
	site(t, ns, "denied", "denied.test", map[string]string{n + "auth-url": "https://invalid..auth.url"}, hostOf(be[0]))
	site(t, ns, "open", "open.test", nil, hostOf(be[0]))

	p := harness.StartPortico(t, cp)
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + p.HTTPAddr
	do := func(host, path string, hdr ...string) (*http.Response, harness.Echo) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Host = host
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s %s: %v", host, path, err)
		}
		defer resp.Body.Close()
		var e harness.Echo
		if resp.Header.Get("X-Backend") != "" {
			b, _ := io.ReadAll(resp.Body)
			e, _ = harness.ParseEcho(b)
		}
		return resp, e
	}
	harness.Eventually(t, 10*time.Second, wantBackend(p.Client(), base+"/", "open.test", "authbe-0"))
	harness.Eventually(t, 10*time.Second, func() error {
		if resp, _ := do("ext-auth.test", "/"); resp.StatusCode != 401 {
			return fmt.Errorf("ext-auth.test: %d, want 401", resp.StatusCode)
		}
		return nil
	})

	// ingress-nginx annotations/auth.go "should return status code 200 when no authentication is configured"
	if resp, _ := do("open.test", "/"); resp.StatusCode != 200 {
		t.Errorf("open: %d", resp.StatusCode)
	}
	// traefik e2e/forwardauth_suite_test.go: unauthenticated gets the auth server's 401 and WWW-Authenticate
	resp, _ := do("ext-auth.test", "/")
	if resp.StatusCode != 401 || resp.Header.Get("Www-Authenticate") != `Bearer realm="portico-authserver"` {
		t.Errorf("401: %d %q", resp.StatusCode, resp.Header.Get("Www-Authenticate"))
	}
	// ingress-nginx annotations/auth.go "should return status code 200 when signed in"
	// ingress-nginx annotations/auth.go "should overwrite Foo header with auth response"
	resp, e := do("ext-auth.test", "/", "Cookie", "session=bob", "X-Auth-Request-Email", "spoofed@evil")
	if resp.StatusCode != 200 || e.Headers.Get("X-Auth-Request-User") != "bob" || e.Headers.Get("X-Auth-Request-Email") != "bob@example.com" {
		t.Errorf("signed in: %d headers %v", resp.StatusCode, e.Headers)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("Set-Cookie without auth-always-set-cookie: %q", resp.Header.Get("Set-Cookie"))
	}
	// ingress-nginx annotations/auth.go "should redirect to signin url when not signed in"
	resp, _ = do("signin.test", "/?a=b&c=d")
	want := "http://signin.test/auth/start?rd=http://signin.test" + url.QueryEscape("/?a=b&c=d")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != want {
		t.Errorf("signin: %d %q, want 302 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	// The sign-in page of the real auth server sets the session; with it the request passes.
	sreq, _ := http.NewRequest("GET", "http://"+authAddr+"/start?user=carol&rd="+url.QueryEscape("http://signin.test/"), nil)
	sresp, err := c.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	sresp.Body.Close()
	var cookie string
	for _, ck := range sresp.Cookies() {
		if ck.Name == "session" {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if sresp.StatusCode != 302 || cookie == "" {
		t.Fatalf("sign-in: %d cookie %q", sresp.StatusCode, cookie)
	}
	// ingress-nginx annotations/auth.go "user retains cookie by default" (auth-always-set-cookie here)
	resp, e = do("signin.test", "/x", "Cookie", cookie)
	if resp.StatusCode != 200 || e.Headers.Get("X-Auth-Request-User") != "carol" || !strings.HasPrefix(resp.Header.Get("Set-Cookie"), "refreshed=1") {
		t.Errorf("after sign-in: %d user %q set-cookie %q", resp.StatusCode, e.Headers.Get("X-Auth-Request-User"), resp.Header.Get("Set-Cookie"))
	}
	// traefik e2e/forwardauth_suite_test.go: the auth server's 403 is passed through
	if resp, _ := do("forbid.test", "/", "Cookie", cookie); resp.StatusCode != 403 {
		t.Errorf("forbid: %d", resp.StatusCode)
	}
	// nginx auth_request: an auth service that cannot be reached is a 500
	if resp, _ := do("down.test", "/", "Cookie", cookie); resp.StatusCode != 500 {
		t.Errorf("auth down: %d", resp.StatusCode)
	}
	// ingress-nginx annotations/auth.go "should return 503 (location was denied)"
	if resp, _ := do("denied.test", "/denied-auth"); resp.StatusCode != 503 {
		t.Errorf("denied: %d", resp.StatusCode)
	}
}
