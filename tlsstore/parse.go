package tlsstore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error classes returned by [Parse]; test with errors.Is. The error text
// itself is written for users, because the controller shows it verbatim in a
// Kubernetes Event on the Secret or Ingress.
var (
	ErrNoCertificate  = errors.New("no certificate")
	ErrNoKey          = errors.New("no private key")
	ErrBadPEM         = errors.New("malformed certificate or key")
	ErrUnsupportedKey = errors.New("unsupported private key")
	ErrKeyMismatch    = errors.New("private key does not match certificate")
	ErrExpired        = errors.New("certificate expired")
	ErrNotYetValid    = errors.New("certificate not yet valid")
)

// parseError carries a user-facing message and the class it belongs to.
type parseError struct {
	kind error
	msg  string
}

func (e *parseError) Error() string { return e.msg }
func (e *parseError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &parseError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Parse validates a PEM certificate chain (leaf first, as in a
// kubernetes.io/tls Secret's tls.crt) and a PEM private key (tls.key) at
// time now. A certificate without SANs is not an error, since it can still be
// the default certificate, but it earns a warning in Certificate.Warnings.
func Parse(certPEM, keyPEM []byte, now time.Time) (*Certificate, error) {
	chain, err := parseChain(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	if err := checkKeyMatches(key, chain); err != nil {
		return nil, err
	}
	if err := checkValidity(leaf, now); err != nil {
		return nil, err
	}
	der := make([][]byte, len(chain))
	for i, c := range chain {
		der[i] = c.Raw
	}
	return &Certificate{
		Cert:     &tls.Certificate{Certificate: der, PrivateKey: key, Leaf: leaf},
		Names:    leafNames(leaf),
		NotAfter: leaf.NotAfter,
		Warnings: leafWarnings(leaf),
	}, nil
}

// parseChain returns every CERTIFICATE block in data, in order.
func parseChain(data []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errorf(ErrNoCertificate, "tls.crt is missing or empty")
	}
	var (
		chain    []*x509.Certificate
		blocks   int
		keyBlock bool
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		if block.Type != "CERTIFICATE" {
			keyBlock = keyBlock || strings.HasSuffix(block.Type, "PRIVATE KEY")
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, errorf(ErrBadPEM, "tls.crt: certificate %d cannot be parsed: %v", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	// pem.Decode silently skips a block it cannot decode; count BEGIN lines
	// so a truncated intermediate is reported instead of quietly dropped.
	if n := beginLines(data); n > blocks {
		return nil, errorf(ErrBadPEM, "tls.crt: malformed PEM: %d of %d blocks cannot be decoded (truncated, missing END line, or invalid base64)", n-blocks, n)
	}
	if len(chain) == 0 {
		hint := pemHint(data)
		if keyBlock {
			hint = " (it holds a private key; are tls.crt and tls.key swapped?)"
		}
		return nil, errorf(ErrNoCertificate, "tls.crt: no PEM certificate block found%s", hint)
	}
	return chain, nil
}

// parseKey returns the first private key in data.
func parseKey(data []byte) (crypto.Signer, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errorf(ErrNoKey, "tls.key is missing or empty")
	}
	var blocks int
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED":
			return nil, errorf(ErrUnsupportedKey, "tls.key: the private key is encrypted with a passphrase; store it unencrypted")
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			return decodeKey(block.Bytes)
		}
	}
	if n := beginLines(data); n > blocks {
		return nil, errorf(ErrBadPEM, "tls.key: malformed PEM: %d of %d blocks cannot be decoded (truncated, missing END line, or invalid base64)", n-blocks, n)
	}
	hint := pemHint(data)
	if blocks > 0 {
		hint = " (it holds other PEM blocks, e.g. a certificate; are tls.crt and tls.key swapped?)"
	}
	return nil, errorf(ErrNoKey, "tls.key: no PEM private key block found%s", hint)
}

// decodeKey accepts PKCS #8, PKCS #1 and SEC 1 encodings whatever the PEM
// type says, as crypto/tls does, because mislabelled keys are common.
func decodeKey(der []byte) (crypto.Signer, error) {
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			if key, err = x509.ParseECPrivateKey(der); err != nil {
				return nil, errorf(ErrBadPEM, "tls.key: the private key cannot be parsed (expected PKCS #8, PKCS #1 or EC)")
			}
		}
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, errorf(ErrUnsupportedKey, "tls.key: unsupported private key type %T; use RSA, ECDSA or Ed25519", key)
	}
}

