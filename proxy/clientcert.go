package proxy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"portico.dev/portico/router"
)

// The headers ingress-nginx sends upstream on a host with client
// certificates ($ssl_client_verify, $ssl_client_s_dn, $ssl_client_i_dn,
// $ssl_client_escaped_cert). Once any host has client-certificate
// settings they are Portico's on every host (a backend may serve an open
// host too): what a client sends under these names is dropped.
const (
	hdrClientVerify = "Ssl-Client-Verify"
	hdrClientDN     = "Ssl-Client-Subject-Dn"
	hdrClientIssuer = "Ssl-Client-Issuer-Dn"
	hdrClientCert   = "Ssl-Client-Cert"
)

// sslClientHeaders are the four names, for dropping what clients send.
var sslClientHeaders = [...]string{hdrClientVerify, hdrClientDN, hdrClientIssuer, hdrClientCert}

// clientCert judges the request's client certificate against its host's
// settings (ingress-nginx auth-tls-*), as nginx does before any other
// check: a request with a missing (when required) or failing certificate
// gets 400, or a redirect to the error page; one whose subject
// auth-tls-match-cn does not match gets 403. It reports whether the
// request goes on; then the ssl-client-* headers are set for upstream.
func (c *call) clientCert(a *router.ClientAuth, t *router.Table) bool {
	r := c.in
	dropClientCertHeaders(r.Header)
	if a.Invalid != "" {
		c.fail(http.StatusForbidden, "403 forbidden")
		return false
	}
	if r.TLS != nil && r.TLS.ServerName != "" && !c.sameServer(a, t, r.TLS.ServerName) {
		// The handshake was for another host: it asked for no certificate,
		// or one judged for other settings. The client retries on a
		// connection of its own (nginx answers 421 too).
		c.fail(http.StatusMisdirectedRequest, "421 misdirected request")
		return false
	}
	var chain []*x509.Certificate
	if r.TLS != nil {
		chain = r.TLS.PeerCertificates // plain HTTP has none: no certificate
	}
	verify := "NONE"
	if len(chain) > 0 {
		if err := c.p.clientCerts.verify(a, chain); err == nil {
			verify = "SUCCESS"
		} else if a.Mode == router.ClientCertOptionalNoCA && errors.Is(err, router.ErrClientCertUntrusted) {
			verify = "FAILED:" + err.Error() // nginx: only an unknown issuer is let through
		} else {
			c.clientCertFailed(a, "400 the SSL certificate error")
			return false
		}
	} else if a.Mode == router.ClientCertRequired {
		c.clientCertFailed(a, "400 no required SSL certificate was sent")
		return false
	}
	var dn string
	if len(chain) > 0 {
		dn = router.FormatDN(chain[0].RawSubject)
	}
	if a.MatchCN != nil && !a.MatchCN.MatchString(dn) {
		c.fail(http.StatusForbidden, "client certificate unauthorized")
		return false
	}
	c.clientHdr = clientCertHeaders{verify: verify}
	if len(chain) > 0 {
		c.clientHdr.dn, c.clientHdr.issuer = dn, router.FormatDN(chain[0].RawIssuer)
		if a.PassCert {
			c.clientHdr.cert = router.EscapeCert(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw}))
		}
	}
	return true
}

// sameServer reports whether the TLS server name sni selects the same
// client-certificate settings as the request's host: the route's host
// covers it, or it is another name of the same server (server-alias).
func (c *call) sameServer(a *router.ClientAuth, t *router.Table, sni string) bool {
	if router.HostCovers(c.route.Host, sni) {
		return true
	}
	m := t.Match(sni, "/")
	return m != nil && m.Options.ClientAuth == a
}

// clientCertHeaders are the ssl-client-* values for upstream; verify is
// "" on a request of a host without client-certificate settings.
type clientCertHeaders struct {
	verify, dn, issuer, cert string
}

// set puts the values on the outgoing request.
func (h *clientCertHeaders) set(out http.Header) {
	if h.verify == "" {
		return
	}
	out[hdrClientVerify] = []string{h.verify}
	if h.dn != "" {
		out[hdrClientDN] = []string{h.dn}
	}
	if h.issuer != "" {
		out[hdrClientIssuer] = []string{h.issuer}
	}
	if h.cert != "" {
		out[hdrClientCert] = []string{h.cert}
	}
}

// dropClientCertHeaders removes what a client sent under the
// ssl-client-* names, also spelt with underscores (which CGI-style
// servers read as the same variable; nginx drops such headers).
func dropClientCertHeaders(h http.Header) {
	for _, k := range sslClientHeaders {
		delete(h, k)
	}
	for k := range h {
		if len(k) < 4 || strings.IndexByte(k, '_') < 0 || !strings.EqualFold(k[:3], "ssl") {
			continue
		}
		n := strings.ReplaceAll(k, "_", "-")
		for _, want := range sslClientHeaders {
			if strings.EqualFold(n, want) {
				delete(h, k)
			}
		}
	}
}

// clientCertFailed answers a request without a good certificate: 400, or
// a 302 to auth-tls-error-page (nginx error_page 495 496 = url).
func (c *call) clientCertFailed(a *router.ClientAuth, msg string) {
	if a.ErrorPage == "" {
		c.fail(http.StatusBadRequest, msg)
		return
	}
	c.w.Header()["Location"] = []string{a.ErrorPage}
	c.status = http.StatusFound
	c.w.WriteHeader(http.StatusFound)
}

// clientCertCache remembers which client certificates were found
// trusted, so that a client's requests verify its chain once. Only
// trusted verdicts are kept (a stranger cannot fill the cache), keyed by
// the certificate's hash and the settings, without the certificate
// itself; a verdict holds until the chain (or a CRL) expires. A new
// table makes new settings, so its verdicts start afresh. When full, the
// cache starts over.
type clientCertCache struct {
	mu sync.Mutex
	m  map[clientCertKey]time.Time // until
}

type clientCertKey struct {
	leaf [sha256.Size]byte
	a    *router.ClientAuth
}

const clientCertCacheSize = 4096

func (cc *clientCertCache) verify(a *router.ClientAuth, chain []*x509.Certificate) error {
	now := time.Now()
	k := clientCertKey{sha256.Sum256(chain[0].Raw), a}
	cc.mu.Lock()
	until, ok := cc.m[k]
	cc.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	until, err := a.Verify(chain, now)
	if err != nil {
		return err
	}
	cc.mu.Lock()
	if cc.m == nil || len(cc.m) >= clientCertCacheSize {
		cc.m = make(map[clientCertKey]time.Time)
	}
	cc.m[k] = until
	cc.mu.Unlock()
	return nil
}
