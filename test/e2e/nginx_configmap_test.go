package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"portico.dev/portico/test/harness"
)

// post sends a body of n bytes and returns the status.
func postN(c *http.Client, url, host string, n int) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(bytes.Repeat([]byte("x"), n)))
	if err != nil {
		return 0, err
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func wantPost(c *http.Client, url, host string, n, want int) func() error {
	return func() error {
		got, err := postN(c, url, host, n)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("POST %d bytes to %s = %d, want %d", n, host, got, want)
		}
		return nil
	}
}

// getEncoded sends GET with Accept-Encoding ae and returns the response
// and its body, decoded as Content-Encoding says.
func getEncoded(c *http.Client, url, host, ae string) (*http.Response, []byte, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	req.Header.Set("Accept-Encoding", ae)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	switch resp.Header.Get("Content-Encoding") {
	case "gzip":
		if r, err = gzip.NewReader(resp.Body); err != nil {
			return resp, nil, err
		}
	case "zstd":
		zr, err := zstd.NewReader(resp.Body)
		if err != nil {
			return resp, nil, err
		}
		defer zr.Close()
		r = zr
	}
	b, err := io.ReadAll(r)
	return resp, b, err
}

func applyConfigMap(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	ctx := context.Background()
	cms := cp.Client.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	cm.Data = data
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func logLinesWith(t *testing.T, p *harness.Portico, substr string) []string {
	t.Helper()
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// TestNginxConfigMap: the keys of a real ConfigMap are the Ingresses'
// defaults, annotations override them, and a change applies without a
// restart.
func TestNginxConfigMap(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	n := "nginx.ingress.kubernetes.io/"
	site(t, ns, "global", "global.test", nil, hostOf(be[0]))
	site(t, ns, "override", "override.test", map[string]string{n + "proxy-body-size": "8k"}, hostOf(be[0]))
	applyConfigMap(t, ns, "ingress-nginx-controller", map[string]string{
		"proxy-body-size": "1k", "gzip-level": "eleven", "worker-processes": "4", "enable-brotli": "true",
	})

	p := harness.StartPortico(t, cp, "--nginx-configmap", ns+"/ingress-nginx-controller")
	c, url := p.Client(), "http://"+p.HTTPAddr+"/"
	harness.Eventually(t, 10*time.Second, wantBackend(c, url, "global.test", be[0].Name))

	t.Run("proxy-body-size from the ConfigMap", func(t *testing.T) {
		harness.Eventually(t, 5*time.Second, wantPost(c, url, "global.test", 2048, http.StatusRequestEntityTooLarge))
		harness.Eventually(t, time.Second, wantPost(c, url, "global.test", 512, http.StatusOK))
		// The annotation wins over the ConfigMap.
		harness.Eventually(t, time.Second, wantPost(c, url, "override.test", 4096, http.StatusOK))
	})
	t.Run("no compression without use-gzip", func(t *testing.T) {
		resp, _, err := getEncoded(c, url, "global.test", "gzip")
		if err != nil {
			t.Fatal(err)
		}
		if ce := resp.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("Content-Encoding %q without use-gzip", ce)
		}
	})
	t.Run("invalid and unsupported keys are logged", func(t *testing.T) {
		harness.Eventually(t, 5*time.Second, func() error {
			if logLines(t, p, `"key":"gzip-level"`) == 0 {
				return fmt.Errorf("no warning naming gzip-level")
			}
			return nil
		})
		lines := logLinesWith(t, p, "keys Portico does not support")
		if len(lines) != 1 || !strings.Contains(lines[0], "enable-brotli") || !strings.Contains(lines[0], "worker-processes") ||
			!strings.Contains(lines[0], `"level":"WARN"`) {
			t.Errorf("unsupported keys logged as %q", lines)
		}
	})

	applyConfigMap(t, ns, "ingress-nginx-controller", map[string]string{
		"proxy-body-size": "4k", "use-gzip": "true", "gzip-min-length": "10", "worker-processes": "4",
	})
	t.Run("a change applies live", func(t *testing.T) {
		harness.Eventually(t, 10*time.Second, wantPost(c, url, "global.test", 2048, http.StatusOK))
		harness.Eventually(t, time.Second, wantPost(c, url, "global.test", 5000, http.StatusRequestEntityTooLarge))
		if lines := logLinesWith(t, p, "keys Portico does not support"); len(lines) != 2 {
			t.Errorf("%d unsupported-keys lines after one change, want 2: %q", len(lines), lines)
		}
	})
	for _, tc := range []struct{ ae, want string }{
		// With use-gzip, a client that accepts gzip gets it (the
		// application/json echo is in the default gzip-types); zstd when
		// it prefers zstd; identity for what Portico cannot produce.
		{"gzip", "gzip"},
		{"gzip, deflate, br, zstd", "zstd"},
		{"br", ""},
		{"gzip;q=0", ""},
	} {
		t.Run("use-gzip, Accept-Encoding "+tc.ae, func(t *testing.T) {
			var resp *http.Response
			var body []byte
			harness.Eventually(t, 5*time.Second, func() error {
				var err error
				resp, body, err = getEncoded(c, url, "global.test", tc.ae)
				if err != nil {
					return err
				}
				if ce := resp.Header.Get("Content-Encoding"); ce != tc.want {
					return fmt.Errorf("Content-Encoding %q, want %q", ce, tc.want)
				}
				return nil
			})
			if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary %q", resp.Header.Get("Vary"))
			}
			if tc.want != "" && resp.Header.Get("Content-Length") != "" {
				t.Errorf("compressed response has Content-Length %q", resp.Header.Get("Content-Length"))
			}
			// The body decodes to the backend's answer.
			var e harness.Echo
			if err := json.Unmarshal(body, &e); err != nil || e.Host != "global.test" {
				t.Errorf("decoded body %q: %v", body, err)
			}
		})
	}
}

