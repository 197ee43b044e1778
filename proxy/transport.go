package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"portico.dev/portico/router"
)

// TransportConfig tunes NewTransports.
type TransportConfig struct {
	ConnectTimeout      time.Duration // default 5s; a route's portico.dev/proxy-connect-timeout overrides it
	MaxIdleConnsPerHost int           // default 256
	IdleConnTimeout     time.Duration // default 90s
}

func (c *TransportConfig) defaults() {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.MaxIdleConnsPerHost == 0 {
		c.MaxIdleConnsPerHost = 256
	}
	if c.IdleConnTimeout == 0 {
		c.IdleConnTimeout = 90 * time.Second
	}
}

// Transports holds one upstream transport per backend protocol. Create it
// once and share it by every listener's Proxy: connection pools then
// survive table swaps.
type Transports struct {
	byProtocol [router.GRPCS + 1]*http.Transport
	h1         *h1Transport // plain HTTP; byProtocol[HTTP] is its fallback
	tls        tlsPools     // backends with a TLS configuration of their own
}

// NewTransports builds the transports:
//
//   - http: HTTP/1.1 (WebSocket and other upgrades need it), sent by
//     h1Transport, with an http.Transport as its fallback;
//   - https: HTTP/1.1 over TLS;
//   - h2c and grpc: HTTP/2 without TLS, with prior knowledge;
//   - grpcs: HTTP/2 over TLS.
//
// TLS to backends is not verified: in-cluster backends serve self-signed or
// private-CA certificates, and Portico has no per-Service CA to check them
// against (the same default as ingress-nginx). A backend with a TLS
// configuration of its own (router.Backend.TLS, from a BackendTLSPolicy)
// is verified as it says, through ForBackend.
func NewTransports(cfg TransportConfig) *Transports {
	cfg.defaults()
	t := &Transports{tls: tlsPools{cfg: cfg}}
	var h1, h2c, h2 http.Protocols
	h1.SetHTTP1(true)
	h2c.SetUnencryptedHTTP2(true)
	h2.SetHTTP2(true)
	tlsCfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // see above
	t.byProtocol[router.HTTP] = newTransport(cfg, &h1, nil)
	t.h1 = newH1Transport(cfg, t.byProtocol[router.HTTP].DialContext, t.byProtocol[router.HTTP])
	t.byProtocol[router.HTTPS] = newTransport(cfg, &h1, tlsCfg)
	t.byProtocol[router.H2C] = newTransport(cfg, &h2c, nil)
	t.byProtocol[router.GRPC] = t.byProtocol[router.H2C]
	t.byProtocol[router.GRPCS] = newTransport(cfg, &h2, tlsCfg)
	return t
}

// For returns the transport for protocol p (http for unknown values).
func (t *Transports) For(p router.Protocol) *http.Transport {
	if int(p) < len(t.byProtocol) {
		return t.byProtocol[p]
	}
	return t.byProtocol[router.HTTP]
}

// RoundTripper is what the proxy sends requests for protocol p through:
// for http, the transport of h1transport.go (which falls back to For(HTTP)
// for what it does not handle itself); for the others, For(p).
func (t *Transports) RoundTripper(p router.Protocol) http.RoundTripper {
	if p == router.HTTP || int(p) >= len(t.byProtocol) {
		return t.h1
	}
	return t.byProtocol[p]
}

// ForBackend is what requests to b go through when b has a TLS
// configuration of its own (proto is backendProtocol's answer): the
// transport of that configuration. Other backends use RoundTripper(proto).
func (t *Transports) ForBackend(b *router.Backend, proto router.Protocol) http.RoundTripper {
	if b.TLS == nil {
		return t.RoundTripper(proto)
	}
	return t.tls.transport(b.TLS, proto)
}

// CloseIdleConnections closes every pooled upstream connection.
func (t *Transports) CloseIdleConnections() {
	t.tls.closeIdle()
	t.h1.closeIdle("")
	for _, tr := range t.byProtocol {
		tr.CloseIdleConnections()
	}
}

// NewTransport is the plain HTTP/1.1 upstream transport alone.
func NewTransport(cfg TransportConfig) *http.Transport {
	cfg.defaults()
	var h1 http.Protocols
	h1.SetHTTP1(true)
	return newTransport(cfg, &h1, nil)
}

// newTransport: generous idle pools (a proxy talks to few hosts, many
// times), no compression games, bounded dials. Never http.DefaultTransport:
// its two idle connections per host make a proxy re-dial constantly.
// Response header timeouts are per route (see call.RoundTrip), not here.
func newTransport(cfg TransportConfig, protocols *http.Protocols, tlsCfg *tls.Config) *http.Transport {
	d := &dialer{timeout: cfg.ConnectTimeout}
	return &http.Transport{
		DialContext:           d.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		Protocols:             protocols,
		MaxIdleConns:          0, // no global cap; per host below
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       cfg.IdleConnTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

// connectTimeoutKey carries a route's connect timeout to the dialer; the
// transport keeps request context values when it dials.
type connectTimeoutKey struct{}

type dialer struct{ timeout time.Duration }

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	timeout := d.timeout
	if v, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok && v > 0 {
		timeout = v
	}
	nd := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return nd.DialContext(ctx, network, addr)
}
