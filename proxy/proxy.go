// Package proxy forwards requests to the backend the live routing table
// chooses. It reads the table; it does not know where routes come from.
package proxy

import (
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"portico.dev/portico/router"
)

// Config for New.
type Config struct {
	// Table is the routing table in force (Ingress listeners).
	Table *router.Live
	// Listeners, when set, replaces Table: the proxy serves one Gateway
	// address and port, and a request is routed by the table of the
	// listener its Host selects (router.Listeners). A Host no listener
	// accepts gets 404; on TLS, a Host that selects another listener than
	// the server name is a misdirected request (421).
	Listeners *router.LiveListeners
	Log       *slog.Logger
	// Scheme of the listener this proxy serves ("http" or "https"); it is
	// what X-Forwarded-Proto says for untrusted clients.
	Scheme string
	// Port is the listener's port: where a redirect that keeps the scheme
	// and names no port sends the client (Gateway API).
	Port int
	// Transports, one per backend protocol, are shared by every listener
	// and kept across table swaps, so idle upstream connections survive
	// configuration changes. Nil: NewTransports(TransportConfig{}).
	Transports *Transports
	// Transport, when set, replaces Transports for every protocol (tests).
	Transport http.RoundTripper
	// Forwarded decides which X-Forwarded-* headers a client may set.
	Forwarded *Forwarded
	// HTTPSPort is where plain HTTP requests to TLS hosts are redirected;
	// 0 or 443 leaves the port out of the Location.
	HTTPSPort int
	// Defaults apply to routes whose annotations set nothing.
	Defaults Defaults
	// AccessLog receives one JSON line per request; nil disables it.
	AccessLog io.Writer
	// Metrics, if set, counts requests (see NewMetrics).
	Metrics *Metrics
	// Backoff is how long an endpoint that refused a connection is skipped
	// (doubling while it keeps failing, up to ten times this). Default 1s.
	Backoff time.Duration
	// BodyBufferBytes is the largest request body buffered for a route that
	// may send it more than once (a retry policy, mirrors); larger bodies
	// stream and are neither retried once sent nor mirrored. Default
	// DefaultBodyBufferBytes (64 KiB).
	BodyBufferBytes int64
	// Mirror bounds the copies of requests sent to mirror backends.
	Mirror MirrorConfig
}

// Defaults are the per-route settings used when an Ingress sets none.
type Defaults struct {
	ReadTimeout time.Duration // response headers after the request was sent; default 60s
	SendTimeout time.Duration // sending the request body; default 60s
	Tries       int           // attempts on distinct endpoints for connect failures; default 2
}

func (d *Defaults) fill() {
	if d.ReadTimeout <= 0 {
		d.ReadTimeout = 60 * time.Second
	}
	if d.SendTimeout <= 0 {
		d.SendTimeout = 60 * time.Second
	}
	if d.Tries <= 0 {
		d.Tries = 2
	}
}

// Proxy is the data plane's http.Handler.
type Proxy struct {
	cfg      Config
	balancer *balancer
	pool     sync.Pool // *call: one per request in flight, reused
	buffers  *bufferPool
	log      *accessLog // nil when disabled
	mirror   *mirrorer
	zones    zones // per-client limiter state, by Ingress
	// clientCerts are verdicts on client certificates (clientcert.go).
	clientCerts clientCertCache

	// Balancer state of backends and endpoints gone from the table is
	// dropped in the background, at most every prunePeriod.
	pruned          atomic.Pointer[router.Table]     // the last table pruned against
	prunedListeners atomic.Pointer[router.Listeners] // or listeners
	lastPrune       atomic.Int64                     // monotime of that prune
	pruning         atomic.Bool
}

const prunePeriod = 10 * time.Second

// maybePrune starts a prune against t when t is new and the last one is
// old enough; requests never wait for it.
func (p *Proxy) maybePrune(t *router.Table) {
	if t == nil || p.pruned.Load() == t || !p.claimPrune() {
		return
	}
	p.pruned.Store(t)
	p.prune(t.Backends())
	go p.zones.keep(t)
}

