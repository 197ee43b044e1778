package tlsstore

import (
	"crypto/tls"
	"strings"
	"time"
)

// Certificate is one parsed, validated key pair, e.g. from a
// kubernetes.io/tls Secret. Treat it as immutable once handed to a [Store].
type Certificate struct {
	// Source says where the pair came from, e.g. "namespace/secret-name",
	// for logs, metrics and /debug.
	Source string
	// Cert is what the handshake serves; Cert.Leaf is set by [Parse].
	Cert *tls.Certificate
	// Names are the lower-cased DNS SANs and the IP SANs (as strings) the
	// certificate covers. A wildcard SAN appears as "*.example.com".
	Names []string
	// NotAfter is the leaf's expiry, kept at hand for metrics and renewal.
	NotAfter time.Time
	// Warnings are problems that do not stop the certificate from being
	// served but that a user should hear about (e.g. as a Kubernetes Event),
	// such as a certificate with no subject alternative names.
	Warnings []string
}

// Covers reports whether c is valid for host by subject alternative name
// rules: an exact (case-insensitive) match, or a wildcard "*.rest" matching
// exactly one non-empty label in front of rest (RFC 6125, section 6.4.3).
// A trailing dot on host is ignored.
func (c *Certificate) Covers(host string) bool {
	if c == nil {
		return false
	}
	host = normalizeName(host)
	if host == "" {
		return false
	}
	for _, name := range c.Names {
		name = normalizeName(name)
		if name == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
			continue
		}
		if name == host {
			return true
		}
	}
	return false
}

// normalizeName lower-cases ASCII letters and drops one trailing dot, the
// canonical form used for every comparison in this package. Only ASCII is
// folded because DNS names compare case-insensitively in ASCII alone
// (RFC 4343); Unicode folding would, for example, equate the Kelvin sign
// with "k".
func normalizeName(s string) string {
	return lowerString(strings.TrimSuffix(s, "."))
}

// lowerString lower-cases ASCII letters, allocating only when it must.
func lowerString(s string) string {
	if !hasUpperASCII(s) {
		return s
	}
	b := []byte(s)
	lowerASCII(b)
	return string(b)
}

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
}
