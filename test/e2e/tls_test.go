package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

// TestTLS drives TLS termination end to end over real sockets: certificate
// selection by SNI from Secrets, the generated default, hot rotation,
// broken and refused Secrets, redirects and HSTS.
func TestTLS(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, web := pods(t, "web", 1)
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(web...)...))

	aCert, aKey := validPair(t, "a.tls.test")
	bCert, bKey := validPair(t, "b.tls.test")
	applySecret(t, ns, "a-cert", corev1.SecretTypeTLS, aCert, aKey)
	applySecret(t, ns, "b-cert", corev1.SecretTypeTLS, bCert, bKey)
	applyPair(t, ns, "wild-cert", "*.foo.com")
	applyPair(t, ns, "c-cert", "c.tls.test")
	harness.CreateIngress(t, cp, tlsIngress(ns, "a", "a.tls.test", "a-cert", nil))
	harness.CreateIngress(t, cp, tlsIngress(ns, "b", "b.tls.test", "b-cert", map[string]string{"portico.dev/hsts": "max-age=600; includeSubDomains"}))
	harness.CreateIngress(t, cp, tlsIngress(ns, "wild", "*.foo.com", "wild-cert", nil))
	harness.CreateIngress(t, cp, tlsIngress(ns, "c", "c.tls.test", "c-cert", map[string]string{"portico.dev/ssl-redirect": "false"}))
	harness.CreateIngress(t, cp, tlsIngress(ns, "d", "d.tls.test", "", map[string]string{"portico.dev/force-ssl-redirect": "true"}))
	harness.CreateIngress(t, cp, tlsIngress(ns, "plain", "plain.tls.test", "", nil))

	p := harness.StartPortico(t, cp)
	addr := p.HTTPSAddr
	harness.Eventually(t, 5*time.Second, wantSANs(addr, "a.tls.test", "a.tls.test"))

	t.Run("each host gets the certificate of its own Secret", func(t *testing.T) {
		harness.Eventually(t, time.Second, wantSANs(addr, "a.tls.test", "a.tls.test"))
		harness.Eventually(t, time.Second, wantSANs(addr, "b.tls.test", "b.tls.test"))
		harness.Eventually(t, time.Second, wantSANs(addr, "B.TLS.TEST", "b.tls.test"))
		c := p.TLSClient(nil)
		harness.Eventually(t, time.Second, wantBackend(c, "https://a.tls.test/x", "", "web-0"))
	})
	t.Run("an unknown SNI gets the generated default certificate", func(t *testing.T) {
		harness.Eventually(t, time.Second, wantSANs(addr, "unknown.tls.test", "portico-default"))
	})
	t.Run("a handshake without SNI works and gets the default", func(t *testing.T) {
		harness.Eventually(t, time.Second, wantSANs(addr, "", "portico-default"))
	})
	t.Run("a wildcard certificate serves a.foo.com but not foo.com or x.y.foo.com", func(t *testing.T) {
		harness.Eventually(t, time.Second, wantSANs(addr, "a.foo.com", "*.foo.com"))
		harness.Eventually(t, time.Second, wantSANs(addr, "foo.com", "portico-default"))
		harness.Eventually(t, time.Second, wantSANs(addr, "x.y.foo.com", "portico-default"))
	})
	t.Run("TLS 1.1 is refused, h2 is negotiated", func(t *testing.T) {
		_, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.tls.test", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}) //nolint:gosec
		if err == nil {
			t.Error("TLS 1.1 handshake succeeded")
		}
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.tls.test", InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}) //nolint:gosec
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := conn.ConnectionState().NegotiatedProtocol; got != "h2" {
			t.Errorf("ALPN %q, want h2", got)
		}
	})

	t.Run("an updated Secret is served on new handshakes without restart; open connections keep theirs", func(t *testing.T) {
		old := parseLeaf(t, aCert)
		// A connection made before the rotation, used again after it.
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.tls.test", InsecureSkipVerify: true}) //nolint:gosec
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		get := func() error {
			if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: a.tls.test\r\n\r\n")); err != nil {
				return err
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, err = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return err
		}
		if err := get(); err != nil {
			t.Fatal(err)
		}
		newCert, newKey := validPair(t, "a.tls.test")
		applySecret(t, ns, "a-cert", corev1.SecretTypeTLS, newCert, newKey)
		took := harness.Eventually(t, 5*time.Second, wantSerial(addr, "a.tls.test", parseLeaf(t, newCert)))
		t.Logf("rotated certificate served after %s", took)
		if took > time.Second {
			t.Errorf("rotation took %s, want within 1s", took)
		}
		if err := get(); err != nil {
			t.Errorf("the connection opened before the rotation broke: %v", err)
		}
		if conn.ConnectionState().PeerCertificates[0].SerialNumber.Cmp(old.SerialNumber) != 0 {
			t.Errorf("the established connection changed certificate")
		}
		aCert = newCert
	})

	t.Run("a broken Secret keeps its last good certificate and breaks no other host", func(t *testing.T) {
		goodB := parseLeaf(t, bCert)
		now := time.Now()
		expCert, expKey := keyPair(t, now.Add(-2*time.Hour), now.Add(-time.Hour), "b.tls.test")
		_, otherKey := validPair(t, "b.tls.test")
		cases := []struct {
			name, cert, key, msg string
		}{
			{"bad PEM", "not a certificate", string(bKey), "tls.crt: no PEM certificate block found"},
			{"key does not match", string(bCert), string(otherKey), "tls.key does not match"},
			{"expired", string(expCert), string(expKey), "expired on"},
			{"missing key", string(bCert), "", "tls.key is missing or empty"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before, _ := metricValue(p, "portico_tls_invalid_secrets")
				applySecret(t, ns, "b-cert", corev1.SecretTypeTLS, []byte(tc.cert), []byte(tc.key))
				harness.Eventually(t, 15*time.Second, warningEventMatching(ns, "b", "InvalidCertificate", tc.msg+`.*still serving the last valid certificate`))
				harness.Eventually(t, time.Second, func() error {
					v, err := metricValue(p, "portico_tls_invalid_secrets")
					if err != nil || v < 1 {
						return fmt.Errorf("portico_tls_invalid_secrets = %v (before %v), %v", v, before, err)
					}
					return nil
				})
				harness.Eventually(t, time.Second, wantSerial(addr, "b.tls.test", goodB))
				harness.Eventually(t, time.Second, wantSerial(addr, "a.tls.test", parseLeaf(t, aCert)))
				harness.Eventually(t, time.Second, wantSANs(addr, "a.foo.com", "*.foo.com"))
			})
		}
		applySecret(t, ns, "b-cert", corev1.SecretTypeTLS, bCert, bKey)
		harness.Eventually(t, 5*time.Second, func() error {
			if v, err := metricValue(p, "portico_tls_invalid_secrets"); err != nil || v != 0 {
				return fmt.Errorf("portico_tls_invalid_secrets = %v after the fix, %v", v, err)
			}
			return nil
		})
	})

	t.Run("a host whose Secret was never valid gets the default certificate", func(t *testing.T) {
		now := time.Now()
		eCert, eKey := keyPair(t, now.Add(-2*time.Hour), now.Add(-time.Hour), "e.tls.test")
		applySecret(t, ns, "e-cert", corev1.SecretTypeTLS, eCert, eKey)
		harness.CreateIngress(t, cp, tlsIngress(ns, "e", "e.tls.test", "e-cert", nil))
		harness.Eventually(t, 15*time.Second, warningEventMatching(ns, "e", "InvalidCertificate", "expired"))
		harness.Eventually(t, time.Second, wantSANs(addr, "e.tls.test", "portico-default"))
	})

	t.Run("a Secret of the wrong type is not used", func(t *testing.T) {
		fCert, fKey := validPair(t, "f.tls.test")
		applySecret(t, ns, "f-opaque", corev1.SecretTypeOpaque, fCert, fKey)
		harness.CreateIngress(t, cp, tlsIngress(ns, "f", "f.tls.test", "f-opaque", nil))
		harness.Eventually(t, 15*time.Second, warningEventMatching(ns, "f", "SecretNotFound", "kubernetes.io/tls"))
		harness.Eventually(t, time.Second, wantSANs(addr, "f.tls.test", "portico-default"))
	})

	t.Run("a Secret of another namespace is refused with an Event", func(t *testing.T) {
		// The API server itself refuses "namespace/name" in spec.tls (it
		// must be an RFC 1123 subdomain), so that spelling never reaches
		// Portico; its own refusal (CrossNamespaceSecret) is covered by
		// controller.TestCompileTLSSecretReferences. What a user can write
		// is the bare name of a Secret that exists only in another
		// namespace: it is looked up in the Ingress's own namespace only.
		other := harness.Namespace(t, cp)
		applyPair(t, other, "x-cert", "x.tls.test")
		_, err := cp.Client.NetworkingV1().Ingresses(ns).Create(context.Background(),
			tlsIngress(ns, "x-slash", "x.tls.test", other+"/x-cert", nil), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "secretName") {
			t.Errorf("API server accepted secretName %q: %v", other+"/x-cert", err)
		}
		harness.CreateIngress(t, cp, tlsIngress(ns, "x", "x.tls.test", "x-cert", nil))
		harness.Eventually(t, 15*time.Second, warningEventMatching(ns, "x", "SecretNotFound", "no Secret "+ns+"/x-cert"))
		harness.Eventually(t, time.Second, wantSANs(addr, "x.tls.test", "portico-default"))
	})

	t.Run("plain HTTP to TLS hosts gets 308 to HTTPS as configured", func(t *testing.T) {
		c := p.Client()
		base := "http://" + p.HTTPAddr
		_, httpsPort, _ := netSplit(p.HTTPSAddr)
		tests := []struct {
			host, wantLocation string
			wantStatus         int
		}{
			{"a.tls.test", "https://a.tls.test:" + httpsPort + "/p?q=1", http.StatusPermanentRedirect},
			{"c.tls.test", "", http.StatusOK}, // portico.dev/ssl-redirect: "false"
			{"d.tls.test", "https://d.tls.test:" + httpsPort + "/p?q=1", http.StatusPermanentRedirect}, // force-ssl-redirect without TLS
			{"plain.tls.test", "", http.StatusOK},                                                      // no TLS section: no redirect
		}
		for _, tt := range tests {
			req, _ := http.NewRequest(http.MethodGet, base+"/p?q=1", nil)
			req.Host = tt.host
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Location") != tt.wantLocation {
				t.Errorf("%s: %d Location %q, want %d %q", tt.host, resp.StatusCode, resp.Header.Get("Location"), tt.wantStatus, tt.wantLocation)
			}
		}
	})

	t.Run("HSTS only where configured and only over HTTPS", func(t *testing.T) {
		tests := []struct{ url, want string }{
			{"https://b.tls.test/", "max-age=600; includeSubDomains"},
			{"https://a.tls.test/", ""},
		}
		c := p.TLSClient(nil)
		for _, tt := range tests {
			resp, err := c.Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != tt.want {
				t.Errorf("%s: Strict-Transport-Security %q, want %q", tt.url, got, tt.want)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.HTTPAddr+"/", nil)
		req.Host = "c.tls.test"
		resp, err := p.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("plain HTTP answer carries HSTS %q", got)
		}
	})
}

