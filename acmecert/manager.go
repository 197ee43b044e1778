package acmecert

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"portico.dev/portico/tlsstore"
)

// Locker grants one holder at a time, across every replica, the right to
// order a host's certificate.
type Locker interface {
	// TryLock takes the lock called name if it is free (or its holder
	// stopped renewing it). ok is false when another holder has it. The
	// lock stays held until unlock is called.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// Config configures a [Manager].
type Config struct {
	// DirectoryURL is the ACME server's directory, e.g.
	// https://acme-v02.api.letsencrypt.org/directory.
	DirectoryURL string
	// Email is the account's contact address; optional.
	Email string
	// HTTPClient talks to the ACME server; nil means a client with the
	// system roots. Set it to trust a private CA.
	HTTPClient *http.Client
	// Cache is shared by every replica.
	Cache autocert.Cache
	// Locker coordinates ordering between replicas.
	Locker Locker
	Log    *slog.Logger
	// Refresh is how often certificates are re-read from Cache (to pick up
	// renewals by other replicas) and checked for renewal; default 1 min.
	Refresh time.Duration
	// Wait bounds how long a handshake waits for a certificate that is
	// being ordered (here or by another replica); default 2 min.
	Wait time.Duration
	// RetryAfter is how long a host whose order failed is served the
	// default certificate before the next attempt; default 1 min (as
	// autocert does), which keeps a broken host from hitting CA rate limits.
	RetryAfter time.Duration
	// OnOrder, if set, is called after every order attempt.
	OnOrder func(host string, err error)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Manager serves ACME certificates for an allowed set of hosts. All methods
// are safe for concurrent use.
type Manager struct {
	cfg     Config
	hosts   atomic.Pointer[map[string]bool]
	serving *autocert.Manager // answers challenges from the shared cache

	mu      sync.Mutex
	certs   map[string]*tlsstore.Certificate // loaded from the cache
	flights map[string]*flight               // orders or loads under way here
	failed  map[string]time.Time             // host → no new attempt before
}

type flight struct {
	done chan struct{}
	cert *tlsstore.Certificate
	err  error
}

// New returns a Manager that allows no host until [Manager.SetHosts].
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.DirectoryURL == "":
		return nil, errors.New("acmecert: no directory URL")
	case cfg.Cache == nil || cfg.Locker == nil:
		return nil, errors.New("acmecert: a shared Cache and a Locker are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Minute
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 2 * time.Minute
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{
		cfg:     cfg,
		certs:   make(map[string]*tlsstore.Certificate),
		flights: make(map[string]*flight),
		failed:  make(map[string]time.Time),
	}
	m.hosts.Store(&map[string]bool{})
	// The serving manager never orders: it only reads HTTP-01 tokens and
	// TLS-ALPN-01 token certificates that the ordering replica put in the
	// shared cache.
	m.serving = &autocert.Manager{Cache: cfg.Cache, HostPolicy: m.policy}
	return m, nil
}

// SetHosts replaces the set of hosts that may get certificates. It
// implements controller.ACMEHosts.
func (m *Manager) SetHosts(hosts []string) {
	set := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		set[normalize(h)] = true
	}
	m.hosts.Store(&set)
}

// Allowed reports whether host (any case, optionally with a port or a
// trailing dot) is one of the ACME hosts.
func (m *Manager) Allowed(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return (*m.hosts.Load())[normalize(host)]
}

func (m *Manager) policy(_ context.Context, host string) error {
	if !m.Allowed(host) {
		return fmt.Errorf("acmecert: host %q is not in the rules of an Ingress annotated portico.dev/acme", host)
	}
	return nil
}

func normalize(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// GetCertificate serves the certificate of an ACME host, ordering it on
// first use. It returns (nil, nil) for other hosts, and for an ACME host
// whose order failed, so the caller falls back to its default certificate:
// it fits tlsstore.Config.OnMissing, which puts certificates from Secrets
// first.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	host := normalize(hello.ServerName)
	if !m.Allowed(host) {
		return nil, nil
	}
	m.mu.Lock()
	c := m.certs[host]
	m.mu.Unlock()
	if c != nil && m.cfg.Now().Before(c.NotAfter) {
		return c.Cert, nil
	}
	parent := hello.Context()
	if parent == nil { // a ClientHelloInfo not made by crypto/tls
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, m.cfg.Wait)
	defer cancel()
	c, err := m.ensure(ctx, host, false)
	if err != nil {
		m.cfg.Log.Warn("no ACME certificate; serving the default", "host", host, "err", err)
		return nil, nil
	}
	return c.Cert, nil
}

// IsChallenge reports whether hello is a TLS-ALPN-01 validation (RFC 8737),
// which must be answered by [Manager.ChallengeCertificate].
func IsChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
}