// TestNginxUpdateStatusFalse: with --update-status=false the leader never
// writes Ingress status (with true it does: status_test.go).
func TestNginxUpdateStatusFalse(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	site(t, ns, "quiet", "quiet.test", nil, hostOf(be[0]))
	p := startReplica(t, "portico-quiet", "", append([]string{"--watch-namespace", ns, "--publish-status-address", "192.0.2.77",
		"--update-status=false"}, electionFlags(ns)...)...)
	harness.Eventually(t, 10*time.Second, wantBackend(p.Client(), "http://"+p.HTTPAddr+"/", "quiet.test", be[0].Name))
	harness.Eventually(t, 10*time.Second, func() error {
		if h, err := leaseHolder(ns, "portico-leader"); err != nil || h != "portico-quiet" {
			return fmt.Errorf("lease holder %q (%v)", h, err)
		}
		return nil
	})
	staysTrue(t, 2*time.Second, wantStatusAddrs(ns, "quiet"))
	if logLines(t, p, "--update-status=false") != 1 {
		t.Error("no log line saying status is not written")
	}
}

// TestNginxConfigMapTLS: hsts* and ssl-redirect from the ConfigMap, with
// ingress-nginx's defaults for the keys it leaves out.
func TestNginxConfigMapTLS(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, web := pods(t, "web", 1)
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(web...)...))
	applyPair(t, ns, "cert", "a.cm.test", "b.cm.test")
	harness.CreateIngress(t, cp, tlsIngress(ns, "a", "a.cm.test", "cert", nil))
	harness.CreateIngress(t, cp, tlsIngress(ns, "b", "b.cm.test", "cert", map[string]string{"portico.dev/hsts": "max-age=60"}))
	applyConfigMap(t, ns, "nginx", map[string]string{})

	p := harness.StartPortico(t, cp, "--nginx-configmap", ns+"/nginx")
	harness.Eventually(t, 5*time.Second, wantSANs(p.HTTPSAddr, "a.cm.test", "a.cm.test", "b.cm.test"))
	tc := p.TLSClient(nil)
	wantHSTS := func(url, want string) func() error {
		return func() error {
			resp, err := tc.Get(url)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != want {
				return fmt.Errorf("%s: Strict-Transport-Security %q, want %q", url, got, want)
			}
			return nil
		}
	}
	plain := func(host string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.HTTPAddr+"/", nil)
		req.Host = host
		resp, err := p.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}

	t.Run("ingress-nginx defaults: hsts on, ssl-redirect on", func(t *testing.T) {
		harness.Eventually(t, 5*time.Second, wantHSTS("https://a.cm.test/", "max-age=31536000; includeSubDomains"))
		harness.Eventually(t, time.Second, wantHSTS("https://b.cm.test/", "max-age=60")) // the annotation wins
		resp, err := plain("a.cm.test")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("plain HTTP: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
		}
	})
	t.Run("hsts keys and ssl-redirect change live", func(t *testing.T) {
		applyConfigMap(t, ns, "nginx", map[string]string{"hsts-max-age": "100", "hsts-preload": "true", "ssl-redirect": "false"})
		harness.Eventually(t, 10*time.Second, wantHSTS("https://a.cm.test/", "max-age=100; includeSubDomains; preload"))
		resp, err := plain("a.cm.test")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("plain HTTP with ssl-redirect false: %d", resp.StatusCode)
		}
		applyConfigMap(t, ns, "nginx", map[string]string{"hsts": "false"})
		harness.Eventually(t, 10*time.Second, wantHSTS("https://a.cm.test/", ""))
	})
}

