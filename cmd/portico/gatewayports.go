package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"portico.dev/portico/gateway"
	"portico.dev/portico/h1"
	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

// gatewayPortsConfig configures newGatewayPorts.
type gatewayPortsConfig struct {
	dp                *dataplane // builds the servers and wraps listeners, as for Ingress
	readHeaderTimeout time.Duration
	// tlsConfig returns a fresh server config with Portico's TLS settings
	// (tlsstore.Store.TLSConfig: TLS 1.2 minimum, cipher suites, session
	// tickets); an HTTPS port replaces its GetCertificate with its own.
	tlsConfig func() *tls.Config
	// grace bounds how long a removed port's requests in flight may take.
	grace time.Duration
	log   *slog.Logger
}

// gatewayPorts serves the sockets of Gateway listeners: one per
// gateway.Port, reconciled by Apply with every translation's result.
// Sockets of different ports are independent: opening, updating or
// removing one never touches another.
type gatewayPorts struct {
	cfg gatewayPortsConfig

	mu       sync.Mutex
	ports    map[netip.AddrPort]*gatewayPort
	errs     map[netip.AddrPort]error  // ports Apply could not serve
	draining map[*gatewayPort]struct{} // stopped accepting, finishing requests
	drains   sync.WaitGroup
	closed   bool // after Shutdown, Apply does nothing
}

// gatewayPort is one served socket.
type gatewayPort struct {
	addr      netip.AddrPort
	protocol  gateway.Protocol
	listeners router.LiveListeners
	certs     atomic.Pointer[portCertificates] // HTTPS only
	// baseTLS is the port's TLS configuration; clientTLS, when set, is
	// baseTLS asking for client certificates (Gateway spec.tls.frontend).
	baseTLS   *tls.Config
	clientTLS atomic.Pointer[tls.Config]
	srv       *h1.Server
	ln        net.Listener // the bound socket, before any PROXY protocol wrapping
}

func newGatewayPorts(cfg gatewayPortsConfig) *gatewayPorts {
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.grace <= 0 {
		cfg.grace = 15 * time.Second // --shutdown-grace's default
	}
	return &gatewayPorts{
		cfg:      cfg,
		ports:    make(map[netip.AddrPort]*gatewayPort),
		errs:     make(map[netip.AddrPort]error),
		draining: make(map[*gatewayPort]struct{}),
	}
}

// Apply makes the served sockets those of ports: a new port is bound and
// served, a port still wanted gets its new listeners (tables and
// certificates) atomically, without touching connections, and a port no
// longer wanted (or whose protocol changed) stops accepting and drains its
// requests in flight within the grace period. A port that cannot be bound
// is logged and skipped, and tried again by the next Apply; Errors reports
// it meanwhile. It is the seam the Gateway API controller calls with each
// gateway.Translate result's Ports.
func (g *gatewayPorts) Apply(ports []gateway.Port) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	want := make(map[netip.AddrPort]*gateway.Port, len(ports))
	for i := range ports {
		if _, dup := want[ports[i].Addr]; dup {
			g.cfg.log.Warn("gateway port given twice; the first is served", "address", ports[i].Addr.String())
			continue
		}
		want[ports[i].Addr] = &ports[i]
	}
	// Removals first, so that a port whose protocol changed frees its
	// address before it is bound again.
	for addr, p := range g.ports {
		if w := want[addr]; w == nil || w.Protocol != p.protocol {
			delete(g.ports, addr)
			g.cfg.log.Info("gateway port removed; draining", "address", addr.String(), "protocol", p.protocol.String())
			g.drain(context.Background(), p)
		}
	}
	for addr := range g.errs {
		if want[addr] == nil {
			delete(g.errs, addr)
		}
	}
	for i := range ports {
		w := &ports[i]
		if want[w.Addr] != w {
			continue // a duplicate
		}
		if p := g.ports[w.Addr]; p != nil {
			p.update(w)
			continue
		}
		p, err := g.open(w)
		if err != nil {
			if prev := g.errs[w.Addr]; prev == nil || prev.Error() != err.Error() {
				g.cfg.log.Error("gateway port not served", "address", w.Addr.String(), "protocol", w.Protocol.String(), "err", err)
			}
			g.errs[w.Addr] = err
			continue
		}
		delete(g.errs, w.Addr)
		g.ports[w.Addr] = p
		g.cfg.log.Info("gateway port serving", "address", w.Addr.String(), "protocol", w.Protocol.String(), "listeners", len(w.Listeners))
	}
}

// Errors returns, per address, why a port of the last Apply is not served
// (for status).
func (g *gatewayPorts) Errors() map[netip.AddrPort]error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.errs)
}

// open binds w's address and starts serving it.
func (g *gatewayPorts) open(w *gateway.Port) (*gatewayPort, error) {
	if !w.Addr.IsValid() {
		return nil, errors.New("invalid address")
	}
	p := &gatewayPort{addr: w.Addr, protocol: w.Protocol}
	sc := serverConfig{scheme: "http", port: int(w.Addr.Port()), listeners: &p.listeners, readHeaderTimeout: g.cfg.readHeaderTimeout, h2c: true}
	if w.Protocol == gateway.HTTPS {
		if g.cfg.tlsConfig == nil {
			return nil, errors.New("HTTPS port without a TLS configuration")
		}
		sc.scheme = "https"
	}
	if w.Protocol == gateway.HTTPS {
		tc := g.cfg.tlsConfig()
		tc.GetCertificate = p.getCertificate
		tc.GetConfigForClient = p.configForClient
		p.baseTLS = tc
	}
	p.update(w) // before the first request
	p.srv = g.cfg.dp.server(sc)
	p.srv.TLSConfig = p.baseTLS
	ln, err := net.Listen("tcp", w.Addr.String())
	if err != nil {
		return nil, err
	}
	p.ln = ln
	go func() {
		err := p.srv.Serve(g.cfg.dp.listener(ln))
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			g.cfg.log.Error("gateway port stopped serving", "address", p.addr.String(), "err", err)
		}
	}()
	return p, nil
}