// ChallengeCertificate answers a TLS-ALPN-01 validation with the token
// certificate the ordering replica put in the shared cache.
func (m *Manager) ChallengeCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.serving.GetCertificate(hello)
}

// ChallengePrefix is where HTTP-01 validations ask (RFC 8555, section 8.3).
const ChallengePrefix = "/.well-known/acme-challenge/"

// HTTPHandler answers HTTP-01 validations for ACME hosts from the shared
// cache, so any replica can answer for an order another replica started,
// and passes every other request to next: an ACME host's challenge is
// answered before routing and before the redirect to HTTPS.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	challenge := m.serving.HTTPHandler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, ChallengePrefix) && m.Allowed(r.Host) {
			challenge.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Run re-reads the certificates of ACME hosts from the cache every Refresh
// (renewals by other replicas go live here) and renews those due, until ctx
// ends.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.refresh(ctx)
		}
	}
}

func (m *Manager) refresh(ctx context.Context) {
	m.mu.Lock()
	var hosts []string
	for h := range m.certs {
		if m.Allowed(h) {
			hosts = append(hosts, h)
		} else {
			delete(m.certs, h) // no longer an ACME host: forget it
		}
	}
	m.mu.Unlock()
	for _, h := range hosts {
		c, err := m.load(ctx, h)
		if err != nil {
			m.cfg.Log.Warn("reading ACME certificate from the cache", "host", h, "err", err)
			continue
		}
		if c == nil || m.due(c) {
			if _, err := m.ensure(ctx, h, true); err != nil {
				m.cfg.Log.Warn("renewing ACME certificate", "host", h, "err", err)
			}
		}
	}
}

// due reports whether c should be renewed: in the last third of its
// lifetime, but at most 30 days before expiry (autocert's default).
func (m *Manager) due(c *tlsstore.Certificate) bool {
	leaf := c.Cert.Leaf
	before := min(leaf.NotAfter.Sub(leaf.NotBefore)/3, 30*24*time.Hour)
	return !m.cfg.Now().Before(leaf.NotAfter.Add(-before))
}

// ensure returns a usable certificate for host (one not due for renewal if
// renew is set), loading it from the cache or ordering it. Concurrent calls
// for a host in this process share one attempt; the attempt runs on its own
// context so that a client giving up does not abandon an order.
func (m *Manager) ensure(ctx context.Context, host string, renew bool) (*tlsstore.Certificate, error) {
	m.mu.Lock()
	if until, ok := m.failed[host]; ok && m.cfg.Now().Before(until) {
		m.mu.Unlock()
		return nil, fmt.Errorf("last order for %s failed; next attempt after %s", host, until.Format(time.RFC3339))
	}
	f := m.flights[host]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		m.flights[host] = f
		go m.fly(host, renew, f)
	}
	m.mu.Unlock()
	select {
	case <-f.done:
		return f.cert, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the certificate of %s: %w", host, context.Cause(ctx))
	}
}

func (m *Manager) fly(host string, renew bool, f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f.cert, f.err = m.obtain(ctx, host, renew)
	m.mu.Lock()
	delete(m.flights, host)
	if f.err != nil {
		m.failed[host] = m.cfg.Now().Add(m.cfg.RetryAfter)
	} else {
		delete(m.failed, host)
	}
	m.mu.Unlock()
	close(f.done)
}

// pollEvery is how often a replica waiting for another one's order looks
// in the cache.
const pollEvery = 250 * time.Millisecond