// maybePruneListeners is maybePrune for a proxy serving listeners: state
// is kept for the backends of every listener's table.
func (p *Proxy) maybePruneListeners(ls *router.Listeners) {
	if p.prunedListeners.Load() == ls || !p.claimPrune() {
		return
	}
	p.prunedListeners.Store(ls)
	p.prune(ls.Backends())
}

// claimPrune reports whether a prune may start now, and if so claims it.
func (p *Proxy) claimPrune() bool {
	return monotime()-p.lastPrune.Load() >= int64(prunePeriod) && p.pruning.CompareAndSwap(false, true)
}

// prune drops, in the background, the balancer state of backends and
// endpoints that backends does not name; the caller claimed it.
func (p *Proxy) prune(backends iter.Seq[*router.Backend]) {
	p.lastPrune.Store(monotime())
	go func() {
		defer p.pruning.Store(false)
		p.balancer.prune(backends)
	}()
}

var _ http.Handler = (*Proxy)(nil)

// New returns a Proxy reading cfg.Listeners, or else cfg.Table.
func New(cfg Config) *Proxy {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Transports == nil && cfg.Transport == nil {
		cfg.Transports = NewTransports(TransportConfig{})
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "http"
	}
	if cfg.Forwarded == nil {
		cfg.Forwarded = &Forwarded{}
	}
	cfg.Defaults.fill()
	if cfg.BodyBufferBytes <= 0 {
		cfg.BodyBufferBytes = DefaultBodyBufferBytes
	}
	cfg.Mirror.fill()
	p := &Proxy{cfg: cfg, balancer: newBalancer(backoff{base: cfg.Backoff}), buffers: newBufferPool()}
	p.mirror = newMirrorer(p)
	if cfg.AccessLog != nil {
		p.log = newAccessLog(cfg.AccessLog)
	}
	p.pool.New = func() any { return p.newCall() }
	return p
}

func (p *Proxy) transport(proto router.Protocol) http.RoundTripper {
	if p.cfg.Transport != nil {
		return p.cfg.Transport
	}
	return p.cfg.Transports.RoundTripper(proto)
}

// backendTransport is transport for backend b, which may have a TLS
// configuration of its own.
func (p *Proxy) backendTransport(b *router.Backend, proto router.Protocol) http.RoundTripper {
	if b.TLS == nil || p.cfg.Transport != nil {
		return p.transport(proto)
	}
	return p.cfg.Transports.ForBackend(b, proto)
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := p.pool.Get().(*call)
	c.start(w, r)
	abort := c.serveRecovering()
	if err := c.ub.err; err != nil && !c.gone.Load() && r.Context().Err() == nil {
		// The backend's body broke off: the client must see a broken
		// response, not a short one that looks complete (and may be
		// cached). ReverseProxy aborts only under net/http's server.
		// (A client that left broke it itself: nothing to count.)
		p.cfg.Log.Warn("upstream response cut off; client connection aborted",
			"backend", c.backend.ID, "endpoint", c.ep.addr, "err", err)
		if m := p.cfg.Metrics; m != nil {
			m.truncatedResponse(c.backend)
		}
		abort = http.ErrAbortHandler
	}
	c.finish()
	if abort == nil || abort == http.ErrAbortHandler {
		p.pool.Put(c) // a foreign panic may have left it half done
	}
	if abort != nil {
		// The server closes the connection (h1) or resets the stream
		// (HTTP/2) without ending the response.
		panic(abort)
	}
}

// serveRecovering is serve, returning a panic's value instead of
// unwinding past the bookkeeping in ServeHTTP. ReverseProxy panics with
// http.ErrAbortHandler when a response fails mid-way under net/http's
// server (HTTP/2).
func (c *call) serveRecovering() (abort any) {
	defer func() { abort = recover() }()
	c.serve()
	return nil
}

