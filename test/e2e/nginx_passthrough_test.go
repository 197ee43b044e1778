package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/internal/testpki"
	"portico.dev/portico/test/harness"
)

// TestNginxSSLPassthrough: ssl-passthrough with --enable-ssl-passthrough.
// The client verifies the certificate of a TLS backend in a network
// namespace end to end (it never sees Portico's); other hosts on the same
// port are terminated by Portico; plain HTTP of the host is routed as
// usual. Under 5 s of load through passthrough, with Ingress changes (table
// swaps) in the middle, no request fails and a connection opened before
// the swaps keeps working after them. Ported: traefik's
// e2e/sslpassthrough_suite_test.go (its nginx side, all four tests);
// ingress-nginx's e2e suite has no HTTP-level ssl-passthrough test.
func TestNginxSSLPassthrough(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	ca := testpki.NewCA("passthrough-backend-ca")
	// traefik: passthroughBackendCN, a certificate of the backend's own.
	backendCert := ca.Issue("passthrough-backend-cert", testpki.Options{DNSNames: []string{"pass.passthrough.test", "cert.passthrough.test"}})

	pod, err := harness.NewPod(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	l, err := pod.Listen("tcp", net.JoinHostPort(pod.Addrs[0].String(), "8443"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "passthrough-backend-ok\n") // traefik's backend answer
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{backendCert.TLSCert}}}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })

	_, be := pods(t, "echo", 1)
	harness.Service(t, cp, ns, "tls-backend", 443)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "tls-backend", "tls-backend-1", 8443, harness.Endpoint{Addr: pod.Addrs[0].String()}))
	harness.Service(t, cp, ns, "echo", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "echo", "echo-1", 8080, endpoints(be...)...))
	prefix := networkingv1.PathTypePrefix
	pass := harness.IngressObject(ns, "pass", "portico", "pass.passthrough.test", harness.Path("/", prefix, "tls-backend", 443))
	pass.Annotations = map[string]string{"nginx.ingress.kubernetes.io/ssl-passthrough": "true"}
	harness.CreateIngress(t, cp, pass)
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "terminated", "portico", "terminated.passthrough.test", harness.Path("/", prefix, "echo", 80)))
	plain := harness.IngressObject(ns, "plain-http", "portico", "pass.passthrough.test", harness.Path("/plain", prefix, "echo", 80))
	harness.CreateIngress(t, cp, plain)
	// traefik: the "ssl-passthrough cert issue" Ingress.
	withAnn := harness.IngressObject(ns, "pass-cert", "portico", "cert.passthrough.test", harness.Path("/", prefix, "tls-backend", 443))
	withAnn.Annotations = map[string]string{"nginx.ingress.kubernetes.io/ssl-passthrough": "true",
		"nginx.ingress.kubernetes.io/force-ssl-redirect": "true", "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"}
	harness.CreateIngress(t, cp, withAnn)

	p := harness.StartPortico(t, cp, "--enable-ssl-passthrough")
	roots := certPool(ca)
	get := func(c *http.Client, host string) (string, *tls.ConnectionState, error) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+host+"/", nil)
		resp, err := c.Do(req)
		if err != nil {
			return "", nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return string(b), resp.TLS, fmt.Errorf("%s: status %d", host, resp.StatusCode)
		}
		return string(b), resp.TLS, err
	}
	// traefik TestSSLPassthroughCertificateIsFromBackend, ...ReturnsOK,
	// ...ResponseBody (get checks the status), and
	// TestSSLPassthroughCertificateWithAnnotations: the backend's
	// certificate, 200 and its body.
	for _, host := range []string{"pass.passthrough.test", "cert.passthrough.test"} {
		c := p.TLSClient(&tls.Config{ServerName: host, RootCAs: roots})
		harness.Eventually(t, 10*time.Second, func() error {
			body, st, err := get(c, host)
			if err != nil {
				return err
			}
			if cn := st.PeerCertificates[0].Subject.CommonName; cn != "passthrough-backend-cert" || !strings.Contains(body, "passthrough-backend-ok") {
				return fmt.Errorf("%s: certificate of %q, body %q", host, cn, body)
			}
			return nil
		})
	}
	// TestSSLPassthroughCertificateWithAnnotations: plain HTTP of that
	// host is redirected (force-ssl-redirect).
	if status, _, _, err := harness.Get(p.Client(), "http://cert.passthrough.test/", ""); err != nil || status != http.StatusPermanentRedirect {
		t.Errorf("plain HTTP of the force-ssl-redirect passthrough host: %d, %v; want 308", status, err)
	}
	// Another host of the same port: Portico terminates (its default
	// certificate; the echo backend answers).
	other := p.TLSClient(nil)
	if status, name, _, err := harness.Get(other, "https://terminated.passthrough.test/", ""); err != nil || status != 200 || name == "" {
		t.Errorf("terminated host: %d from %q, %v", status, name, err)
	}
	// Plain HTTP of the passthrough host is routed as usual.
	if status, name, _, err := harness.Get(p.Client(), "http://pass.passthrough.test/plain", ""); err != nil || status != 200 || name == "" {
		t.Errorf("plain HTTP of the passthrough host: %d from %q, %v", status, name, err)
	}

	// A connection opened now must outlive the table swaps below.
	early := p.TLSClient(&tls.Config{ServerName: "pass.passthrough.test", RootCAs: roots})
	if _, _, err := get(early, "pass.passthrough.test"); err != nil {
		t.Fatal(err)
	}
	var reqs, fails atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := p.TLSClient(&tls.Config{ServerName: "pass.passthrough.test", RootCAs: roots})
			for n := 0; ctx.Err() == nil && n < 20000; n++ {
				if _, _, err := get(c, "pass.passthrough.test"); err != nil {
					fails.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				reqs.Add(1)
			}
		}()
	}
	for i := 0; ctx.Err() == nil && i < 5; i++ { // table swaps in the middle
		harness.CreateIngress(t, cp, harness.IngressObject(ns, fmt.Sprintf("swap-%d", i), "portico", fmt.Sprintf("swap-%d.passthrough.test", i),
			harness.Path("/", prefix, "echo", 80)))
		time.Sleep(500 * time.Millisecond) // spread the swaps over the load
	}
	wg.Wait()
	if fails.Load() > 0 || reqs.Load() < 100 {
		t.Errorf("%d of %d requests through passthrough failed (first: %v)", fails.Load(), reqs.Load(), firstErr.Load())
	}
	t.Logf("%d requests through passthrough in 5s, 0 failed", reqs.Load())
	if _, _, err := get(early, "pass.passthrough.test"); err != nil {
		t.Errorf("the connection opened before the swaps: %v", err)
	}
	m, err := p.Metrics()
	if err != nil || !strings.Contains(m, `portico_passthrough_connections_total{result="opened"}`) {
		t.Errorf("passthrough metrics missing (%v)", err)
	}
}
