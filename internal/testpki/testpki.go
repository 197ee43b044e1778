// Package testpki makes certificate authorities, certificates and
// revocation lists for tests: real ECDSA keys and X.509 encodings, as a
// cluster's Secrets would hold them.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"time"
)

var serial atomic.Int64

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	PEM  []byte
	key  *ecdsa.PrivateKey
}

// Leaf is an issued certificate with its key.
type Leaf struct {
	Cert    *x509.Certificate
	PEM     []byte // the certificate, then the issuing chain below a root
	KeyPEM  []byte
	TLSCert tls.Certificate // for a tls.Config
}

// Options shape an issued certificate; the zero value is a client and
// server certificate valid from an hour ago for a day.
type Options struct {
	DNSNames  []string
	NotBefore time.Time
	NotAfter  time.Time
	// Usages default to client and server authentication.
	Usages []x509.ExtKeyUsage
}

func mustKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func (o Options) validity() (time.Time, time.Time) {
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = time.Now().Add(24 * time.Hour)
	}
	return nb, na
}

// NewCA makes a self-signed root.
func NewCA(name string) *CA {
	key := mustKey()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: name, Organization: []string{"Portico tests"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}
	return sign(tmpl, tmpl, key, key, nil)
}

func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PrivateKey, signer *ecdsa.PrivateKey, chainPEM []byte) *CA {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &pub.PublicKey, signer)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	p := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), chainPEM...)
	return &CA{Cert: cert, PEM: p, key: pub}
}

// Intermediate makes a CA issued by ca; its PEM holds it alone.
func (ca *CA) Intermediate(name string) *CA {
	key := mustKey()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: name},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(47 * time.Hour)}
	return sign(tmpl, ca.Cert, key, ca.key, nil)
}

// Issue makes a certificate for common name cn. An intermediate's chain
// (its own certificate) follows the leaf in Leaf.PEM and TLSCert.
func (ca *CA) Issue(cn string, o Options) *Leaf {
	key := mustKey()
	nb, na := o.validity()
	usages := o.Usages
	if usages == nil {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn, Organization: []string{"Portico tests"}},
		DNSNames: o.DNSNames, NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usages}
	var chain []byte
	if !ca.Cert.Equal(rootOf(ca)) {
		chain = ca.PEM
	}
	c := sign(tmpl, ca.Cert, key, ca.key, chain)
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		panic(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	tc, err := tls.X509KeyPair(c.PEM, keyPEM)
	if err != nil {
		panic(err)
	}
	return &Leaf{Cert: c.Cert, PEM: c.PEM, KeyPEM: keyPEM, TLSCert: tc}
}

// rootOf is ca when it is self-signed, else nil.
func rootOf(ca *CA) *x509.Certificate {
	if ca.Cert.CheckSignatureFrom(ca.Cert) == nil {
		return ca.Cert
	}
	return nil
}

// CRL is a PEM revocation list of ca listing the revoked certificates,
// valid until nextUpdate.
func (ca *CA) CRL(nextUpdate time.Time, revoked ...*x509.Certificate) []byte {
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(serial.Add(1)),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: nextUpdate, RevokedCertificateEntries: entries}, ca.Cert, ca.key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}
