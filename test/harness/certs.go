package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pkiFiles are the paths of the key material kube-apiserver is started with.
type pkiFiles struct {
	caCert     string // also the client CA (nothing uses client certs, but the flag wants one)
	serverCert string
	serverKey  string
	saPublic   string // verifies ServiceAccount tokens
	saPrivate  string // signs ServiceAccount tokens (TokenRequest)
	caPEM      []byte // for clients: rest.Config and kubeconfig files
}

// writePKI generates a throwaway CA, a serving certificate for 127.0.0.1 and
// localhost, and the ServiceAccount key pair, all in Go so tests need no openssl.
func writePKI(dir string) (pkiFiles, error) {
	f := pkiFiles{
		caCert:     filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey:  filepath.Join(dir, "apiserver.key"),
		saPublic:   filepath.Join(dir, "sa.pub"),
		saPrivate:  filepath.Join(dir, "sa.key"),
	}
	now := time.Now()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "portico-test-ca"},
		NotBefore:             now.Add(-time.Hour), // tolerate small clock skew
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return f, fmt.Errorf("parse CA certificate: %w", err)
	}
	f.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, fmt.Errorf("generate serving key: %w", err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("create serving certificate: %w", err)
	}
	srvKeyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return f, fmt.Errorf("marshal serving key: %w", err)
	}

	// RSA because that is what clusters use for ServiceAccount tokens (RS256).
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return f, fmt.Errorf("generate service account key: %w", err)
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return f, fmt.Errorf("marshal service account public key: %w", err)
	}

	files := []struct {
		path, typ string
		der       []byte
	}{
		{f.caCert, "CERTIFICATE", caDER},
		{f.serverCert, "CERTIFICATE", srvDER},
		{f.serverKey, "PRIVATE KEY", srvKeyDER},
		{f.saPublic, "PUBLIC KEY", saPubDER},
		{f.saPrivate, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)},
	}
	for _, file := range files {
		data := pem.EncodeToMemory(&pem.Block{Type: file.typ, Bytes: file.der})
		if err := os.WriteFile(file.path, data, 0o600); err != nil {
			return f, fmt.Errorf("write %s: %w", file.path, err)
		}
	}
	return f, nil
}

// randomToken returns a random bearer token.
func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
