package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"portico.dev/portico/router"
)

// tlsPools are the transports of backends with a TLS configuration of
// their own (Gateway API BackendTLSPolicy): one per configuration
// (router.BackendTLS.Key) and HTTP version, shared by every listener and
// kept across table swaps like the per-protocol transports. A pool unused
// for tlsPoolIdle is dropped (its idle connections closed), so
// configurations that left the table do not keep connections or memory;
// one still in the table is simply built again on its next request.
type tlsPools struct {
	cfg TransportConfig

	mu        sync.RWMutex
	pools     map[tlsPoolKey]*tlsPool
	lastSweep int64 // monotime, under mu
}

type tlsPoolKey struct {
	key string
	h2  bool
}

type tlsPool struct {
	tr       *http.Transport
	lastUsed int64 // monotime, under tlsPools.mu (write) or atomically refreshed below
}

const (
	tlsPoolIdle       = 10 * time.Minute
	tlsPoolSweepEvery = time.Minute
)

// backendProtocol is how to speak to a backend: its Protocol or the
// route's, and TLS when the backend has a TLS configuration of its own.
func backendProtocol(b *router.Backend, routeProto router.Protocol) router.Protocol {
	p := routeProto
	if b.Protocol != router.HTTP {
		p = b.Protocol
	}
	if b.TLS != nil {
		switch p {
		case router.HTTP:
			p = router.HTTPS
		case router.H2C, router.GRPC:
			p = router.GRPCS
		}
	}
	return p
}

// transport returns the pooled transport for tl, building it on first use.
func (ps *tlsPools) transport(tl *router.BackendTLS, proto router.Protocol) *http.Transport {
	k := tlsPoolKey{key: tl.Key, h2: proto == router.GRPCS}
	now := monotime()
	ps.mu.RLock()
	p := ps.pools[k]
	fresh := p != nil && now-p.lastUsed < int64(tlsPoolSweepEvery)
	ps.mu.RUnlock()
	if fresh {
		return p.tr
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p = ps.pools[k]; p == nil {
		if ps.pools == nil {
			ps.pools = make(map[tlsPoolKey]*tlsPool)
		}
		p = &tlsPool{tr: newBackendTLSTransport(ps.cfg, tl, k.h2)}
		ps.pools[k] = p
	}
	p.lastUsed = now
	if now-ps.lastSweep >= int64(tlsPoolSweepEvery) {
		ps.lastSweep = now
		for kk, q := range ps.pools {
			if now-q.lastUsed >= int64(tlsPoolIdle) {
				q.tr.CloseIdleConnections()
				delete(ps.pools, kk)
			}
		}
	}
	return p.tr
}

func (ps *tlsPools) closeIdle() {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	for _, p := range ps.pools {
		p.tr.CloseIdleConnections()
	}
}

func (ps *tlsPools) len() int {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return len(ps.pools)
}

// newBackendTLSTransport speaks TLS as tl says: SNI is tl.ServerName;
// the certificate must chain to tl.RootCAs (the system roots when nil)
// and be valid for tl.ServerName, or, when tl.SANs is set, carry one of
// them (BackendTLSPolicyValidation.Hostname: "If SubjectAltNames are
// specified, Hostname can be used for certificate selection but MUST NOT
// be used for authentication"). The client certificate, when set, is
// presented whatever CAs the backend says it accepts.
func newBackendTLSTransport(cfg TransportConfig, tl *router.BackendTLS, h2 bool) *http.Transport {
	c := &tls.Config{ServerName: tl.ServerName, RootCAs: tl.RootCAs, MinVersion: max(tl.MinVersion, tls.VersionTLS12), MaxVersion: tl.MaxVersion}
	switch {
	case tl.SkipVerify:
		c.InsecureSkipVerify = true //nolint:gosec // asked for: ingress-nginx proxy-ssl-verify off
	case len(tl.SANs) > 0 || tl.NoSNI || tl.VerifyDepth > 0:
		// Go's verification always checks ServerName; the SANs replace it,
		// or it is checked without being sent, so the chain is verified
		// here instead.
		c.InsecureSkipVerify = true //nolint:gosec // verified in VerifyConnection
		c.VerifyConnection = func(cs tls.ConnectionState) error { return verifyBackend(cs, tl) }
	}
	if tl.NoSNI {
		c.ServerName = ""
	}
	if cert := tl.ClientCertificate; cert != nil {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	var protocols http.Protocols
	if h2 {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
	}
	return newTransport(cfg, &protocols, c)
}

var (
	errNoSAN        = errors.New("backend certificate has none of the subjectAltNames its BackendTLSPolicy asks for")
	errChainTooDeep = errors.New("backend certificate chain is longer than proxy-ssl-verify-depth allows")
)

// verifyBackend verifies the backend's chain against tl.RootCAs, no
// longer than tl.VerifyDepth when that is set, and checks that the leaf
// carries one of tl.SANs: a hostname by certificate name rules (a
// wildcard in the certificate covers one label; a wildcard in the policy
// matches the same wildcard in the certificate), a URI exactly. Without
// SANs the leaf must be valid for tl.ServerName.
func verifyBackend(cs tls.ConnectionState, tl *router.BackendTLS) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("backend sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	opts := x509.VerifyOptions{Roots: tl.RootCAs, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return err
	}
	if tl.VerifyDepth > 0 {
		shortest := len(chains[0])
		for _, ch := range chains[1:] {
			shortest = min(shortest, len(ch))
		}
		// OpenSSL's depth counts the certificates above the leaf.
		if shortest-1 > tl.VerifyDepth {
			return errChainTooDeep
		}
	}
	if len(tl.SANs) == 0 {
		return leaf.VerifyHostname(tl.ServerName)
	}
	for _, san := range tl.SANs {
		switch {
		case san.DNS != "":
			if leaf.VerifyHostname(san.DNS) == nil {
				return nil
			}
			for _, n := range leaf.DNSNames {
				if strings.EqualFold(n, san.DNS) {
					return nil
				}
			}
		case san.URI != "":
			for _, u := range leaf.URIs {
				if u.String() == san.URI {
					return nil
				}
			}
		}
	}
	return errNoSAN
}