// serve is one request from match to response; the status of answers the
// proxy gives itself is recorded for the access log.
func (c *call) serve() {
	p, r := c.p, c.in
	c.path = router.CleanPath(r.URL.Path)
	var t *router.Table
	if ls := p.cfg.Listeners; ls != nil {
		if t = c.listenerTable(ls.Load()); t == nil {
			return
		}
	} else {
		t = p.cfg.Table.Load()
		if p.pruned.Load() != t {
			p.maybePrune(t)
		}
	}
	c.route = t.MatchRequest(r, r.Host, c.path)
	if c.route == nil {
		c.fail(http.StatusNotFound, "404 no route")
		return
	}
	o := c.route.Options
	// Client certificates are judged first, as nginx does on reading the
	// request; plain HTTP is redirected to HTTPS first.
	toHTTPS := p.cfg.Scheme == "http" && o.SSLRedirect && !p.cfg.Forwarded.forwardedHTTPS(r)
	if a := o.ClientAuth; a != nil && !toHTTPS && !c.clientCert(a, t) {
		return
	} else if a == nil && t.HasClientAuth() {
		dropClientCertHeaders(r.Header) // proxy/clientcert.go
	}
	if cors := c.cors(); cors != nil && cors.IsPreflight(r) {
		c.preflight(cors)
		return
	}
	if f := c.route.Filters; f != nil && f.Redirect != nil {
		c.redirect(f.Redirect)
		return
	} else if f != nil && f.Snippet != nil && f.Snippet.Return != nil {
		c.snippetReturn(f.Snippet.Return) // proxy/snippet.go
		return
	}
	if ar := o.AppRoot; ar != nil && c.path == "/" {
		c.redirect(ar)
		return
	}
	// nginx's order: redirects (rewrite phase), then limits (preaccess),
	// then access lists and authentication (access phase).
	if toHTTPS {
		p.redirectToHTTPS(&c.w, r, o.SSLRedirectTrimSlash)
		return
	}
	if p.cfg.Scheme == "https" && o.HSTS != "" {
		c.w.Header()["Strict-Transport-Security"] = []string{o.HSTS}
	}
	if o.Access != nil || o.Limits != nil {
		ok, done := c.admit(o)
		if !ok {
			return
		}
		if done != nil {
			defer done()
		}
	}
	// satisfy any (nginx): one of the access list, basic auth and external
	// auth granting is enough. Unusable settings (Auth.Deny, an invalid
	// list) are never skipped.
	satisfied := false
	if o.SatisfyAny {
		if o.Access != nil && !o.Access.Invalid {
			satisfied = o.Access.Grants(c.p.cfg.Forwarded.clientAddr(c.in))
		}
		if !satisfied && o.BasicAuth != nil && o.Auth != nil {
			satisfied = c.basicAuthOK(o.BasicAuth)
		}
	}
	if a := o.Auth; a != nil && (a.Deny || !satisfied) {
		if !c.auth(a) {
			return
		}
		satisfied = o.SatisfyAny // the auth service said yes
	} else if a != nil && a.External != nil {
		// Skipped (satisfy any): nothing vouches for these headers, so the
		// client may not send them (nginx sends the empty $authHeaderN).
		for _, name := range a.External.ResponseHeaders {
			delete(r.Header, textproto.CanonicalMIMEHeaderKey(name))
		}
	}
	var n uint64
	if len(c.route.Backends) > 1 {
		n = rand.Uint64()
	}
	var wb router.WeightedBackend
	ok := true
	if cn := c.route.Options.Canary; cn != nil && c.toCanary(cn) {
		wb.Backend = cn.Backend // ingress-nginx canary (router/canary.go)
	} else {
		wb, ok = c.route.PickWeighted(n)
	}
	if !ok || wb.Backend == nil {
		// A split with no weight, or the share of a backend that could
		// not be resolved: the Gateway API says 500.
		c.fail(http.StatusInternalServerError, "500 no backend")
		return
	}
	c.backend, c.bfilters = wb.Backend, wb.Filters
	if tl := c.backend.TLS; tl != nil && tl.Invalid != "" {
		// "Connections using an invalid CACertificateRef MUST fail, and
		// the client MUST receive an HTTP 5xx error response."
		c.fail(http.StatusInternalServerError, "500 backend TLS policy not usable")
		return
	}
	c.proto = backendProtocol(c.backend, o.Protocol)
	if b := o.BasicAuth; b != nil {
		if !satisfied && !c.basicAuth(b) { // after redirects and limits, as nginx's access phase
			return
		}
		delete(r.Header, "Authorization") // never upstream, checked or not (ingress-nginx)
	}
	if o.MaxBodyBytes > 0 {
		// Refuse early what is declared too big; cap what is not declared.
		if r.ContentLength > o.MaxBodyBytes {
			c.w.Header()["Connection"] = []string{"close"} // the body stays unread
			c.fail(http.StatusRequestEntityTooLarge, "413 request body too large")
			return
		}
		if r.ContentLength != 0 {
			r.Body = http.MaxBytesReader(&c.w, r.Body, o.MaxBodyBytes)
		}
	}
	c.limits(o)
	if c.replayable(r) {
		if !c.bufferBody(r) {
			return
		}
	}
	if o.Affinity != nil {
		c.ep = c.stickyPick(o.Affinity) // proxy/affinity.go
	} else if o.HashBy != nil {
		c.ep = c.hashPick(o.HashBy) // proxy/hashby.go
	} else {
		c.ep = p.balancer.pick(c.backend, o.Balance, nil)
	}
	if c.ep == nil {
		if e := o.ErrorPages; e != nil && e.ServesNoEndpoint() {
			c.errorPage(e, http.StatusServiceUnavailable) // proxy/errorpages.go
			return
		}
		c.fail(http.StatusServiceUnavailable, "503 no ready endpoint")
		return
	}
	c.ep.inflight.Add(1)

	c.rp.Transport = c
	c.w.keepOwn()
	c.rp.ServeHTTP(&c.w, r)
	c.end()
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// listenerTable returns the table of the Gateway listener the request's
// Host selects, or answers the request and returns nil. Listeners that
// share a port keep their traffic apart (listener isolation). HTTP/2 lets
// a client reuse a connection for another host the certificate covers
// (RFC 9113 §9.1.1), and Gateway API Listener.Hostname (v1.6) says: "If
// another Listener has an exact match or more specific wildcard entry, the
// Gateway SHOULD return a 421. If the current Listener (selected by SNI
// matching during ClientHello) does not match the Host: If another Listener
// does match the Host, the Gateway SHOULD return a 421. If no other
// Listener matches the Host, the Gateway MUST return a 404." Both come to
// this: the Host's listener serves, 404 without one, 421 when the server
// name picked another; the client retries a 421 on a connection of its own
// (RFC 9110 §15.5.20). Neither answer repeats what the client sent.
func (c *call) listenerTable(ls *router.Listeners) *router.Table {
	p, r := c.p, c.in
	if p.prunedListeners.Load() != ls {
		p.maybePruneListeners(ls)
	}
	i := ls.Index(r.Host)
	if i < 0 {
		c.fail(http.StatusNotFound, "404 no route")
		return nil
	}
	if r.TLS != nil && r.TLS.ServerName != "" && ls.Index(r.TLS.ServerName) != i {
		c.fail(http.StatusMisdirectedRequest, "421 misdirected request")
		return nil
	}
	return ls.At(i).Table
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (c *call) fail(status int, msg string) {
	c.status = status
	c.snippetHeaders(c.w.Header(), status)
	http.Error(&c.w, msg, status)
}

func (c *call) rewrite(pr *httputil.ProxyRequest) {
	out := pr.Out
	out.URL.Scheme = "http"
	switch c.proto {
	case router.HTTPS, router.GRPCS:
		out.URL.Scheme = "https"
	}
	out.URL.Host = c.ep.addr
	// The backend sees the very path that was matched.
	out.URL.Path = c.path
	out.URL.RawPath = ""
	// Host passes through unchanged (SetURL would replace it) unless the
	// Ingress names another.
	out.Host = pr.In.Host
	if h := c.route.Options.UpstreamHost; h != "" {
		out.Host = h
	}
	f := c.route.Filters
	if f != nil && f.Rewrite != nil {
		if f.Rewrite.Hostname != "" {
			out.Host = f.Rewrite.Hostname
		}
		if f.Rewrite.Path != nil {
			out.URL.Path = f.Rewrite.Path.Apply(c.path, c.route.Path)
		}
	}
	if out.Body != nil {
		b := &trackedBody{c: c, rc: out.Body}
		c.mu.Lock()
		c.body = b
		c.mu.Unlock()
		out.Body = b
	}
	c.p.cfg.Forwarded.set(pr, c.p.cfg.Scheme)
	c.clientHdr.set(out.Header) // proxy/clientcert.go
	if f != nil {
		if f.Rewrite != nil && f.Rewrite.Captures != nil {
			c.captureRewrite(out, f.Rewrite.Captures)
		}
		if s := f.Snippet; s != nil {
			s.ApplyRequest(out.Header)
		}
		f.RequestHeaders.Apply(out.Header)
		c.mirror(out)
	}
	if bf := c.bfilters; bf != nil {
		bf.RequestHeaders.Apply(out.Header)
	}
}

// modifyResponse applies the route's response header edits and CORS
// headers to a backend's response.
func (c *call) modifyResponse(resp *http.Response) error {
	c.w.restoreOwn() // after any 1xx answer
	if c.route.Options.ErrorPages != nil && c.intercepts(resp.StatusCode) {
		return errIntercepted
	}
	if rw := c.route.Options.ResponseRewrite; rw != nil {
		rw.Apply(resp.Header) // proxy-redirect-*, proxy-cookie-*
	}
	if f := c.route.Filters; f != nil {
		if s := f.Snippet; s != nil {
			s.ApplyResponse(resp.Header, resp.StatusCode, &f.ResponseHeaders)
		} else {
			f.ResponseHeaders.Apply(resp.Header)
		}
		c.corsHeaders(resp.Header)
	}
	if bf := c.bfilters; bf != nil {
		bf.ResponseHeaders.Apply(resp.Header)
	}
	if cp := c.route.Options.Compress; cp != nil {
		c.compress(cp, resp) // compress.go
	}
	return nil
}

// redirect answers with the route's redirect filter.
func (c *call) redirect(rd *router.Redirect) {
	r := c.in
	var loc string
	if rd.Form == router.FormGateway {
		loc = rd.Location(c.p.cfg.Scheme, r.Host, c.p.cfg.Port, c.path, r.URL.RawQuery, c.route.Path)
	} else {
		scheme, port := c.p.cfg.Forwarded.schemePort(r, c.p.cfg.Scheme, c.p.cfg.Port)
		loc = rd.NginxLocation(scheme, r.Host, port, r.URL.RequestURI())
	}
	c.w.Header()["Location"] = []string{loc}
	c.snippetHeaders(c.w.Header(), rd.StatusCode())
	c.corsHeaders(c.w.Header())
	c.status = rd.StatusCode()
	c.w.WriteHeader(c.status)
}

// redirectToHTTPS answers 308 (method and body are kept, unlike 301/302);
// trimSlash drops one trailing "/" of the request URI (ingress-nginx).
func (p *Proxy) redirectToHTTPS(w http.ResponseWriter, r *http.Request, trimSlash bool) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if p.cfg.HTTPSPort != 0 && p.cfg.HTTPSPort != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(p.cfg.HTTPSPort))
	}
	uri := r.URL.RequestURI()
	if trimSlash {
		uri = strings.TrimSuffix(uri, "/")
	}
	w.Header()["Location"] = []string{"https://" + host + uri}
	w.WriteHeader(http.StatusPermanentRedirect)
}
