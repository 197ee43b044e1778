package tlsstore

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"sync"
)

// clientCertHosts are the server names whose handshakes ask the client
// for a certificate, with the CAs to name: exact names, and the parents
// of "*." wildcards.
type clientCertHosts struct {
	exact     map[string]*x509.CertPool
	wildcards map[string]*x509.CertPool // "example.com" for "*.example.com"
	configs   sync.Map                  // *x509.CertPool → *tls.Config, made on first use
}

// SetClientCertHosts replaces the server names for which a handshake asks
// the client for a certificate (ingress-nginx auth-tls-*), each with the
// CAs whose names the request lists (nil lists none): exact names and
// "*.example.com" wildcards, which cover one label. The handshake does not
// judge the certificate: the proxy does, per request, against the CA of
// the request's host, and refuses a request without one that needs one.
// Session tickets are off for these names, so a session that began
// without a certificate is never resumed into one that needs it.
func (s *Store) SetClientCertHosts(hosts map[string]*x509.CertPool) {
	if len(hosts) == 0 {
		s.clientHosts.Store(nil)
		return
	}
	h := &clientCertHosts{exact: map[string]*x509.CertPool{}, wildcards: map[string]*x509.CertPool{}}
	for n, pool := range hosts {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if p, ok := strings.CutPrefix(n, "*."); ok {
			h.wildcards[p] = pool
		} else if n != "" {
			h.exact[n] = pool
		}
	}
	s.clientHosts.Store(h)
}

// clientCertCAs reports whether a handshake for sni asks for a client
// certificate, and which CAs it names.
func (s *Store) clientCertCAs(sni string) (*clientCertHosts, *x509.CertPool, bool) {
	h := s.clientHosts.Load()
	if h == nil || sni == "" {
		return nil, nil, false
	}
	sni = strings.TrimSuffix(lowerString(sni), ".")
	if pool, ok := h.exact[sni]; ok {
		return h, pool, true
	}
	if _, parent, ok := strings.Cut(sni, "."); ok {
		pool, ok := h.wildcards[parent]
		return h, pool, ok
	}
	return nil, nil, false
}

// clientCertConfig chains GetConfigForClient: handshakes of the client
// certificate hosts use a copy of cfg (as it is at that handshake, after
// every wrapper has been set) that asks for one, naming the host's CAs.
func (s *Store) clientCertConfig(cfg *tls.Config) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	var base struct {
		once sync.Once
		cfg  *tls.Config
	}
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if hello == nil {
			return nil, nil
		}
		h, pool, ok := s.clientCertCAs(hello.ServerName)
		if !ok {
			return nil, nil
		}
		if c, ok := h.configs.Load(pool); ok {
			return c.(*tls.Config), nil
		}
		base.once.Do(func() {
			base.cfg = cfg.Clone()
			base.cfg.GetConfigForClient = nil
			base.cfg.ClientAuth = tls.RequestClientCert
			base.cfg.SessionTicketsDisabled = true
		})
		c := base.cfg.Clone()
		c.ClientCAs = pool
		got, _ := h.configs.LoadOrStore(pool, c)
		return got.(*tls.Config), nil
	}
}
