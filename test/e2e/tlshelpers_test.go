package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
	"portico.dev/portico/tlsstore"
)

// keyPair makes a self-signed certificate for names valid from nb to na.
func keyPair(t *testing.T, nb, na time.Time, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	c, k, err := tlsstore.SelfSigned(names, nb, na)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// validPair is a certificate for names valid for an hour either side of now.
func validPair(t *testing.T, names ...string) (certPEM, keyPEM []byte) {
	now := time.Now()
	return keyPair(t, now.Add(-time.Hour), now.Add(time.Hour), names...)
}

// applySecret creates or replaces a Secret of the given type.
func applySecret(t *testing.T, ns, name string, typ corev1.SecretType, certPEM, keyPEM []byte) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       typ,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
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

// tlsIngress is an Ingress with one rule for host to web:80 and a TLS
// section naming secret for it (none when secret is "").
func tlsIngress(ns, name, host, secret string, annotations map[string]string) *networkingv1.Ingress {
	ing := harness.IngressObject(ns, name, "portico", host, harness.Path("/", prefix, "web", 80))
	ing.Annotations = annotations
	if secret != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: secret}}
	}
	return ing
}

// handshake connects to addr sending sni ("" sends none) and returns the
// leaf the server chose. The chain is not verified: the test checks which
// certificate was picked.
func handshake(addr, sni string) (*x509.Certificate, error) {
	cfg := &tls.Config{ServerName: sni, InsecureSkipVerify: true} //nolint:gosec // the test inspects the certificate
	if sni == "" {
		// crypto/tls sends no SNI for an IP address; say so explicitly.
		host, _, _ := net.SplitHostPort(addr)
		cfg.ServerName = host
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("handshake with %s (SNI %q): %w", addr, sni, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// wantSANs checks the certificate served for sni has exactly sans.
func wantSANs(addr, sni string, sans ...string) func() error {
	return func() error {
		leaf, err := handshake(addr, sni)
		if err != nil {
			return err
		}
		if !slices.Equal(leaf.DNSNames, sans) {
			return fmt.Errorf("SNI %q: served certificate for %q, want %q", sni, leaf.DNSNames, sans)
		}
		return nil
	}
}

// wantSerial checks the certificate served for sni is the one with serial.
func wantSerial(addr, sni string, want *x509.Certificate) func() error {
	return func() error {
		leaf, err := handshake(addr, sni)
		if err != nil {
			return err
		}
		if leaf.SerialNumber.Cmp(want.SerialNumber) != 0 {
			return fmt.Errorf("SNI %q: served serial %x, want %x", sni, leaf.SerialNumber, want.SerialNumber)
		}
		return nil
	}
}

func parseLeaf(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM block")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// warningEventMatching checks a Warning Event with reason on the named Ingress whose
// message matches re.
func warningEventMatching(ns, ingress, reason, re string) func() error {
	rx := regexp.MustCompile(re)
	return func() error {
		evs, err := cp.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: "involvedObject.kind=Ingress,involvedObject.name=" + ingress + ",reason=" + reason,
		})
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range evs.Items {
			if e.Type == corev1.EventTypeWarning && rx.MatchString(e.Message) {
				return nil
			}
			seen = append(seen, e.Message)
		}
		return fmt.Errorf("no Warning Event %s on Ingress %s/%s matching %q (have %q)", reason, ns, ingress, re, seen)
	}
}

// metricValue reads an unlabelled gauge or counter from /metrics.
func metricValue(p *harness.Portico, name string) (float64, error) {
	text, err := p.Metrics()
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0, fmt.Errorf("metric %s not found", name)
	}
	return strconv.ParseFloat(m[1], 64)
}

func netSplit(addr string) (host, port string, err error) { return net.SplitHostPort(addr) }

// applyPair stores a fresh valid certificate for names in a TLS Secret.
func applyPair(t *testing.T, ns, name string, names ...string) {
	t.Helper()
	c, k := validPair(t, names...)
	applySecret(t, ns, name, corev1.SecretTypeTLS, c, k)
}

var netDialer = net.Dialer{Timeout: 90 * time.Second}
