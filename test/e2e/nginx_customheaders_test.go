package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

// TestNginxCustomHeaders ports the HTTP-level assertions of ingress-nginx's
// test/e2e/annotations/customheaders.go and of traefik's
// e2e/customheaders_suite_test.go: a ConfigMap's keys and values become
// response headers; an Ingress whose ConfigMap is missing answers 503 (as
// ingress-nginx denies it), with a Warning Event.
func TestNginxCustomHeaders(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "ch", 1)
	harness.Service(t, cp, ns, "echo", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "echo", "echo-1", 8080, harness.Endpoint{Addr: hostOf(be[0])}))
	configMap := func(name string, data map[string]string) {
		t.Helper()
		if _, err := cp.Client.CoreV1().ConfigMaps(ns).Create(context.Background(),
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const ann = "nginx.ingress.kubernetes.io/custom-headers"
	site := func(name, host string, annotations map[string]string) {
		ing := harness.IngressObject(ns, name, "portico", host, harness.Path("/", prefix, "echo", 80))
		ing.Annotations = annotations
		harness.CreateIngress(t, cp, ing)
	}
	// ingress-nginx customheaders.go's ConfigMap (global-allowed-response-headers
	// is Portico's CompileConfig.AllowedResponseHeaders: unset allows any).
	configMap("custom-headers", map[string]string{"My-Custom-Header": "42", "My-Custom-Header-Dollar": "$remote_addr"})
	// traefik customheaders_suite_test.go's ConfigMap.
	configMap("traefik-custom-headers", map[string]string{"X-Custom-Resp": "custom-response-value", "X-Frame-Options": "DENY",
		"X-More-Resp": "more-response-value"})
	site("none", "custom-headers", nil)
	site("missing", "missing.custom-headers", map[string]string{ann: ns + "/no-such-configmap"})
	site("set", "set.custom-headers", map[string]string{ann: ns + "/custom-headers"})
	site("custom-headers-test", "custom-headers-test.nginx.local", map[string]string{ann: ns + "/traefik-custom-headers"})

	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	get := func(t *testing.T, host string, hdr []string, check func(resp *http.Response, body string) string) {
		t.Helper()
		harness.Eventually(t, 10*time.Second, func() error {
			req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
			req.Host = host
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if msg := check(resp, string(body)); msg != "" {
				return errors.New(host + ": " + msg)
			}
			return nil
		})
	}
	header := func(name, want string) func(*http.Response, string) string {
		return func(resp *http.Response, _ string) string {
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get(name), want) {
				return "status " + resp.Status + ", " + name + " " + resp.Header.Get(name) + "; want 200 and " + want
			}
			return ""
		}
	}

	// ingress-nginx annotations/customheaders.go "should return status code 200 when no custom-headers is configured"
	get(t, "custom-headers", nil, func(resp *http.Response, body string) string {
		if e, err := harness.ParseEcho([]byte(body)); resp.StatusCode != http.StatusOK || err != nil || e.Host != "custom-headers" {
			return "status " + resp.Status + ", want 200 with host=custom-headers"
		}
		return ""
	})
	// ingress-nginx annotations/customheaders.go "should return status code 503 when custom-headers is configured with an invalid secret"
	// and traefik e2e/customheaders_suite_test.go TestWrongConfigMap (nginx's status)
	get(t, "missing.custom-headers", nil, func(resp *http.Response, body string) string {
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "503 Service Temporarily Unavailable") {
			return "status " + resp.Status + " body " + body + "; want 503 Service Temporarily Unavailable"
		}
		return ""
	})
	wantEvent(t, ns, "missing", corev1.EventTypeWarning, "ConfigMapNotFound", ns+"/no-such-configmap", "503")
	// ingress-nginx annotations/customheaders.go `should set "more_set_headers 'My-Custom-Header' '42';" when custom-headers are set`
	get(t, "set.custom-headers", nil, header("My-Custom-Header", "42"))
	get(t, "set.custom-headers", nil, header("My-Custom-Header-Dollar", "$remote_addr"))
	// traefik e2e/customheaders_suite_test.go TestCustomHeaders "X-Custom-Resp header"
	get(t, "custom-headers-test.nginx.local", nil, header("X-Custom-Resp", "custom-response-value"))
	// traefik e2e/customheaders_suite_test.go TestCustomHeaders "X-Frame-Options header"
	get(t, "custom-headers-test.nginx.local", nil, header("X-Frame-Options", "DENY"))
	// traefik e2e/customheaders_suite_test.go TestCustomHeaders "X-More-Resp header"
	get(t, "custom-headers-test.nginx.local", nil, header("X-More-Resp", "more-response-value"))
	// traefik e2e/customheaders_suite_test.go TestCustomHeaders "client header passthrough"
	get(t, "custom-headers-test.nginx.local", []string{"X-Client-Custom", "from-client"}, func(resp *http.Response, body string) string {
		if e, err := harness.ParseEcho([]byte(body)); resp.StatusCode != http.StatusOK || err != nil || e.Headers.Get("X-Client-Custom") != "from-client" {
			return "status " + resp.Status + ", want 200 and X-Client-Custom: from-client upstream"
		}
		return ""
	})

	t.Run("a ConfigMap created later is picked up", func(t *testing.T) {
		configMap("no-such-configmap", map[string]string{"X-Late": "now"})
		get(t, "missing.custom-headers", nil, header("X-Late", "now"))
	})
}
