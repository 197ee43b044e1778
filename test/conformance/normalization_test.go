package conformance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// rawGet writes a request line byte for byte on a fresh connection (an
// http.Client would clean or re-encode the path first) and reads the
// answer.
func rawGet(addr, target, host string) (result, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: raw\r\nConnection: close\r\n\r\n", target, host); err != nil {
		return result{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return result{}, fmt.Errorf("GET %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	r := result{status: resp.StatusCode, backend: resp.Header.Get("X-Backend"), header: resp.Header, proto: resp.Proto}
	if r.backend != "" {
		r.echo, err = harness.ParseEcho(body)
	}
	return r, err
}

// TestPathNormalizationCannotBypassRules is not from the suite: it proves
// over real sockets that the spellings attackers use to slip past a path
// rule reach exactly the backend the cleaned path belongs to, and that
// the backend receives that cleaned path. /admin is an Exact rule on its
// own backend; everything else goes to public.
func TestPathNormalizationCannotBypassRules(t *testing.T) {
	e := newEnv(t, 8080, nil, "public", "admin")
	e.ingress(t, "public", networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
		rule("site.test", harness.Path("/public", prefix, "public", 8080), harness.Path("/", prefix, "public", 8080)),
	}})
	e.ingress(t, "admin", networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
		rule("site.test", harness.Path("/admin", exact, "admin", 8080)),
	}})
	waitRouted(t, e, "site.test", "/admin", "admin")

	for _, tc := range []struct {
		name, target, backend, path string
	}{
		{"dot-dot out of a public prefix", "/public/../admin", "admin", "/admin"},
		{"percent-encoded dot-dot", "/public/%2e%2e/admin", "admin", "/admin"},
		{"upper-case percent-encoded dot-dot", "/public/%2E%2E/admin", "admin", "/admin"},
		{"encoded slash before dot-dot", "/public/..%2Fadmin", "admin", "/admin"},
		{"encoded slash is forwarded as a slash", "/public%2Fadmin", "public", "/public/admin"},
		{"dot segment", "/./admin", "admin", "/admin"},
		{"repeated slashes", "//admin", "admin", "/admin"},
		{"dot-dot above the root", "/../../admin", "admin", "/admin"},
		{"double encoding stays data", "/public/%252e%252e/admin", "public", "/public/%2e%2e/admin"},
		{"Exact /admin does not cover /admin/", "/admin/", "public", "/admin/"},
		{"dot-dot from admin into public", "/admin/../public/x", "public", "/public/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := rawGet(e.p.HTTPAddr, tc.target, "site.test")
			if err != nil {
				t.Fatal(err)
			}
			if r.status != http.StatusOK || r.backend != tc.backend {
				t.Fatalf("GET %s = %d from %q, want 200 from %s", tc.target, r.status, r.backend, tc.backend)
			}
			if r.echo.Path != tc.path || r.echo.RawPath != "" {
				t.Errorf("backend received path %q (raw %q), want %q", r.echo.Path, r.echo.RawPath, tc.path)
			}
		})
	}
	if n := e.backends["public"][0].Requests.Load(); n == 0 {
		t.Error("public backend got no requests at all: the test proves nothing")
	}
}
