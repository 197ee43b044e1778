package tlsstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// Config configures a [Store].
type Config struct {
	// Default is served when no certificate covers the SNI name, or when
	// the client sends none. Nil means a freshly generated self-signed
	// certificate for "portico-default": generated rather than embedded so
	// that no two installations share a private key.
	Default *Certificate
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// OnMissing, if set, is asked for a certificate when no stored one
	// covers the SNI name (or there is none), before falling back to the
	// default: a hook for on-demand ACME. Returning (nil, nil) falls
	// through to the default; an error aborts the handshake.
	OnMissing func(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
}

// Store is the live set of certificates. All methods are safe for
// concurrent use; the handshake path never takes a lock.
type Store struct {
	index     atomic.Pointer[index]
	def       atomic.Pointer[Certificate]
	initial   *Certificate // restored by SetDefault(nil)
	onMissing func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	now       func() time.Time
	tickets   ticketKeys
	// clientHosts are the names whose handshakes ask for a client
	// certificate; nil for none.
	clientHosts atomic.Pointer[clientCertHosts]
}

// The generated default certificate's name and lifetime. The hour of
// backdating absorbs clock skew between Portico and its clients.
const (
	defaultName     = "portico-default"
	defaultValidity = 365 * 24 * time.Hour
	defaultBackdate = time.Hour
)

// New returns a Store serving only the default certificate until the first
// [Store.Replace].
func New(cfg Config) (*Store, error) {
	s := &Store{onMissing: cfg.OnMissing, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	def := cfg.Default
	switch {
	case def == nil:
		var err error
		if def, err = generateDefault(s.now()); err != nil {
			return nil, err
		}
	case def.Cert == nil:
		return nil, errors.New("tlsstore: default certificate has no key pair")
	}
	s.initial = def
	s.def.Store(def)
	s.index.Store(buildIndex(nil))
	return s, nil
}

func generateDefault(now time.Time) (*Certificate, error) {
	certPEM, keyPEM, err := SelfSigned([]string{defaultName}, now.Add(-defaultBackdate), now.Add(defaultValidity))
	if err != nil {
		return nil, fmt.Errorf("tlsstore: generating default certificate: %w", err)
	}
	c, err := Parse(certPEM, keyPEM, now)
	if err != nil {
		return nil, fmt.Errorf("tlsstore: generating default certificate: %w", err)
	}
	c.Source = "generated self-signed default"
	return c, nil
}

// Replace atomically swaps in a new full set of certificates. Order is
// priority: when two certificates cover the same name, the earlier one wins.
// Entries that are nil or have no key pair are skipped. The slice is copied;
// the certificates themselves must not be modified afterwards.
func (s *Store) Replace(certs []*Certificate) {
	s.index.Store(buildIndex(certs))
}

// SetDefault changes the default certificate. Nil (or a certificate without
// a key pair) restores the one the Store was created with, so that deleting
// a configured default Secret degrades to a working certificate.
func (s *Store) SetDefault(c *Certificate) {
	if c == nil || c.Cert == nil {
		c = s.initial
	}
	s.def.Store(c)
}

// Default returns the current default certificate.
func (s *Store) Default() *Certificate {
	return s.def.Load()
}

// Certificates returns the current set as given to [Store.Replace], minus
// skipped entries, for /debug.
func (s *Store) Certificates() []*Certificate {
	ix := s.index.Load()
	if ix == nil {
		return nil
	}
	return slices.Clone(ix.certs)
}

// errNoCertificate only happens on a zero Store, which New never returns.
var errNoCertificate = errors.New("tlsstore: no certificate available")

// GetCertificate implements tls.Config.GetCertificate. The SNI name is
// matched case-insensitively, ignoring a trailing dot: an exact SAN first,
// then a wildcard SAN, then Config.OnMissing, then the default. It does not
// allocate (except for SNI names longer than any DNS name can be, which are
// lower-cased on the heap).
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	var sni string
	if hello != nil {
		sni = hello.ServerName
	}
	if c := s.index.Load().match(sni); c != nil {
		return c.Cert, nil
	}
	if s.onMissing != nil && hello != nil {
		if cert, err := s.onMissing(hello); cert != nil || err != nil {
			return cert, err
		}
	}
	if def := s.def.Load(); def != nil {
		return def.Cert, nil
	}
	return nil, errNoCertificate
}

// Lookup returns the certificate GetCertificate would serve for host,
// leaving out Config.OnMissing. It returns the default when nothing else
// covers host.
func (s *Store) Lookup(host string) *Certificate {
	if c := s.index.Load().match(host); c != nil {
		return c
	}
	return s.def.Load()
}