// checkKeyMatches makes sure key belongs to the leaf, and when it does not,
// says whether it belongs to another certificate in the chain, the usual
// cause being a chain pasted in the wrong order.
func checkKeyMatches(key crypto.Signer, chain []*x509.Certificate) error {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return errorf(ErrUnsupportedKey, "tls.key: unsupported private key type %T", key)
	}
	if pub.Equal(chain[0].PublicKey) {
		return nil
	}
	for i, c := range chain[1:] {
		if pub.Equal(c.PublicKey) {
			return errorf(ErrKeyMismatch, "tls.key belongs to certificate %d in tls.crt, not the first one; the server certificate must come first, followed by its intermediates", i+2)
		}
	}
	return errorf(ErrKeyMismatch, "tls.key does not match the certificate in tls.crt (%s)", describe(chain[0]))
}

func checkValidity(leaf *x509.Certificate, now time.Time) error {
	if now.After(leaf.NotAfter) {
		return errorf(ErrExpired, "tls.crt: certificate %s expired on %s", describe(leaf), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return errorf(ErrNotYetValid, "tls.crt: certificate %s is not valid until %s", describe(leaf), leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// leafNames lists the SANs in canonical form, without duplicates. The Common
// Name is left out on purpose: browsers and Go ignore it (RFC 6125, and
// Go 1.15 release notes), so matching on it would serve a certificate
// clients then reject.
func leafNames(leaf *x509.Certificate) []string {
	names := make([]string, 0, len(leaf.DNSNames)+len(leaf.IPAddresses))
	seen := make(map[string]bool, cap(names))
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, n := range leaf.DNSNames {
		add(normalizeName(n))
	}
	for _, ip := range leaf.IPAddresses {
		add(ip.String())
	}
	return names
}

func leafWarnings(leaf *x509.Certificate) []string {
	var w []string
	if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 {
		w = append(w, fmt.Sprintf("tls.crt: certificate has no DNS or IP subject alternative names; clients ignore the Common Name %q, so it can only serve as the default certificate", leaf.Subject.CommonName))
	}
	if len(leaf.ExtKeyUsage) > 0 && !hasServerAuth(leaf.ExtKeyUsage) {
		w = append(w, "tls.crt: certificate is not valid for server authentication (its extended key usage lacks serverAuth); clients will reject it")
	}
	return w
}

func hasServerAuth(usages []x509.ExtKeyUsage) bool {
	for _, u := range usages {
		if u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// describe names a certificate in error messages the way a user would look
// it up: by its first SAN, else its Common Name.
func describe(c *x509.Certificate) string {
	switch {
	case len(c.DNSNames) > 0:
		return fmt.Sprintf("for %q", c.DNSNames[0])
	case c.Subject.CommonName != "":
		return fmt.Sprintf("with common name %q", c.Subject.CommonName)
	default:
		return fmt.Sprintf("with serial %s", c.SerialNumber)
	}
}

// beginLines counts PEM "-----BEGIN " lines the way pem.Decode finds them.
func beginLines(data []byte) int {
	n := bytes.Count(data, []byte("\n-----BEGIN "))
	if bytes.HasPrefix(data, []byte("-----BEGIN ")) {
		n++
	}
	return n
}

// pemHint recognizes two common ways of getting PEM wrong in a Secret.
func pemHint(data []byte) string {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == 0x30 { // ASN.1 SEQUENCE: raw DER
		return " (the data looks like binary DER; convert it to PEM)"
	}
	if dec, err := base64.StdEncoding.DecodeString(string(data)); err == nil && bytes.Contains(dec, []byte("-----BEGIN")) {
		return " (the data is base64-encoded PEM; it was probably base64-encoded twice)"
	}
	return ""
}