func (m *Manager) obtain(ctx context.Context, host string, renew bool) (*tlsstore.Certificate, error) {
	usable := func(c *tlsstore.Certificate) bool {
		return c != nil && m.cfg.Now().Before(c.NotAfter) && !(renew && m.due(c))
	}
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	for {
		if c, err := m.load(ctx, host); err != nil {
			return nil, err
		} else if usable(c) {
			return c, nil
		}
		unlock, ok, err := m.cfg.Locker.TryLock(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("taking the order lock for %s: %w", host, err)
		}
		if ok {
			defer unlock()
			// Another replica may have finished between the load and the lock.
			if c, err := m.load(ctx, host); err == nil && usable(c) {
				return c, nil
			}
			return m.order(ctx, host)
		}
		select { // another replica is ordering: its result lands in the cache
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for another replica's order for %s: %w", host, context.Cause(ctx))
		case <-poll.C:
		}
	}
}

// load reads host's certificate from the cache into memory; nil if there
// is none or it cannot be used.
func (m *Manager) load(ctx context.Context, host string) (*tlsstore.Certificate, error) {
	data, err := m.cfg.Cache.Get(ctx, host)
	if errors.Is(err, autocert.ErrCacheMiss) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := parseCached(data, host, m.cfg.Now())
	if err != nil {
		m.cfg.Log.Warn("ignoring unusable ACME certificate in the cache", "host", host, "err", err)
		return nil, nil
	}
	m.mu.Lock()
	m.certs[host] = c
	m.mu.Unlock()
	return c, nil
}

// order runs one autocert order for host, with the lock held. A fresh
// autocert.Manager is used per order: its cache view hides host's current
// certificate, so it orders even while an old one is still valid (renewal),
// and its ACME client is shut once the order is over, so the renewal timer
// autocert starts inside it can never order on its own, outside the lock.
func (m *Manager) order(ctx context.Context, host string) (*tlsstore.Certificate, error) {
	start := time.Now()
	m.cfg.Log.Info("ordering ACME certificate", "host", host, "directory", m.cfg.DirectoryURL)
	var over atomic.Bool
	defer over.Store(true)
	hc := m.cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	om := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      &orderCache{Cache: m.cfg.Cache, host: host, over: &over},
		HostPolicy: autocert.HostWhitelist(host),
		Email:      m.cfg.Email,
		Client: &acme.Client{
			DirectoryURL: m.cfg.DirectoryURL,
			UserAgent:    "portico",
			HTTPClient:   &http.Client{Timeout: hc.Timeout, Transport: &closable{next: transport(hc), over: &over}},
		},
	}
	om.HTTPHandler(nil) // allow http-01 after tls-alpn-01; both are answered from the cache
	// An ECDSA suite makes autocert order an ECDSA P-256 certificate.
	hello := &tls.ClientHelloInfo{ServerName: host, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	_, err := om.GetCertificate(hello) // bounded by autocert's own 5-minute timeout
	if m.cfg.OnOrder != nil {
		m.cfg.OnOrder(host, err)
	}
	if err != nil {
		return nil, fmt.Errorf("ordering a certificate for %s: %w", host, err)
	}
	// autocert ignores errors writing the cache; a certificate the other
	// replicas cannot see would make them order again, so check.
	over.Store(true)
	c, err := m.load(ctx, host)
	if err != nil || c == nil {
		return nil, fmt.Errorf("certificate for %s was issued but could not be stored in the shared cache: %v", host, err)
	}
	m.cfg.Log.Info("ACME certificate issued", "host", host, "not_after", c.NotAfter, "took", time.Since(start).Round(time.Millisecond))
	return c, nil
}

func transport(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// orderCache is the shared cache as one order sees it: while the order
// runs, host's certificate looks absent so that autocert orders a new one.
type orderCache struct {
	autocert.Cache
	host string
	over *atomic.Bool
}

func (c *orderCache) Get(ctx context.Context, key string) ([]byte, error) {
	if key == c.host && !c.over.Load() {
		return nil, autocert.ErrCacheMiss
	}
	return c.Cache.Get(ctx, key)
}

// closable refuses every request once over is set.
type closable struct {
	next http.RoundTripper
	over *atomic.Bool
}

var errOrderOver = errors.New("acmecert: this order is over; renewals go through the Manager")

func (c *closable) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.over.Load() {
		return nil, errOrderOver
	}
	return c.next.RoundTrip(r)
}