// TestNginxConfigMapRBAC: the namespaced Role plus list and watch of the one
// ConfigMap by resourceNames (docs/rbac.md) is enough: the ConfigMap applies
// and the API server refuses nothing, while the same identity may not list
// the namespace's other ConfigMaps.
func TestNginxConfigMapRBAC(t *testing.T) {
	ctx := context.Background()
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	site(t, ns, "limited", "limited.test", nil, hostOf(be[0]))
	applyConfigMap(t, ns, "nginx", map[string]string{"proxy-body-size": "1k"})
	applyConfigMap(t, ns, "other", map[string]string{"secret-ish": "x"})

	rules := append(slices.Clone(namespacedRules), rbacv1.PolicyRule{
		APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"nginx"}, Verbs: []string{"list", "watch"}})
	if _, err := cp.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "portico"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "portico"}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "portico"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "portico"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "portico", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := cp.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "portico", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := cp.KubeconfigForToken("portico-"+ns, tok.Status.Token)
	if err != nil {
		t.Fatal(err)
	}

	before := forbiddenRequests(t)
	p := startReplica(t, "portico-cm-rbac", ns, append([]string{"--kubeconfig", kubeconfig, "--watch-namespace", ns,
		"--nginx-configmap", ns + "/nginx", "--update-status=false"}, electionFlags(ns)...)...)
	c, url := p.Client(), "http://"+p.HTTPAddr+"/"
	harness.Eventually(t, 10*time.Second, wantPost(c, url, "limited.test", 2048, http.StatusRequestEntityTooLarge))
	applyConfigMap(t, ns, "nginx", map[string]string{"proxy-body-size": "4k"})
	harness.Eventually(t, 10*time.Second, wantPost(c, url, "limited.test", 2048, http.StatusOK))
	time.Sleep(time.Second) // a retrying forbidden watch would show up by now
	if n := forbiddenRequests(t) - before; n != 0 {
		t.Errorf("the API server answered %.0f requests with 403 while Portico ran with its Role", n)
	}

	sa, err := kubernetes.NewForConfig(cp.ConfigForToken(tok.Status.Token))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sa.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing every ConfigMap: err = %v, want forbidden", err)
	}
	if _, err := sa.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=other"}); !apierrors.IsForbidden(err) {
		t.Errorf("listing ConfigMap other: err = %v, want forbidden", err)
	}
}

// TestNginxGlobalAuth: the ConfigMap's global-auth-url protects every
// Ingress against a real auth server process, except one that sets
// enable-global-auth: "false"; an Ingress's own auth-url replaces it.
func TestNginxGlobalAuth(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "gauth", 1)
	authAddr := startAuthServer(t)
	n := "nginx.ingress.kubernetes.io/"
	site(t, ns, "guarded", "guarded.gauth.test", nil, hostOf(be[0]))
	site(t, ns, "optout", "optout.gauth.test", map[string]string{n + "enable-global-auth": "false"}, hostOf(be[0]))
	site(t, ns, "own", "own.gauth.test", map[string]string{n + "auth-url": "http://" + authAddr + "/forbid"}, hostOf(be[0]))
	applyConfigMap(t, ns, "ingress-nginx-controller", map[string]string{
		"global-auth-url": "http://" + authAddr + "/auth", "global-auth-signin": "http://$host/start",
	})
	p := harness.StartPortico(t, cp, "--nginx-configmap", ns+"/ingress-nginx-controller")
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + p.HTTPAddr + "/"
	for _, tt := range []struct {
		host, cookie, location string
		status                 int
	}{
		{"guarded.gauth.test", "", "http://guarded.gauth.test/start?rd=http://guarded.gauth.test%2F", http.StatusFound},
		{"guarded.gauth.test", "session=alice", "", http.StatusOK},
		{"optout.gauth.test", "", "", http.StatusOK},
		{"own.gauth.test", "session=alice", "", http.StatusForbidden}, // its own auth-url, which forbids
	} {
		harness.Eventually(t, 10*time.Second, func() error {
			req, _ := http.NewRequest(http.MethodGet, base, nil)
			req.Host = tt.host
			if tt.cookie != "" {
				req.Header.Set("Cookie", tt.cookie)
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				return fmt.Errorf("%s (cookie %q): %d Location %q, want %d %q", tt.host, tt.cookie, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
			return nil
		})
	}
}