// TestTLSFlags covers --default-ssl-certificate and --hsts.
func TestTLSFlags(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, web := pods(t, "web", 1)
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(web...)...))
	applyPair(t, ns, "default-cert", "default.flags.test")
	applyPair(t, ns, "g-cert", "g.flags.test")
	harness.CreateIngress(t, cp, tlsIngress(ns, "g", "g.flags.test", "g-cert", nil))
	harness.CreateIngress(t, cp, tlsIngress(ns, "h", "h.flags.test", "g-cert", map[string]string{"portico.dev/hsts": "max-age=60"}))

	const hsts = "max-age=31536000; includeSubDomains"
	p := harness.StartPortico(t, cp, "--default-ssl-certificate", ns+"/default-cert", "--hsts", hsts)
	harness.Eventually(t, 5*time.Second, wantSANs(p.HTTPSAddr, "g.flags.test", "g.flags.test"))

	t.Run("the configured default certificate is served for unknown and missing SNI", func(t *testing.T) {
		harness.Eventually(t, time.Second, wantSANs(p.HTTPSAddr, "nothing.flags.test", "default.flags.test"))
		harness.Eventually(t, time.Second, wantSANs(p.HTTPSAddr, "", "default.flags.test"))
	})
	t.Run("--hsts applies to TLS hosts whose Ingress sets none", func(t *testing.T) {
		c := p.TLSClient(nil)
		for url, want := range map[string]string{"https://g.flags.test/": hsts, "https://h.flags.test/": "max-age=60"} {
			resp, err := c.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != want {
				t.Errorf("%s: Strict-Transport-Security %q, want %q", url, got, want)
			}
		}
	})
	t.Run("deleting the default Secret falls back to the generated certificate", func(t *testing.T) {
		if err := cp.Client.CoreV1().Secrets(ns).Delete(context.Background(), "default-cert", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 5*time.Second, wantSANs(p.HTTPSAddr, "nothing.flags.test", "portico-default"))
	})
}
