package router

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"portico.dev/portico/internal/testpki"
)

// TestClientAuthVerify: chains are judged as nginx (OpenSSL) judges them
// with ssl_client_certificate, ssl_verify_depth and ssl_crl.
func TestClientAuthVerify(t *testing.T) {
	t.Parallel()
	root, other := testpki.NewCA("root"), testpki.NewCA("other")
	inter := root.Intermediate("intermediate")
	good := root.Issue("client", testpki.Options{})
	viaInter := inter.Issue("via-intermediate", testpki.Options{})
	stranger := other.Issue("stranger", testpki.Options{})
	expired := root.Issue("expired", testpki.Options{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	serverOnly := root.Issue("server-only", testpki.Options{Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	revoked := root.Issue("revoked", testpki.Options{})
	pool := func(cas ...*testpki.CA) *x509.CertPool {
		p := x509.NewCertPool()
		for _, c := range cas {
			p.AddCert(c.Cert)
		}
		return p
	}
	chain := func(l *testpki.Leaf) []*x509.Certificate { return parseChain(t, l.TLSCert.Certificate) }
	crl := func(ca *testpki.CA, next time.Time, rev ...*x509.Certificate) *x509.RevocationList {
		l, err := parseCRL(ca.CRL(next, rev...))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	day := time.Now().Add(24 * time.Hour)
	for _, tt := range []struct {
		name  string
		a     ClientAuth
		chain []*x509.Certificate
		want  error
	}{
		{"issued by the CA", ClientAuth{Roots: pool(root), Depth: 1}, chain(good), nil},
		{"another CA", ClientAuth{Roots: pool(root), Depth: 1}, chain(stranger), ErrClientCertUntrusted},
		{"no roots", ClientAuth{Depth: 1}, chain(good), ErrClientCertUntrusted},
		{"expired", ClientAuth{Roots: pool(root), Depth: 1}, chain(expired), ErrClientCertExpired},
		{"server certificate only", ClientAuth{Roots: pool(root), Depth: 1}, chain(serverOnly), ErrClientCertPurpose},
		{"intermediate, depth 1", ClientAuth{Roots: pool(root), Depth: 1}, chain(viaInter), ErrClientCertDepth},
		{"intermediate, depth 2", ClientAuth{Roots: pool(root), Depth: 2}, chain(viaInter), nil},
		{"intermediate missing", ClientAuth{Roots: pool(root), Depth: 2}, chain(viaInter)[:1], ErrClientCertUntrusted},
		{"CRL without it", ClientAuth{Roots: pool(root), Depth: 1, CRLs: []*x509.RevocationList{crl(root, day, revoked.Cert)}}, chain(good), nil},
		{"CRL listing it", ClientAuth{Roots: pool(root), Depth: 1, CRLs: []*x509.RevocationList{crl(root, day, revoked.Cert)}}, chain(revoked), ErrClientCertRevoked},
		{"no CRL of its issuer", ClientAuth{Roots: pool(root, other), Depth: 1, CRLs: []*x509.RevocationList{crl(root, day)}}, chain(stranger), ErrClientCertNoCRL},
		{"CRL expired", ClientAuth{Roots: pool(root), Depth: 1, CRLs: []*x509.RevocationList{crl(root, time.Now().Add(-time.Minute))}}, chain(good), ErrClientCertCRLOld},
		{"empty chain", ClientAuth{Roots: pool(root), Depth: 1}, nil, ErrClientCertUntrusted},
	} {
		until, err := tt.a.Verify(tt.chain, time.Now())
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			continue
		}
		if err == nil && (until.Before(time.Now()) || until.After(tt.chain[0].NotAfter)) {
			t.Errorf("%s: trusted until %v, the leaf until %v", tt.name, until, tt.chain[0].NotAfter)
		}
	}
}

func parseChain(t *testing.T, ders [][]byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func parseCRL(p []byte) (*x509.RevocationList, error) {
	b, _ := pemDecode(p)
	return x509.ParseRevocationList(b)
}

func TestHostCovers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		host, sni string
		want      bool
	}{
		{"a.test", "a.test", true}, {"a.test", "A.TEST.", true}, {"a.test", "b.test", false},
		{"*.a.test", "x.a.test", true}, {"*.a.test", "a.test", false}, {"*.a.test", "y.x.a.test", false}, {"*.a.test", ".a.test", false},
	} {
		if got := HostCovers(tt.host, tt.sni); got != tt.want {
			t.Errorf("HostCovers(%q, %q) = %v", tt.host, tt.sni, got)
		}
	}
}

func TestEscapeCert(t *testing.T) {
	t.Parallel()
	in := "-----BEGIN CERTIFICATE-----\nMIIB+/a=\n-----END CERTIFICATE-----\n"
	want := "-----BEGIN%20CERTIFICATE-----%0AMIIB%2B%2Fa%3D%0A-----END%20CERTIFICATE-----%0A"
	if got := EscapeCert([]byte(in)); got != want {
		t.Errorf("EscapeCert = %q, want %q", got, want)
	}
}

func pemDecode(p []byte) ([]byte, bool) {
	b, _ := pem.Decode(p)
	if b == nil {
		return nil, false
	}
	return b.Bytes, true
}
