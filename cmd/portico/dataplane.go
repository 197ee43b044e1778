package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"portico.dev/portico/h1"
	"portico.dev/portico/proxy"
	"portico.dev/portico/proxyproto"
	"portico.dev/portico/router"
	"strconv"
)

// dataplaneFlags are the flags of the proxy itself (docs/dataplane.md).
type dataplaneFlags struct {
	h2c            bool
	proxyProtocol  bool
	accessLog      bool
	trustedProxies []netip.Prefix
	trustedRaw     string
	sslPassthrough bool
}

func (d *dataplaneFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&d.h2c, "h2c", false, "also accept HTTP/2 without TLS (h2c, prior knowledge) on the HTTP listener, e.g. for gRPC clients")
	fs.BoolVar(&d.proxyProtocol, "proxy-protocol", false, "require a PROXY protocol v1 or v2 header on every HTTP and HTTPS connection (a TCP load balancer in front); connections without one are closed")
	fs.BoolVar(&d.sslPassthrough, "enable-ssl-passthrough", false, "honour the ssl-passthrough annotation: TLS connections for its hosts are spliced by server name to the backend, unterminated (every HTTPS connection's ClientHello is read first)")
	fs.BoolVar(&d.accessLog, "access-log", true, "write one JSON line per request to standard output")
	fs.StringVar(&d.trustedRaw, "trusted-proxies", "", "comma-separated CIDRs (or IPs) of proxies whose X-Forwarded-* and X-Real-IP headers are kept and appended to; from anyone else they are replaced (default: trust nobody)")
}

// validate parses what register could not.
func (d *dataplaneFlags) validate() error {
	for s := range strings.SplitSeq(d.trustedRaw, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return fmt.Errorf("--trusted-proxies: %q: want a CIDR such as 10.0.0.0/8 or an IP", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		d.trustedProxies = append(d.trustedProxies, p.Masked())
	}
	return nil
}

// dataplane builds the proxies and wraps the listeners as the flags say.
// Transports are shared by every listener (Ingress and Gateway ports) and
// live as long as the process.
type dataplane struct {
	flags      *dataplaneFlags
	live       *router.Live
	log        *slog.Logger
	transports *proxy.Transports
	forwarded  *proxy.Forwarded
	accessLog  io.Writer
	metrics    *proxy.Metrics
}

func newDataplane(f *dataplaneFlags, live *router.Live, log *slog.Logger, metrics *proxy.Metrics) *dataplane {
	d := &dataplane{
		flags: f, live: live, log: log, metrics: metrics,
		transports: proxy.NewTransports(proxy.TransportConfig{}),
		forwarded:  &proxy.Forwarded{Trusted: f.trustedProxies},
	}
	if f.accessLog {
		d.accessLog = os.Stdout
	}
	return d
}

// serverConfig is one listener's server.
type serverConfig struct {
	scheme    string // "http" or "https"
	port      int    // the listener's port: where redirects that name none go
	httpsPort int    // where plain HTTP to TLS hosts is redirected (Ingress); 0 or 443: no port in the Location
	// listeners, when set, routes by a Gateway port's listeners;
	// otherwise the server routes by the Ingress table.
	listeners *router.LiveListeners
	// handler, when set, wraps the proxy (ACME HTTP-01 challenges).
	handler           func(http.Handler) http.Handler
	readHeaderTimeout time.Duration
	// h2c accepts HTTP/2 with prior knowledge on a plain HTTP listener
	// even without --h2c (Gateway HTTP listeners: HTTP/2 is part of the
	// HTTP protocol there, and h2c backends are reached end to end).
	h2c bool
}

// server returns the server for one listener. HTTP/1 is served by h1's
// loop; HTTP/2 (ALPN "h2", and h2c when asked for) by a net/http server it
// hands those connections to.
func (d *dataplane) server(sc serverConfig) *h1.Server {
	var h http.Handler = proxy.New(proxy.Config{
		Table: d.live, Listeners: sc.listeners, Log: d.log, Scheme: sc.scheme, Port: sc.port,
		Transports: d.transports, Forwarded: d.forwarded, HTTPSPort: sc.httpsPort,
		AccessLog: d.accessLog, Metrics: d.metrics,
	})
	if sc.handler != nil {
		h = sc.handler(h)
	}
	h2 := newServer(h)
	h2.ReadHeaderTimeout = sc.readHeaderTimeout
	s := &h1.Server{
		Handler:           h,
		HTTP2:             h2,
		ReadHeaderTimeout: sc.readHeaderTimeout,
		IdleTimeout:       h2.IdleTimeout,
		MaxHeaderBytes:    h2.MaxHeaderBytes,
		Log:               d.log,
	}
	if sc.scheme == "http" {
		if !d.flags.h2c && !sc.h2c {
			s.HTTP2 = nil
		} else {
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			h2.Protocols = &p
			s.H2C = true
		}
	}
	return s
}

// listener wraps ln for the PROXY protocol when asked; nil stays nil.
func (d *dataplane) listener(ln net.Listener) net.Listener {
	if ln == nil || !d.flags.proxyProtocol {
		return ln
	}
	return &proxyproto.Listener{Listener: ln, OnError: func(peer net.Addr, err error) {
		d.log.Debug("connection refused: bad PROXY protocol header", "peer", peer.String(), "err", err)
	}}
}

// addrPort is the port of a listen address ("host:port", ":port"); 0 when
// there is none.
func addrPort(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