// drain stops p accepting now (its address is free when drain returns)
// and lets its requests in flight finish in the background, within the
// grace period and ctx; then the connections left are closed.
func (g *gatewayPorts) drain(ctx context.Context, p *gatewayPort) {
	_ = p.ln.Close()
	g.draining[p] = struct{}{}
	g.drains.Add(1)
	go func() {
		defer g.drains.Done()
		ctx, cancel := context.WithTimeout(ctx, g.cfg.grace)
		defer cancel()
		if err := p.srv.Shutdown(ctx); err != nil {
			g.cfg.log.Warn("gateway port: in-flight requests cut at the end of the grace period", "address", p.addr.String(), "err", err)
			_ = p.srv.Close()
		}
		g.mu.Lock()
		delete(g.draining, p)
		g.mu.Unlock()
	}()
}

// Shutdown stops every port accepting and waits, at most until ctx ends,
// for their requests in flight (and those of ports removed earlier); what
// is left then is closed. Apply does nothing afterwards.
func (g *gatewayPorts) Shutdown(ctx context.Context) {
	g.mu.Lock()
	g.closed = true
	for addr, p := range g.ports {
		delete(g.ports, addr)
		g.drain(ctx, p)
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		g.drains.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		g.mu.Lock()
		for p := range g.draining {
			_ = p.srv.Close()
		}
		g.mu.Unlock()
		<-done
	}
}

// update installs w's listeners: certificates before the tables that
// route to their hosts.
func (p *gatewayPort) update(w *gateway.Port) {
	in := make([]router.Listener, len(w.Listeners))
	for i, l := range w.Listeners {
		in[i] = router.Listener{Hostname: l.Hostname, Table: l.Table}
	}
	ls := router.NewListeners(in)
	if w.Protocol == gateway.HTTPS {
		p.certs.Store(newPortCertificates(ls, w.Listeners))
		p.clientTLS.Store(clientTLSConfig(p.baseTLS, w.ClientValidation))
	}
	p.listeners.Store(ls)
}

// clientTLSConfig is base asking for client certificates as v says; nil
// without validation. AllowValidOnly requires a certificate that chains
// to v.CAs; AllowInsecureFallback asks for one but accepts any or none.
// Session tickets are off: a resumed session would skip the check of a
// CA bundle that changed since.
func clientTLSConfig(base *tls.Config, v *gateway.ClientValidation) *tls.Config {
	if v == nil || base == nil {
		return nil
	}
	c := base.Clone()
	c.GetConfigForClient = nil
	c.ClientCAs = v.CAs
	c.ClientAuth = tls.RequireAndVerifyClientCert
	if v.InsecureFallback {
		c.ClientAuth = tls.RequestClientCert
	}
	c.SessionTicketsDisabled = true
	return c
}

// configForClient picks the port's configuration for a handshake: with
// client certificate validation when its Gateway asks for it.
func (p *gatewayPort) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return p.clientTLS.Load(), nil // nil: the base configuration
}

// portCertificates picks an HTTPS port's certificate by server name.
type portCertificates struct {
	listeners *router.Listeners         // the port's listeners, by hostname
	certs     [][]*tlsstore.Certificate // per listener, in certificateRefs order
	fallback  *tlsstore.Certificate     // first certificate of the first listener with any
}

func newPortCertificates(ls *router.Listeners, listeners []gateway.Listener) *portCertificates {
	pc := &portCertificates{listeners: ls, certs: make([][]*tlsstore.Certificate, len(listeners))}
	for i, l := range listeners {
		for _, c := range l.Certificates {
			if c != nil && c.Cert != nil { // nothing to serve otherwise
				pc.certs[i] = append(pc.certs[i], c)
			}
		}
		if pc.fallback == nil && len(pc.certs[i]) > 0 {
			pc.fallback = pc.certs[i][0]
		}
	}
	return pc
}

// pick returns the certificate for a server name: the listener it selects
// (as a Host would) serves the first of its certificates that covers the
// name, else its first. Without a server name, or when it selects no
// listener with certificates, the first listener with certificates
// serves: the handshake completes and the request gets a plain HTTP answer
// (404, or 421 for a Host of another listener) rather than a TLS alert.
func (pc *portCertificates) pick(sni string) *tlsstore.Certificate {
	if sni != "" {
		if i := pc.listeners.Index(sni); i >= 0 && len(pc.certs[i]) > 0 {
			for _, c := range pc.certs[i] {
				if c.Covers(sni) {
					return c
				}
			}
			return pc.certs[i][0]
		}
	}
	return pc.fallback
}

func (p *gatewayPort) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := p.certs.Load().pick(hello.ServerName); c != nil {
		return c.Cert, nil
	}
	return nil, fmt.Errorf("gateway port %s: no listener has a certificate", p.addr)
}
