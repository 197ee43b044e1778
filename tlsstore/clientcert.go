package tlsstore

import (
	"crypto/tls"
	"strings"
	"sync"
)

// clientCertHosts are the server names whose handshakes ask the client
// for a certificate: exact names, and the parents of "*." wildcards.
type clientCertHosts struct {
	exact     map[string]struct{}
	wildcards map[string]struct{} // "example.com" for "*.example.com"
}

// SetClientCertHosts replaces the server names for which a handshake asks
// the client for a certificate (ingress-nginx auth-tls-*): exact names
// and "*.example.com" wildcards, which cover one label. The handshake
// does not judge the certificate: the proxy does, per request, against
// the CA of the request's host, and refuses a request without one that
// needs one. Session tickets are off for these names, so a session that
// began without a certificate is never resumed into one that needs it.
func (s *Store) SetClientCertHosts(hosts []string) {
	if len(hosts) == 0 {
		s.clientHosts.Store(nil)
		return
	}
	h := &clientCertHosts{exact: map[string]struct{}{}, wildcards: map[string]struct{}{}}
	for _, n := range hosts {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if p, ok := strings.CutPrefix(n, "*."); ok {
			h.wildcards[p] = struct{}{}
		} else if n != "" {
			h.exact[n] = struct{}{}
		}
	}
	s.clientHosts.Store(h)
}

// wantsClientCert reports whether a handshake for sni asks for a client
// certificate.
func (s *Store) wantsClientCert(sni string) bool {
	h := s.clientHosts.Load()
	if h == nil || sni == "" {
		return false
	}
	sni = strings.TrimSuffix(lowerString(sni), ".")
	if _, ok := h.exact[sni]; ok {
		return true
	}
	if _, parent, ok := strings.Cut(sni, "."); ok {
		_, ok = h.wildcards[parent]
		return ok
	}
	return false
}

// clientCertConfig chains GetConfigForClient: handshakes of the client
// certificate hosts use a copy of cfg (as it is at the first such
// handshake, after every wrapper has been set) that asks for one.
func (s *Store) clientCertConfig(cfg *tls.Config) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	var once sync.Once
	var withCert *tls.Config
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if hello == nil || !s.wantsClientCert(hello.ServerName) {
			return nil, nil
		}
		once.Do(func() {
			withCert = cfg.Clone()
			withCert.GetConfigForClient = nil
			withCert.ClientAuth = tls.RequestClientCert
			withCert.SessionTicketsDisabled = true
		})
		return withCert, nil
	}
}
