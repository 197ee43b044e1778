package controller

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A canary's backend gets the main Ingress's proxy-ssl-* configuration,
// as ingress-nginx serves the canary from the same location with the same
// proxy_ssl_*. (It once did not: traffic routed to the canary went over
// the default HTTPS transport, unverified and without the client
// certificate; the test name recalls that bug.)
func TestCanaryBackendSkipsProxySSLVerify(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	prefix := networkingv1.PathTypePrefix
	main := ingress("ns", "main", 0, rule("foo.com", "/", prefix, "svc1", 80),
		annotate(nginxPrefix+"backend-protocol", "HTTPS"),
		annotate(nginxPrefix+"proxy-ssl-secret", "ns/ca"),
		annotate(nginxPrefix+"proxy-ssl-verify", "on"))
	canary := ingress("ns", "canary", 1, rule("foo.com", "/", prefix, "svc2", 80),
		annotate(nginxPrefix+"canary", "true"), annotate(nginxPrefix+"canary-by-header", "X-Canary"))
	s := cluster([]*networkingv1.Ingress{main, canary}, "svc1", "svc2")
	s.Secrets = map[types.NamespacedName]*corev1.Secret{{Namespace: "ns", Name: "ca"}: {
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"ca.crt": ca}}}
	res := Compile(s, CompileConfig{Class: testClass})
	for _, p := range res.Problems {
		t.Logf("problem: %s %s", p.Reason, p.Message)
	}
	r := res.Table.Match("foo.com", "/")
	if r == nil || r.Backend.TLS == nil || r.Backend.TLS.SkipVerify {
		t.Fatalf("main backend not verified: %+v", r)
	}
	if r.Options.Canary == nil {
		t.Fatal("no canary merged")
	}
	if cb := r.Options.Canary.Backend; cb.TLS == nil {
		t.Fatalf("canary backend %s has no TLS configuration: HTTPS to it is unverified (proxy-ssl-verify on ignored)", cb.ID)
	}
}
