package router

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
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
	forged := crl(other, day)
	forged.RawIssuer = root.Cert.RawSubject // claims the root as issuer; the signature is the stranger's
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
		{"CRLs of root and intermediate", ClientAuth{Roots: pool(root), Depth: 2, CRLs: []*x509.RevocationList{crl(root, day), crl(inter, day)}}, chain(viaInter), nil},
		{"intermediate revoked by the root", ClientAuth{Roots: pool(root), Depth: 2, CRLs: []*x509.RevocationList{crl(root, day, inter.Cert), crl(inter, day)}}, chain(viaInter), ErrClientCertRevoked},
		{"no CRL of the intermediate", ClientAuth{Roots: pool(root), Depth: 2, CRLs: []*x509.RevocationList{crl(root, day)}}, chain(viaInter), ErrClientCertNoCRL},
		{"CRL signed by a stranger", ClientAuth{Roots: pool(root), Depth: 1, CRLs: []*x509.RevocationList{forged}}, chain(good), ErrClientCertNoCRL},
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

// TestClientAuthDefaultBackend: a request of a host with client
// certificate settings that no path of the host matches goes to the
// default backend with the host's settings (nginx checks them for the
// whole server); other hosts' requests get the plain default.
func TestClientAuthDefaultBackend(t *testing.T) {
	t.Parallel()
	a := &ClientAuth{Invalid: "x"}
	b := &Backend{ID: "ns/b:80"}
	def := &Route{Path: "/", Type: Prefix, Backend: &Backend{ID: "ns/default:80"}}
	table, _ := New([]Route{
		{Host: "mtls.test", Path: "/admin", Type: Prefix, Backend: b, Options: &Options{ClientAuth: a}},
		{Host: "*.wild.test", Path: "/admin", Type: Prefix, Backend: b, Options: &Options{ClientAuth: a}},
		{Host: "open.test", Path: "/admin", Type: Prefix, Backend: b},
	}, def)
	for _, tt := range []struct {
		host, path string
		auth       bool
		routeHost  string
	}{
		{"mtls.test", "/other", true, "mtls.test"},
		{"MTLS.test:443", "/", true, "mtls.test"},
		{"x.wild.test", "/other", true, "*.wild.test"},
		{"open.test", "/other", false, ""},
		{"nohost.test", "/", false, ""},
	} {
		r := table.Match(tt.host, tt.path)
		if r == nil || r.Backend != def.Backend || (r.Options.ClientAuth == a) != tt.auth || r.Host != tt.routeHost {
			t.Errorf("%s%s: %+v", tt.host, tt.path, r)
		}
	}
	if e := table.Explain("mtls.test", "/other"); !e.Default {
		t.Errorf("explain: the host's copy of the default is not named the default")
	}
}

// TestFormatDN: names as nginx's $ssl_client_s_dn prints them (OpenSSL
// RFC 2253 form), not as Go's pkix.Name.String.
func TestFormatDN(t *testing.T) {
	t.Parallel()
	atv := func(oid asn1.ObjectIdentifier, v any) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: oid, Value: v}
	}
	var (
		dc    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
		email = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
		ou    = asn1.ObjectIdentifier{2, 5, 4, 11}
		cn    = asn1.ObjectIdentifier{2, 5, 4, 3}
		o     = asn1.ObjectIdentifier{2, 5, 4, 10}
		odd   = asn1.ObjectIdentifier{1, 2, 3, 4}
	)
	for _, tt := range []struct {
		seq  pkix.RDNSequence
		want string
	}{
		{pkix.RDNSequence{{atv(dc, "com")}, {atv(dc, "corp")}, {atv(ou, "a")}, {atv(ou, "b")}, {atv(cn, "john")}, {atv(email, "j@x.com")}},
			"emailAddress=j@x.com,CN=john,OU=b,OU=a,DC=corp,DC=com"},
		// A multi-valued RDN prints in its DER (SET OF) order; "#" is escaped
		// only first.
		{pkix.RDNSequence{{atv(o, "Acme, Inc."), atv(ou, "R+D")}, {atv(cn, " #lead ")}}, `CN=\ #lead\ ,OU=R\+D+O=Acme\, Inc.`},
		{pkix.RDNSequence{{atv(cn, "#1")}}, `CN=\#1`},
		{pkix.RDNSequence{{atv(cn, "Jörg")}}, `CN=J\C3\B6rg`},
		{pkix.RDNSequence{{atv(odd, "x")}}, "1.2.3.4=#130178"},
	} {
		der, err := asn1.Marshal(tt.seq)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatDN(der); got != tt.want {
			t.Errorf("FormatDN = %q, want %q", got, tt.want)
		}
	}
	if FormatDN([]byte("junk")) != "" {
		t.Error("junk formatted")
	}
}
