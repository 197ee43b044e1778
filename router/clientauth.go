package router

import (
	"bytes"
	"crypto/x509"
	"errors"
	"regexp"
	"strings"
	"time"
)

// ClientAuth is client-certificate authentication for a host
// (ingress-nginx auth-tls-*: nginx ssl_verify_client and friends). The
// handshake of a server name that needs it asks the client for a
// certificate without judging it (tlsstore.Store.SetClientCertHosts);
// each request is judged here, against the CA of its host.
type ClientAuth struct {
	// Source names the Ingress the settings come from, for logs.
	Source string
	// Mode says what a missing or failing certificate does.
	Mode ClientCertMode
	// Roots are the CA certificates a client certificate must chain to.
	Roots *x509.CertPool
	// Depth is the longest chain accepted, counted as OpenSSL does: 1
	// means the client certificate is issued by a CA of Roots directly.
	Depth int
	// CRLs, when not empty, must include a current one from the issuer
	// of each certificate of the chain below the trust anchor that does
	// not list it (nginx ssl_crl: OpenSSL's CRL_CHECK_ALL).
	CRLs []*x509.RevocationList `json:"-"`
	// MatchCN, when set, must match the certificate's subject DN
	// (RFC 2253 form, "CN=name,O=org"); a request it does not match is
	// refused with 403, with or without a certificate.
	MatchCN *regexp.Regexp `json:"-"`
	// PassCert sends the client certificate upstream in ssl-client-cert
	// (URL-encoded PEM).
	PassCert bool
	// ErrorPage, when set, is where a request with a missing or failing
	// certificate is redirected (302) instead of getting 400.
	ErrorPage string
	// Invalid, when not empty, says why the settings cannot be used
	// (the CA Secret is missing or unreadable): every request is refused
	// with 403, as ingress-nginx does.
	Invalid string
}

// ClientCertMode is ingress-nginx's auth-tls-verify-client.
type ClientCertMode uint8

const (
	// ClientCertRequired ("on"): a verified certificate is needed.
	ClientCertRequired ClientCertMode = iota
	// ClientCertOptional ("optional"): none is fine, a failing one is not.
	ClientCertOptional
	// ClientCertOptionalNoCA ("optional_no_ca"): a certificate is asked
	// for and passed upstream, judged but never refused.
	ClientCertOptionalNoCA
)

// HostCovers reports whether a route host (a name, or "*.example.com"
// for one label more) covers the TLS server name sni. A request for a
// host with client-certificate authentication must come with a server
// name of that host: the handshake of another name asked for no
// certificate, or was judged for another host (nginx answers 421).
func HostCovers(host, sni string) bool {
	sni = strings.TrimSuffix(strings.ToLower(sni), ".")
	if sni == host {
		return true
	}
	if s, ok := strings.CutPrefix(host, "*"); ok {
		label, rest, _ := strings.Cut(sni, ".")
		return label != "" && "."+rest == s
	}
	return false
}

// Errors Verify returns, with nginx's wording of $ssl_client_verify
// ("FAILED:" + the OpenSSL reason).
var (
	ErrClientCertUntrusted = errors.New("unable to get local issuer certificate")
	ErrClientCertExpired   = errors.New("certificate has expired")
	ErrClientCertNotYet    = errors.New("certificate is not yet valid")
	ErrClientCertDepth     = errors.New("certificate chain too long")
	ErrClientCertPurpose   = errors.New("unsupported certificate purpose")
	ErrClientCertNoCRL     = errors.New("unable to get certificate CRL")
	ErrClientCertCRLOld    = errors.New("CRL has expired")
	ErrClientCertRevoked   = errors.New("certificate revoked")
)

// Verify judges a client's certificate chain (leaf first, as the client
// sent it) at time now. It returns nil when the chain is trusted, and
// the time after which that no longer holds (the earliest expiry of the
// chain or of the CRL used).
func (a *ClientAuth) Verify(chain []*x509.Certificate, now time.Time) (until time.Time, err error) {
	if len(chain) == 0 || a.Roots == nil {
		return time.Time{}, ErrClientCertUntrusted
	}
	leaf := chain[0]
	switch {
	case now.After(leaf.NotAfter):
		return time.Time{}, ErrClientCertExpired
	case now.Before(leaf.NotBefore):
		return time.Time{}, ErrClientCertNotYet
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: a.Roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage {
			return time.Time{}, ErrClientCertPurpose
		}
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return time.Time{}, ErrClientCertExpired
		}
		return time.Time{}, ErrClientCertUntrusted
	}
	depth := max(a.Depth, 1)
	var best []*x509.Certificate
	for _, c := range chains {
		if len(c)-1 <= depth && (best == nil || len(c) < len(best)) {
			best = c
		}
	}
	if best == nil {
		return time.Time{}, ErrClientCertDepth
	}
	until = leaf.NotAfter
	for _, c := range best {
		if c.NotAfter.Before(until) {
			until = c.NotAfter
		}
	}
	if len(a.CRLs) > 0 {
		// nginx ssl_crl checks every certificate of the chain below its
		// trust anchor (OpenSSL CRL_CHECK_ALL): each needs a current CRL of
		// its issuer that does not list it.
		for i := 0; i+1 < len(best); i++ {
			crl := a.crlFor(best[i], best[i+1])
			switch {
			case crl == nil:
				return time.Time{}, ErrClientCertNoCRL
			case !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate):
				return time.Time{}, ErrClientCertCRLOld
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber != nil && e.SerialNumber.Cmp(best[i].SerialNumber) == 0 {
					return time.Time{}, ErrClientCertRevoked
				}
			}
			if !crl.NextUpdate.IsZero() && crl.NextUpdate.Before(until) {
				until = crl.NextUpdate
			}
		}
	}
	return until, nil
}

// crlFor is the newest revocation list issuer signed for cert.
func (a *ClientAuth) crlFor(cert, issuer *x509.Certificate) *x509.RevocationList {
	var newest *x509.RevocationList
	for _, l := range a.CRLs {
		if bytes.Equal(l.RawIssuer, cert.RawIssuer) && (newest == nil || l.ThisUpdate.After(newest.ThisUpdate)) &&
			l.CheckSignatureFrom(issuer) == nil {
			newest = l
		}
	}
	return newest
}

// EscapeCert is a PEM certificate as nginx's $ssl_client_escaped_cert
// gives it: URL-encoded as a URI component (space as %20, newline %0A).
func EscapeCert(pemBytes []byte) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(pemBytes) + len(pemBytes)/8)
	for _, c := range pemBytes {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
