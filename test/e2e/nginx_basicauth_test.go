package e2e

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

// applyOpaqueSecret creates or replaces an Opaque Secret, as `kubectl
// create secret generic` makes them.
func applyOpaqueSecret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	c := cp.Client.CoreV1().Secrets(ns)
	cur, err := c.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		s.ResourceVersion = cur.ResourceVersion
		_, err = c.Update(ctx, s, metav1.UpdateOptions{})
	} else {
		_, err = c.Create(ctx, s, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("apply Secret %s/%s: %v", ns, name, err)
	}
}

func bcryptOf(t *testing.T, pw string) string {
	t.Helper()
	// ingress-nginx's test uses cost 14 (a second per check); the check
	// is the same at cost 4.
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func shaOf(pw string) string {
	h := sha1.Sum([]byte(pw))
	return "{SHA}" + base64.StdEncoding.EncodeToString(h[:])
}

func TestNginxBasicAuth(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	other := harness.Namespace(t, cp)
	_, be := pods(t, "basicbe", 1)
	addr := hostOf(be[0])
	n := "nginx.ingress.kubernetes.io/"
	basic := func(secret, realm string, more ...string) map[string]string {
		a := map[string]string{n + "auth-type": "basic", n + "auth-secret": secret, n + "auth-realm": realm}
		for i := 0; i+1 < len(more); i += 2 {
			a[n+more[i]] = more[i+1]
		}
		return a
	}
	// ingress-nginx's buildSecret / buildMapSecret: foo / bar, bcrypt.
	applyOpaqueSecret(t, ns, "test", map[string]string{"auth": "foo:" + bcryptOf(t, "bar") + "\n"})
	applyOpaqueSecret(t, ns, "test-map", map[string]string{"foo": bcryptOf(t, "bar")})
	applyOpaqueSecret(t, ns, "invalid-content", map[string]string{"auth": "foo:"})
	// traefik's: testuser / testpass as {SHA} htpasswd, mapuser / mappass as an auth-map.
	applyOpaqueSecret(t, ns, "basic-auth", map[string]string{"auth": "testuser:" + shaOf("testpass")})
	applyOpaqueSecret(t, ns, "auth-map-secret", map[string]string{"mapuser": shaOf("mappass")})
	// `htpasswd -m` / `openssl passwd -apr1 -salt Zc3uFq/. password`
	applyOpaqueSecret(t, ns, "apr1", map[string]string{"auth": "# made by htpasswd\nalice:$apr1$Zc3uFq/.$mhewtCcM8YEozTuCNZ.5c.\n"})
	applyOpaqueSecret(t, other, "theirs", map[string]string{"auth": "foo:" + shaOf("bar")})

	site(t, ns, "open", "auth", nil, addr)
	site(t, ns, "basic", "basic.auth.test", basic("test", "test auth"), addr)
	site(t, ns, "cors", "cors.auth.test", basic("test", "test auth", "enable-cors", "true"), addr)
	site(t, ns, "map", "map.auth.test", basic("test-map", "test auth", "auth-secret-type", "auth-map"), addr)
	site(t, ns, "invalid", "invalid.auth.test", basic("something", "test auth"), addr)
	site(t, ns, "content", "content.auth.test", basic("invalid-content", "test auth"), addr)
	site(t, ns, "traefik", "basic-auth-test.nginx.local", basic("basic-auth", "Test Realm"), addr)
	site(t, ns, "traefikmap", "auth-map-test.nginx.local", basic("auth-map-secret", "Test Realm", "auth-secret-type", "auth-map"), addr)
	site(t, ns, "apr1", "apr1.auth.test", basic(ns+"/apr1", ""), addr)
	site(t, ns, "cross", "cross.auth.test", basic(other+"/theirs", "x"), addr)
	site(t, ns, "digest", "digest.auth.test", map[string]string{n + "auth-type": "digest", n + "auth-secret": "test"}, addr)
	site(t, ns, "later", "later.auth.test", basic("later", "later"), addr)

	p := harness.StartPortico(t, cp)
	c := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + p.HTTPAddr
	type answer struct {
		status int
		header http.Header
		body   string
		echo   harness.Echo
	}
	do := func(host, user, pass string, hdr ...string) answer {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host = host
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", host, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
		if resp.Header.Get("X-Backend") != "" {
			a.echo, _ = harness.ParseEcho(b)
		}
		return a
	}
	harness.Eventually(t, 10*time.Second, wantBackend(p.Client(), base+"/", "auth", "basicbe-0"))
	harness.Eventually(t, 10*time.Second, wantStatus(p.Client(), base+"/", "apr1.auth.test", 401))

	// ingress-nginx annotations/auth.go "should return status code 200 when no authentication is configured"
	if a := do("auth", "", ""); a.status != 200 || !strings.Contains(a.echo.Host, "auth") {
		t.Errorf("no auth: %d host %q", a.status, a.echo.Host)
	}
	// ingress-nginx annotations/auth.go "should return status code 503 when authentication is configured with an invalid secret"
	if a := do("invalid.auth.test", "foo", "bar"); a.status != 503 {
		t.Errorf("invalid secret: %d, want 503", a.status)
	}
	// ingress-nginx annotations/auth.go "should return status code 401 when authentication is configured but Authorization header is not configured"
	a := do("basic.auth.test", "", "")
	if a.status != 401 || !strings.Contains(a.body, "401 Authorization Required") {
		t.Errorf("no credentials: %d %q", a.status, a.body)
	}
	if got := a.header.Get("WWW-Authenticate"); got != `Basic realm="test auth"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
	// ingress-nginx annotations/auth.go "should return status code 401 when authentication is configured and Authorization header is sent with invalid credentials"
	if a := do("basic.auth.test", "user", "pass"); a.status != 401 || !strings.Contains(a.body, "401 Authorization Required") {
		t.Errorf("invalid credentials: %d %q", a.status, a.body)
	}
	// ingress-nginx annotations/auth.go "should return status code 401 and cors headers when authentication and cors is configured but Authorization header is not configured"
	if a := do("cors.auth.test", "", ""); a.status != 401 || a.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("cors 401: %d allow-origin %q", a.status, a.header.Get("Access-Control-Allow-Origin"))
	}
	// ingress-nginx annotations/auth.go "should return status code 200 when authentication is configured and Authorization header is sent"
	a = do("basic.auth.test", "foo", "bar")
	if a.status != 200 || a.header.Get("X-Backend") != "basicbe-0" {
		t.Errorf("correct credentials: %d", a.status)
	}
	// ingress-nginx's location sets proxy_set_header Authorization "": the backend never sees the password.
	if got := a.echo.Headers.Get("Authorization"); got != "" {
		t.Errorf("Authorization forwarded upstream: %q", got)
	}
	// ingress-nginx annotations/auth.go "should return status code 200 when authentication is configured with a map and Authorization header is sent"
	if a := do("map.auth.test", "foo", "bar"); a.status != 200 {
		t.Errorf("auth-map: %d", a.status)
	}
	if a := do("map.auth.test", "foo", "baz"); a.status != 401 {
		t.Errorf("auth-map, wrong password: %d", a.status)
	}
	// ingress-nginx annotations/auth.go "should return status code 401 when authentication is configured with invalid content and Authorization header is sent"
	if a := do("content.auth.test", "foo", "bar"); a.status != 401 {
		t.Errorf("invalid content: %d, want 401", a.status)
	}

	// traefik e2e/basicauth_suite_test.go TestNoCredentials
	if a := do("basic-auth-test.nginx.local", "", ""); a.status != 401 {
		t.Errorf("traefik no credentials: %d", a.status)
	}
	// traefik e2e/basicauth_suite_test.go TestCorrectCredentials
	if a := do("basic-auth-test.nginx.local", "testuser", "testpass"); a.status != 200 {
		t.Errorf("traefik correct credentials: %d", a.status)
	}
	// traefik e2e/basicauth_suite_test.go TestWrongPassword
	if a := do("basic-auth-test.nginx.local", "testuser", "wrongpass"); a.status != 401 {
		t.Errorf("traefik wrong password: %d", a.status)
	}
	// traefik e2e/basicauth_suite_test.go TestWrongUsername
	if a := do("basic-auth-test.nginx.local", "wronguser", "testpass"); a.status != 401 {
		t.Errorf("traefik wrong user: %d", a.status)
	}
	// traefik e2e/basicauth_suite_test.go TestAuthRealm: nginx's header.
	if got := do("basic-auth-test.nginx.local", "", "").header.Get("WWW-Authenticate"); got != `Basic realm="Test Realm"` {
		t.Errorf("traefik realm: %q", got)
	}
	// traefik e2e/basicauth_suite_test.go TestAuthMapNoCredentials
	if a := do("auth-map-test.nginx.local", "", ""); a.status != 401 {
		t.Errorf("traefik auth-map no credentials: %d", a.status)
	}
	// traefik e2e/basicauth_suite_test.go TestAuthMapCorrectCredentials
	if a := do("auth-map-test.nginx.local", "mapuser", "mappass"); a.status != 200 {
		t.Errorf("traefik auth-map correct: %d", a.status)
	}
	// traefik e2e/basicauth_suite_test.go TestAuthMapWrongPassword
	if a := do("auth-map-test.nginx.local", "mapuser", "wrongpass"); a.status != 401 {
		t.Errorf("traefik auth-map wrong password: %d", a.status)
	}

	// Beyond the ported suites: apr1 (namespace/name of the Ingress's
	// own namespace, empty realm), a Secret of another namespace and
	// digest fail closed, a header-injecting client gets a fixed body.
	if a := do("apr1.auth.test", "alice", "password"); a.status != 200 {
		t.Errorf("apr1: %d", a.status)
	}
	if got := do("apr1.auth.test", "", "").header.Get("WWW-Authenticate"); got != `Basic realm=""` {
		t.Errorf("empty realm: %q", got)
	}
	if a := do("cross.auth.test", "foo", "bar"); a.status != 503 {
		t.Errorf("cross-namespace Secret: %d, want 503", a.status)
	}
	if a := do("digest.auth.test", "foo", "bar"); a.status != 503 {
		t.Errorf("digest: %d, want 503", a.status)
	}
	if a := do("basic.auth.test", "<script>", "x"); a.status != 401 || a.body != "401 Authorization Required\n" {
		t.Errorf("401 body %q", a.body)
	}

	// Events name the Secret.
	for name, want := range map[string]string{"invalid": "auth-secret " + ns + "/something: no such Secret",
		"cross": "a Secret in another namespace is not allowed", "digest": "digest authentication is not supported",
		"content": "line 1: empty password hash"} {
		harness.Eventually(t, 10*time.Second, func() error {
			evs, err := eventsFor(ns, name)
			if err != nil {
				return err
			}
			for _, e := range evs {
				if e.Type == "Warning" && strings.Contains(e.Message, want) {
					if strings.Contains(e.Message, "$2") || strings.Contains(e.Message, "{SHA}") {
						return fmt.Errorf("event shows Secret data: %q", e.Message)
					}
					return nil
				}
			}
			return fmt.Errorf("%s: no Warning event with %q: %v", name, want, evs)
		})
	}

	// The Secret is watched: a missing one created later turns 503 into
	// a check; a changed password applies; a deleted Secret fails closed.
	if a := do("later.auth.test", "", ""); a.status != 503 {
		t.Errorf("later, before its Secret: %d", a.status)
	}
	applyOpaqueSecret(t, ns, "later", map[string]string{"auth": "dave:" + bcryptOf(t, "one")})
	harness.Eventually(t, 10*time.Second, wantStatus(p.Client(), base+"/", "later.auth.test", 401))
	if a := do("later.auth.test", "dave", "one"); a.status != 200 {
		t.Errorf("later, created: %d", a.status)
	}
	applyOpaqueSecret(t, ns, "later", map[string]string{"auth": "dave:" + bcryptOf(t, "two")})
	harness.Eventually(t, 10*time.Second, func() error {
		if a := do("later.auth.test", "dave", "one"); a.status != 401 {
			return fmt.Errorf("old password after the change: %d", a.status)
		}
		return nil
	})
	if a := do("later.auth.test", "dave", "two"); a.status != 200 {
		t.Errorf("new password: %d", a.status)
	}
	if err := cp.Client.CoreV1().Secrets(ns).Delete(context.Background(), "later", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 10*time.Second, func() error {
		if a := do("later.auth.test", "dave", "two"); a.status != 503 {
			return fmt.Errorf("after the Secret was deleted: %d, want 503", a.status)
		}
		return nil
	})
}
