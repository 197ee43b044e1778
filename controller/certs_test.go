package controller

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/tlsstore"
)

func tlsSection(secret string, hosts ...string) ingressOpt {
	return func(ing *networkingv1.Ingress) {
		ing.Spec.TLS = append(ing.Spec.TLS, networkingv1.IngressTLS{Hosts: hosts, SecretName: secret})
	}
}

// TestCompileTLSSecretReferences checks which Secrets an Ingress may use:
// its own namespace only, with "namespace/name" refused even though a
// validating API server never lets that spelling through.
func TestCompileTLSSecretReferences(t *testing.T) {
	t.Parallel()
	now := time.Now()
	certPEM, keyPEM, err := tlsstore.SelfSigned([]string{"a.example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	secret := func(ns, name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + name), ResourceVersion: "1"},
			Type: corev1.SecretTypeTLS, Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}
	}
	prefix := networkingv1.PathTypePrefix
	tests := []struct {
		name, secretName, wantReason string
		wantCerts                    int
	}{
		{"own namespace", "cert", "", 1},
		{"other namespace spelled ns/name", "other/cert", "CrossNamespaceSecret", 0},
		{"bare name that exists only elsewhere", "elsewhere", "SecretNotFound", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap := cluster([]*networkingv1.Ingress{ingress("ns", "a", 0,
				rule("a.example.com", "/", prefix, "svc1", 80), tlsSection(tt.secretName, "a.example.com"))}, "svc1")
			snap.Secrets = map[types.NamespacedName]*corev1.Secret{
				{Namespace: "ns", Name: "cert"}:         secret("ns", "cert"),
				{Namespace: "other", Name: "cert"}:      secret("other", "cert"),
				{Namespace: "other", Name: "elsewhere"}: secret("other", "elsewhere"),
			}
			res := Compile(snap, CompileConfig{Class: testClass})
			if len(res.Certificates) != tt.wantCerts {
				t.Errorf("%d certificates, want %d", len(res.Certificates), tt.wantCerts)
			}
			var reasons []string
			for _, p := range res.Problems {
				reasons = append(reasons, p.Reason+": "+p.Message)
			}
			got := strings.Join(reasons, "\n")
			if (tt.wantReason == "") != (got == "") || !strings.Contains(got, tt.wantReason) {
				t.Errorf("problems %q, want %q", got, tt.wantReason)
			}
		})
	}
}
