package proxy

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
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

// clientCert judges the request's client certificate against its host's
// settings (ingress-nginx auth-tls-*), as nginx does before any other
// check: a request with a missing (when required) or failing certificate
// gets 400, or a redirect to the error page; one whose subject
// auth-tls-match-cn does not match gets 403. It reports whether the
// request goes on; then the ssl-client-* headers are set for upstream.
func (c *call) clientCert(a *router.ClientAuth) bool {
	r := c.in
	dropClientCertHeaders(r.Header)
	if a.Invalid != "" {
		c.fail(http.StatusForbidden, "403 forbidden")
		return false
	}
	if r.TLS != nil && r.TLS.ServerName != "" && !router.HostCovers(c.route.Host, r.TLS.ServerName) {
		// The handshake was for another name: it asked for no certificate,
		// or one judged for another host. The client retries on a
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
		if err := c.p.clientCerts.verify(a, chain); err != nil {
			verify = "FAILED:" + err.Error()
			if a.Mode != router.ClientCertOptionalNoCA {
				c.clientCertFailed(a, "400 the SSL certificate error")
				return false
			}
		} else {
			verify = "SUCCESS"
		}
	} else if a.Mode == router.ClientCertRequired {
		c.clientCertFailed(a, "400 no required SSL certificate was sent")
		return false
	}
	var dn string
	if len(chain) > 0 {
		dn = chain[0].Subject.String()
	}
	if a.MatchCN != nil && !a.MatchCN.MatchString(dn) {
		c.fail(http.StatusForbidden, "client certificate unauthorized")
		return false
	}
	h := r.Header
	h[hdrClientVerify] = []string{verify}
	if len(chain) > 0 {
		h[hdrClientDN] = []string{dn}
		h[hdrClientIssuer] = []string{chain[0].Issuer.String()}
		if a.PassCert {
			h[hdrClientCert] = []string{router.EscapeCert(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw}))}
		}
	}
	return true
}

func dropClientCertHeaders(h http.Header) {
	for _, k := range []string{hdrClientVerify, hdrClientDN, hdrClientIssuer, hdrClientCert} {
		delete(h, k)
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

// clientCertCache remembers verdicts on client certificates, so that a
// connection's requests verify its chain once. A connection's
// certificates are the same objects for all its requests, so the leaf
// pointer (with the settings) is the key; a verdict holds until the
// chain (or the CRL) expires. The cache is bounded: when full it starts
// over.
type clientCertCache struct {
	mu sync.Mutex
	m  map[clientCertKey]clientCertVerdict
}

type clientCertKey struct {
	leaf *x509.Certificate
	a    *router.ClientAuth
}

type clientCertVerdict struct {
	err   error
	until time.Time // for a trusted chain
}

const clientCertCacheSize = 4096

func (cc *clientCertCache) verify(a *router.ClientAuth, chain []*x509.Certificate) error {
	now := time.Now()
	k := clientCertKey{chain[0], a}
	cc.mu.Lock()
	v, ok := cc.m[k]
	cc.mu.Unlock()
	if ok && (v.err != nil || now.Before(v.until)) {
		return v.err
	}
	until, err := a.Verify(chain, now)
	cc.mu.Lock()
	if cc.m == nil || len(cc.m) >= clientCertCacheSize {
		cc.m = make(map[clientCertKey]clientCertVerdict)
	}
	cc.m[k] = clientCertVerdict{err: err, until: until}
	cc.mu.Unlock()
	return err
}
