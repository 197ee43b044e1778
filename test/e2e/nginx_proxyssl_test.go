package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

// pemCA is a test certificate authority.
type pemCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newPEMCA(t *testing.T, cn string) *pemCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &pemCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf's certificate and key as PEM.
func (ca *pemCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, dns ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// TestNginxProxySSL: proxy-ssl-* against a real TLS backend in a network
// namespace that requires a client certificate. ingress-nginx's
// annotations/proxyssl.go checks only nginx.conf text; these are the
// HTTP-level outcomes that configuration has.
func TestNginxProxySSL(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	other := harness.Namespace(t, cp)
	ca, wrongCA, clientCA := newPEMCA(t, "backend-ca"), newPEMCA(t, "unrelated-ca"), newPEMCA(t, "client-ca")
	names := []string{"verified", "sni", "wrong-name", "unverified", "cross-ns"}
	var dns []string
	for _, n := range names {
		dns = append(dns, n+"."+ns+".svc")
	}
	srvCert, srvKey := ca.issue(t, "backend", x509.ExtKeyUsageServerAuth, append(dns, "named.example")...)
	cliCert, cliKey := clientCA.issue(t, "portico-client", x509.ExtKeyUsageClientAuth)
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	clients := x509.NewCertPool()
	clients.AddCert(clientCA.cert)

	pod, err := harness.NewPod(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	l, err := pod.Listen("tcp", net.JoinHostPort(pod.Addrs[0].String(), "8080"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-SNI", r.TLS.ServerName)
		if len(r.TLS.PeerCertificates) > 0 {
			w.Header().Set("X-Client", r.TLS.PeerCertificates[0].Subject.CommonName)
		}
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: clients, ClientAuth: tls.RequireAndVerifyClientCert}}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })

	secret := func(ns, name string, ca []byte) {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: cliCert, corev1.TLSPrivateKeyKey: cliKey, "ca.crt": ca}}
		if _, err := cp.Client.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	secret(ns, "backend-tls", ca.pem)
	secret(ns, "wrong-ca", wrongCA.pem)
	secret(other, "backend-tls", ca.pem)
	https := map[string]string{ngx + "backend-protocol": "HTTPS"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range https {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[ngx+kv[i]] = kv[i+1]
		}
		return m
	}
	sites := map[string]map[string]string{
		"verified":   with("proxy-ssl-secret", ns+"/backend-tls", "proxy-ssl-verify", "on"),
		"sni":        with("proxy-ssl-secret", ns+"/backend-tls", "proxy-ssl-verify", "on", "proxy-ssl-name", "named.example", "proxy-ssl-server-name", "on"),
		"wrong-name": with("proxy-ssl-secret", ns+"/backend-tls", "proxy-ssl-verify", "on", "proxy-ssl-name", "other.example"),
		"unverified": with("proxy-ssl-secret", ns+"/wrong-ca"), // proxy-ssl-verify defaults to off
		"cross-ns":   with("proxy-ssl-secret", other+"/backend-tls", "proxy-ssl-verify", "on"),
	}
	for name, ann := range sites {
		site(t, ns, name, name+".proxyssl.test", ann, pod.Addrs[0].String())
	}
	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	for _, tt := range []struct {
		name        string
		status      int
		sni, client string
	}{
		{"verified", 200, "", "portico-client"}, // proxy-ssl-server-name off: no SNI
		{"sni", 200, "named.example", "portico-client"},
		{"wrong-name", 502, "", ""},
		{"unverified", 200, "", "portico-client"},
		{"cross-ns", 500, "", ""},
	} {
		harness.Eventually(t, 10*time.Second, func() error {
			req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
			req.Host = tt.name + ".proxyssl.test"
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("X-SNI") != tt.sni || resp.Header.Get("X-Client") != tt.client {
				return fmt.Errorf("%s: %d SNI %q client %q; want %d %q %q", tt.name, resp.StatusCode,
					resp.Header.Get("X-SNI"), resp.Header.Get("X-Client"), tt.status, tt.sni, tt.client)
			}
			return nil
		})
	}
	harness.Eventually(t, 10*time.Second, warningEventMatching(ns, "cross-ns", "InvalidAnnotation", "proxy-ssl-secret: Secrets of other namespaces are not allowed"))
}
