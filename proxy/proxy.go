// Package proxy forwards requests to the backend the live routing table
// chooses. It reads the table; it does not know where routes come from.
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"

	"portico.dev/portico/router"
)

// Config for New.
type Config struct {
	Table *router.Live
	Log   *slog.Logger
	// Scheme of the listener this proxy serves ("http" or "https"); it is
	// what X-Forwarded-Proto says for untrusted clients.
	Scheme string
	// Transport is shared by every backend and kept across table swaps, so
	// idle upstream connections survive configuration changes. Nil: a
	// tuned default (see NewTransport).
	Transport http.RoundTripper
	// Forwarded decides which X-Forwarded-* headers a client may set.
	Forwarded *Forwarded
	// HTTPSPort is where plain HTTP requests to TLS hosts are redirected;
	// 0 or 443 leaves the port out of the Location.
	HTTPSPort int
}

// Proxy is the data plane's http.Handler.
type Proxy struct {
	cfg      Config
	balancer *balancer
	pool     sync.Pool // *call: one per request in flight, reused
	buffers  *bufferPool
}

var _ http.Handler = (*Proxy)(nil)

// New returns a Proxy reading cfg.Table.
func New(cfg Config) *Proxy {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Transport == nil {
		cfg.Transport = NewTransport(TransportConfig{})
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "http"
	}
	if cfg.Forwarded == nil {
		cfg.Forwarded = &Forwarded{}
	}
	p := &Proxy{cfg: cfg, balancer: newBalancer(), buffers: newBufferPool()}
	p.pool.New = func() any { return p.newCall() }
	return p
}

// call is the state of one proxied request. ReverseProxy calls Rewrite,
// ModifyResponse and ErrorHandler synchronously inside ServeHTTP, so a
// pooled ReverseProxy whose hooks read this struct needs no per-request
// allocation to carry the chosen endpoint.
type call struct {
	p      *Proxy
	rp     httputil.ReverseProxy
	route  *router.Route
	target string // endpoint "ip:port"
	path   string // cleaned path, matched and forwarded
	status int    // set by ErrorHandler
}

func (p *Proxy) newCall() *call {
	c := &call{p: p}
	c.rp = httputil.ReverseProxy{
		Rewrite:      c.rewrite,
		Transport:    p.cfg.Transport,
		BufferPool:   p.buffers,
		ErrorHandler: c.errorHandler,
		ErrorLog:     slog.NewLogLogger(p.cfg.Log.Handler(), slog.LevelDebug),
		// Streaming responses (SSE, chunked) are flushed as they arrive.
		FlushInterval: -1,
	}
	return c
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := router.CleanPath(r.URL.Path)
	route := p.cfg.Table.Load().Match(r.Host, path)
	if route == nil {
		http.Error(w, "404 no route", http.StatusNotFound)
		return
	}
	if p.cfg.Scheme == "http" && route.Options.SSLRedirect {
		p.redirectToHTTPS(w, r)
		return
	}
	if p.cfg.Scheme == "https" && route.Options.HSTS != "" {
		w.Header()["Strict-Transport-Security"] = []string{route.Options.HSTS}
	}
	target, ok := p.balancer.pick(route.Backend)
	if !ok {
		http.Error(w, "503 no ready endpoint", http.StatusServiceUnavailable)
		return
	}
	c := p.pool.Get().(*call)
	c.route, c.target, c.path, c.status = route, target, path, 0
	c.rp.ServeHTTP(w, r)
	c.route = nil
	p.pool.Put(c)
}

func (c *call) rewrite(pr *httputil.ProxyRequest) {
	out := pr.Out
	out.URL.Scheme = "http"
	out.URL.Host = c.target
	// The backend sees the very path that was matched.
	out.URL.Path = c.path
	out.URL.RawPath = ""
	// Host passes through unchanged (SetURL would replace it).
	out.Host = pr.In.Host
	c.p.cfg.Forwarded.set(pr, c.p.cfg.Scheme)
}

func (c *call) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody is left to answer.
		c.status = 499
		return
	case isTimeout(err):
		c.status = http.StatusGatewayTimeout
	default:
		c.status = http.StatusBadGateway
	}
	c.p.cfg.Log.Debug("upstream error", "backend", c.route.Backend.ID, "endpoint", c.target, "err", err)
	http.Error(w, http.StatusText(c.status), c.status)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TransportConfig tunes NewTransport.
type TransportConfig struct {
	ConnectTimeout        time.Duration // default 5s
	ResponseHeaderTimeout time.Duration // default 60s
	MaxIdleConnsPerHost   int           // default 256
	IdleConnTimeout       time.Duration // default 90s
}

// NewTransport returns the upstream transport: generous idle pools (a proxy
// talks to few hosts, many times), no compression games, bounded dials.
// Never http.DefaultTransport: its two idle connections per host make a
// proxy re-dial constantly under load.
func NewTransport(cfg TransportConfig) *http.Transport {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.ResponseHeaderTimeout == 0 {
		cfg.ResponseHeaderTimeout = 60 * time.Second
	}
	if cfg.MaxIdleConnsPerHost == 0 {
		cfg.MaxIdleConnsPerHost = 256
	}
	if cfg.IdleConnTimeout == 0 {
		cfg.IdleConnTimeout = 90 * time.Second
	}
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          0, // no global cap; per host below
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       cfg.IdleConnTimeout,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

// redirectToHTTPS answers 308 (method and body are kept, unlike 301/302).
func (p *Proxy) redirectToHTTPS(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if p.cfg.HTTPSPort != 0 && p.cfg.HTTPSPort != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(p.cfg.HTTPSPort))
	}
	w.Header()["Location"] = []string{"https://" + host + r.URL.RequestURI()}
	w.WriteHeader(http.StatusPermanentRedirect)
}
