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

	"portico.dev/portico/proxy"
	"portico.dev/portico/proxyproto"
	"portico.dev/portico/router"
)

// dataplaneFlags are the flags of the proxy itself (docs/dataplane.md).
type dataplaneFlags struct {
	h2c            bool
	proxyProtocol  bool
	accessLog      bool
	trustedProxies []netip.Prefix
	trustedRaw     string
}

func (d *dataplaneFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&d.h2c, "h2c", false, "also accept HTTP/2 without TLS (h2c, prior knowledge) on the HTTP listener, e.g. for gRPC clients")
	fs.BoolVar(&d.proxyProtocol, "proxy-protocol", false, "require a PROXY protocol v1 or v2 header on every HTTP and HTTPS connection (a TCP load balancer in front); connections without one are closed")
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
// Transports are shared by both listeners and live as long as the process.
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

// server returns the server for one listener; scheme is "http" or "https".
func (d *dataplane) server(scheme string, httpsPort int) *http.Server {
	srv := newServer(proxy.New(proxy.Config{
		Table: d.live, Log: d.log, Scheme: scheme, Transports: d.transports,
		Forwarded: d.forwarded, HTTPSPort: httpsPort, AccessLog: d.accessLog,
		Metrics: d.metrics,
	}))
	if scheme == "http" && d.flags.h2c {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Protocols = &p
	}
	return srv
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
