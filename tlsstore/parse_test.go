package tlsstore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	now := time.Now()
	certPEM, keyPEM, err := SelfSigned([]string{"example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := SelfSigned([]string{"other.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, expiredKey, err := SelfSigned([]string{"old.com"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	future, futureKey, err := SelfSigned([]string{"new.com"}, now.Add(24*time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, inter, leaf := chain(t, "chain.example.com")
	block, _ := pem.Decode(certPEM)
	truncated := certPEM[:len(certPEM)/2]
	junkCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	junkKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not DER")})
	encryptedKey := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})

	tests := []struct {
		name      string
		cert, key []byte
		want      error
		mention   string
	}{
		{"empty certificate", nil, keyPEM, ErrNoCertificate, "tls.crt is missing or empty"},
		{"whitespace certificate", []byte(" \n"), keyPEM, ErrNoCertificate, "tls.crt is missing or empty"},
		{"certificate is not PEM", []byte("hello"), keyPEM, ErrNoCertificate, "tls.crt: no PEM certificate block found"},
		{"certificate is DER", block.Bytes, keyPEM, ErrNoCertificate, "looks like binary DER"},
		{"certificate base64-encoded twice", []byte(base64.StdEncoding.EncodeToString(certPEM)), keyPEM, ErrNoCertificate, "base64-encoded twice"},
		{"certificate and key swapped", keyPEM, certPEM, ErrNoCertificate, "swapped"},
		{"truncated certificate PEM", truncated, keyPEM, ErrBadPEM, "tls.crt: malformed PEM"},
		{"truncated intermediate", append(slices.Clone(leaf.certPEM), inter.certPEM[:len(inter.certPEM)-30]...), leaf.keyPEM, ErrBadPEM, "1 of 2 blocks"},
		{"certificate block is not X.509", junkCert, keyPEM, ErrBadPEM, "tls.crt: certificate 1 cannot be parsed"},
		{"empty key", certPEM, nil, ErrNoKey, "tls.key is missing or empty"},
		{"key is not PEM", certPEM, []byte("hello"), ErrNoKey, "tls.key: no PEM private key block found"},
		{"key holds a certificate", certPEM, certPEM, ErrNoKey, "swapped"},
		{"truncated key PEM", certPEM, keyPEM[:len(keyPEM)-40], ErrBadPEM, "tls.key: malformed PEM"},
		{"key block is garbage", certPEM, junkKey, ErrBadPEM, "tls.key: the private key cannot be parsed"},
		{"encrypted PKCS8 key", certPEM, encryptedKey, ErrUnsupportedKey, "encrypted with a passphrase"},
		{"encrypted legacy key", certPEM, legacyEncrypted, ErrUnsupportedKey, "encrypted with a passphrase"},
		{"key of another certificate", certPEM, otherKey, ErrKeyMismatch, `tls.key does not match the certificate in tls.crt (for "example.com")`},
		{"chain in wrong order", append(slices.Clone(inter.certPEM), leaf.certPEM...), leaf.keyPEM, ErrKeyMismatch, "server certificate must come first"},
		{"expired", expired, expiredKey, ErrExpired, `certificate for "old.com" expired on`},
		{"not yet valid", future, futureKey, ErrNotYetValid, `certificate for "new.com" is not valid until`},
	}
	classes := []error{ErrNoCertificate, ErrNoKey, ErrBadPEM, ErrUnsupportedKey, ErrKeyMismatch, ErrExpired, ErrNotYetValid}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse(tt.cert, tt.key, now)
			if err == nil {
				t.Fatalf("Parse succeeded with %v, want error %v", c.Names, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			for _, class := range classes {
				if got := errors.Is(err, class); got != (class == tt.want) {
					t.Errorf("errors.Is(%q, %v) = %v", err, class, got)
				}
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	now := time.Now()
	_, inter, leaf := chain(t, "Chain.Example.com", "*.Apps.Example.com")
	rsaCert, rsaKey := rsaPair(t, now, "rsa.example.com")
	ecCert, ecKey := ecSEC1Pair(t, now, "ec.example.com")
	cnOnly := issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(9),
		Subject:      pkix.Name{CommonName: "cn-only.example.com"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
	}, nil)
	ip, ipKey, err := SelfSigned([]string{"10.0.0.1", "::1", "host.example.com."}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		cert, key []byte
		names     []string
		chainLen  int
		warning   string
	}{
		{"chain with intermediate", append(slices.Clone(leaf.certPEM), inter.certPEM...), leaf.keyPEM, []string{"chain.example.com", "*.apps.example.com"}, 2, ""},
		{"RSA PKCS1 key", rsaCert, rsaKey, []string{"rsa.example.com"}, 1, ""},
		{"EC SEC1 key", ecCert, ecKey, []string{"ec.example.com"}, 1, ""},
		{"common name only", cnOnly.certPEM, cnOnly.keyPEM, []string{}, 1, `clients ignore the Common Name "cn-only.example.com"`},
		{"IP SANs and trailing dot", ip, ipKey, []string{"host.example.com", "10.0.0.1", "::1"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse(tt.cert, tt.key, now)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Names, tt.names) {
				t.Errorf("Names = %q, want %q", c.Names, tt.names)
			}
			if got := len(c.Cert.Certificate); got != tt.chainLen {
				t.Errorf("chain length = %d, want %d", got, tt.chainLen)
			}
			if c.Cert.Leaf == nil || !bytes.Equal(c.Cert.Leaf.Raw, c.Cert.Certificate[0]) {
				t.Error("Leaf is not the first certificate of the chain")
			}
			if !c.NotAfter.Equal(c.Cert.Leaf.NotAfter) {
				t.Errorf("NotAfter = %v, want %v", c.NotAfter, c.Cert.Leaf.NotAfter)
			}
			switch {
			case tt.warning == "" && len(c.Warnings) > 0:
				t.Errorf("unexpected warnings %q", c.Warnings)
			case tt.warning != "" && (len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], tt.warning)):
				t.Errorf("warnings %q, want one mentioning %q", c.Warnings, tt.warning)
			}
		})
	}
}

func rsaPair(t *testing.T, now time.Time, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// ecSEC1Pair makes a self-signed pair whose key is encoded as SEC 1
// ("EC PRIVATE KEY"), as openssl ecparam writes it.
func ecSEC1Pair(t *testing.T, now time.Time, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, pkcs8, err := SelfSigned([]string{name}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pkcs8)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
