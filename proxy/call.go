package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"portico.dev/portico/router"
)

// call is the state of one proxied request. ReverseProxy calls Rewrite,
// ModifyResponse, ErrorHandler and the Transport's RoundTrip synchronously
// inside ServeHTTP, so a pooled ReverseProxy whose hooks read this struct
// carries the chosen endpoint, retries and timers without allocating.
type call struct {
	p    *Proxy
	rp   httputil.ReverseProxy
	w    responseWriter
	in   *http.Request
	body *trackedBody // the outgoing body of this request, nil if none
	// clientHdr are the ssl-client-* values for upstream (clientcert.go).
	clientHdr clientCertHeaders

	route       *router.Route
	backend     *router.Backend // the route's backend for this request (one of a split)
	bfilters    *router.Filters // that backend's own filters (Gateway API backendRef filters), nil for none
	proto       router.Protocol // how to speak to the backend
	path        string          // cleaned path, matched and forwarded
	ep          *endpoint       // endpoint of the current attempt; its inflight counts this request
	tried       [maxTries]*endpoint
	attempts    int
	tries       int
	refusals    int           // attempts refused at connect: they do not use up tries
	readTimeout time.Duration // 0: none (the rule's own timeouts replace it)
	sendTimeout time.Duration
	retry       *router.RetryPolicy  // the rule's retry policy, nil for none
	next        *router.NextUpstream // ingress-nginx proxy-next-upstream, nil for the default
	firstTry    int64                // monotime of the first attempt, for next.Within
	// replay is the request body, buffered so that it can be sent again
	// (retries) and copied (mirrors); nil when there is none or it was too
	// big (bodyTooBig).
	replay     []byte
	bodyTooBig bool
	status     int // answer the proxy gave itself (errors), 0 if none
	// intercepted is the backend's status that went to the default
	// backend (custom-http-errors), 0 if none.
	intercepted int
	ub          upstreamBody // the response body, wrapped to see how it ends
	cb          compressBody // the response body compressed (compress.go)

	begin         time.Time
	upstreamStart time.Time
	upstreamTime  time.Duration

	// Timeouts: one timer per pooled call; mu orders arming, disarming and
	// firing, so a late fire never cancels a later phase or request.
	mu       sync.Mutex
	timer    *time.Timer
	deadline int64 // monotonic ns; 0: disarmed; noDeadline: armed without one
	phase    phase
	// reqDeadline and tryDeadline (monotonic ns, 0 for none) are the
	// rule's request and backend timeouts: they bound every phase and the
	// response body, and when one passes the exchange ends whatever the
	// phase. tryTimedOut says the attempt's own deadline ended it (which a
	// retry policy may retry); timedOut any other timeout.
	reqDeadline int64
	tryDeadline int64
	cancel      context.CancelFunc
	timedOut    atomic.Bool
	tryTimedOut atomic.Bool
	watched     net.Conn // upstream connection of the h1Transport exchange in flight

	// A client that goes away while its request waits for the backend:
	// servers that can watch for it (h1) are asked to after
	// clientWatchAfter, and then clientLeft ends the exchange.
	cw       clientWatcher // the server's writer, if it can watch
	watching bool
	gone     atomic.Bool
	onGone   func() // c.clientLeft, bound once
}

// clientWatcher is a ResponseWriter that can tell when the client closes
// its connection (h1's).
type clientWatcher interface {
	WatchClient(gone func()) bool
	StopWatching()
}

// clientWatchAfter is how long a request waits for its backend before the
// client's connection is watched: a fast exchange should not pay for it.
const clientWatchAfter = time.Second

// maxTries bounds retries; the controller caps the annotation at 10 as well.
const maxTries = 10

type phase uint8

const (
	idle    phase = iota
	sending       // request body still being sent: send timeout
	waiting       // request sent, response headers awaited: read timeout
	// The response came before the whole body was read (a backend may
	// answer first): the transport may still be reading the client's
	// body, which the send timeout goes on bounding, without ending the
	// response.
	draining
	// receiving: the response is being copied to the client, bounded by the
	// rule's request and backend timeouts only.
	receiving
)

// noDeadline is an armed phase without a deadline of its own (it may still
// start the client watch).
const noDeadline = math.MaxInt64

var _ http.RoundTripper = (*call)(nil)

func (p *Proxy) newCall() *call {
	c := &call{p: p}
	c.rp = httputil.ReverseProxy{
		Rewrite:        c.rewrite,
		Transport:      c,
		BufferPool:     p.buffers,
		ErrorHandler:   c.errorHandler,
		ModifyResponse: c.modifyResponse,
		ErrorLog:       slog.NewLogLogger(p.cfg.Log.Handler(), slog.LevelDebug),
		// Streaming responses are flushed as they arrive: ReverseProxy
		// flushes every write of a response without a Content-Length
		// (chunked, gRPC) or of type text/event-stream. Anything else is
		// written through the server's buffer, which sends headers and a
		// small body in one write. (-1 here would flush every write, and
		// flush the headers alone from a timer goroutine first: two
		// syscalls and a goroutine per response, a third of the CPU.)
		FlushInterval: 0,
	}
	c.timer = time.AfterFunc(time.Hour, c.onTimer)
	c.timer.Stop()
	c.onGone = c.clientLeft
	return c
}

func (c *call) start(w http.ResponseWriter, r *http.Request) {
	if m := c.p.cfg.Metrics; m != nil {
		m.inFlight.Inc()
	}
	c.begin = time.Now()
	c.in = r
	c.w = responseWriter{rw: w}
	c.cw, _ = w.(clientWatcher)
	c.status, c.attempts, c.refusals, c.upstreamTime, c.intercepted = 0, 0, 0, 0, 0
	c.ub = upstreamBody{}
	c.retry, c.replay, c.bodyTooBig, c.next = nil, nil, false, nil
	c.clientHdr = clientCertHeaders{}
	c.reqDeadline, c.tryDeadline = 0, 0
	c.timedOut.Store(false)
	c.tryTimedOut.Store(false)
	c.gone.Store(false)
}

// finish writes the access log line and drops references for the pool.
func (c *call) finish() {
	c.mu.Lock() // the timer may have started a watch
	watching := c.watching
	c.watching = false
	// Disarmed here too: a response that panicked past end may have left
	// a phase armed, whose fire must not reach the call's next request.
	c.phase, c.deadline, c.reqDeadline, c.tryDeadline = idle, 0, 0, 0
	c.timer.Stop()
	c.mu.Unlock()
	if watching {
		c.cw.StopWatching() // after it, clientLeft cannot run on a pooled call
	}
	if c.ep != nil {
		c.ep.inflight.Add(-1)
	}
	if c.p.log != nil || c.p.cfg.Metrics != nil {
		now, status := time.Now(), c.finalStatus()
		if c.p.log != nil && (c.route == nil || !c.route.Options.NoAccessLog) {
			c.p.log.write(c, status, now)
		}
		if m := c.p.cfg.Metrics; m != nil {
			m.observe(c, status, now)
			m.inFlight.Dec()
		}
	}
	c.route, c.backend, c.ep, c.in, c.w.rw, c.watched, c.cw = nil, nil, nil, nil, nil, nil, nil
	c.w.own = [2][]string{}
	c.bfilters, c.retry, c.replay = nil, nil, nil
	clear(c.tried[:])
	c.mu.Lock()
	c.cancel, c.body = nil, nil
	c.mu.Unlock()
}

// RoundTrip sends the request to the chosen endpoint and, when that fails
// before the request could have had an effect, to other endpoints, up to
// the route's tries. Only the first attempt's request is ReverseProxy's own;
// retries reuse it with another URL.Host (and, for a buffered body, a fresh
// reader of it). A rule's retry policy also sends again answers with its
// status codes and attempts that broke or hit the backend timeout (see
// retriable and again).
func (c *call) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := c.p.backendTransport(c.backend, c.proto)
	// A timeout must abort the exchange. When the h1 transport sends the
	// request and nothing but the call's own timer can cancel it (an
	// HTTP/1 client: its context has no Done channel), the transport
	// watches the call. Anything else gets a cancellable context, which
	// serve cancels after the response (the body is read after RoundTrip).
	h1, _ := rt.(*h1Transport)
	if h1 != nil && (req.Context().Done() != nil || !h1.handles(req)) {
		h1 = nil
	}
	base := req.Context()
	if ct := c.route.Options.ConnectTimeout; ct > 0 {
		base = context.WithValue(base, connectTimeoutKey{}, ct) // for the dialer
	}
	ctx := base
	if h1 == nil {
		ctx = c.cancellable(base)
	}
	if ctx != req.Context() {
		req = req.WithContext(ctx)
	}
	for {
		if h1 == nil && ctx.Err() != nil {
			// The last attempt's backend timeout cancelled its context.
			ctx = c.cancellable(base)
			req = req.WithContext(ctx)
		}
		c.attempts++
		if c.attempts == 1 {
			c.firstTry = monotime()
		}
		req.URL.Host = c.ep.addr
		c.startAttempt()
		c.upstreamStart = time.Now()
		var resp *http.Response
		var err error
		if h1 != nil {
			resp, err = h1.roundTripWatched(req, c)
		} else {
			resp, err = rt.RoundTrip(req)
		}
		c.disarm()
		c.upstreamTime = time.Since(c.upstreamStart)
		if err == nil {
			c.p.balancer.succeeded(c.ep)
			// After a response, a streamed body may still be in the
			// transport's hands (its writer blocked reading the client), so
			// only a buffered body, or none, is sent again.
			if (c.retry != nil && c.retry.RetriesStatus(resp.StatusCode) || c.next != nil && c.nextStatus(req, resp.StatusCode)) &&
				c.resendable() && (c.body == nil || c.replay != nil) && c.again(base, req, false) {
				// Its body is not wanted: closing may cost the connection,
				// but never waits on a slow backend.
				_ = resp.Body.Close()
				continue
			}
			if b := c.body; b != nil && !b.done.Load() {
				c.arm(draining, c.sendTimeout)
			} else if c.bounded() && resp.StatusCode != http.StatusSwitchingProtocols {
				// (An upgraded connection is no longer a request waiting
				// for its response: the rule's timeouts end with it.)
				c.arm(receiving, 0)
			}
			if resp.Body != nil && resp.Body != http.NoBody && resp.StatusCode != http.StatusSwitchingProtocols {
				c.ub.rc = resp.Body
				resp.Body = &c.ub
			}
			return resp, nil
		}
		dial := isDialError(err)
		if dial {
			c.p.balancer.failed(c.ep)
			if m := c.p.cfg.Metrics; m != nil {
				m.connectFailed(c.backend)
			}
		}
		if dial && c.tries > 1 && errors.Is(err, syscall.ECONNREFUSED) {
			// A refusal costs nothing and proves the endpoint is not serving:
			// Pods close their listeners on SIGTERM before the EndpointSlice
			// says they are terminating, and a scale-down stops several at
			// once. With retries on, it does not use up a try; untried
			// endpoints and maxTries still bound the attempts.
			c.refusals++
		}
		if !c.retriable(req, err, dial) || !c.again(base, req, dial) {
			return nil, err
		}
	}
}

// cancellable returns a cancellable child of ctx whose cancel the timer
// and serve call; the previous attempt's, if any, is released.
func (c *call) cancellable(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	old := c.cancel
	c.cancel = cancel
	c.mu.Unlock()
	if old != nil {
		old()
	}
	return ctx
}

// again prepares the next attempt and reports whether there is one: tries
// are left, an endpoint is (another one if possible; under a retry policy
// the same one again when it is the only one), the policy's backoff ends
// within the request timeout, and a buffered body is rewound.
func (c *call) again(base context.Context, req *http.Request, dial bool) bool {
	if c.attempts >= min(c.tries+c.refusals, maxTries) {
		return false
	}
	if n := c.next; n != nil && n.Within > 0 && monotime()-c.firstTry >= int64(n.Within) {
		return false // proxy-next-upstream-timeout
	}
	c.tried[c.attempts-1] = c.ep
	next := c.p.balancer.pick(c.backend, c.route.Options.Balance, c.tried[:c.attempts])
	if next == nil && (c.retry != nil || c.next != nil) && !dial {
		next = c.p.balancer.pick(c.backend, c.route.Options.Balance, nil)
	}
	if next == nil {
		return false
	}
	if c.retry != nil && !dial && !c.backoff(base) {
		return false
	}
	c.p.cfg.Log.Debug("retrying", "backend", c.backend.ID, "failed", c.ep.addr, "next", next.addr, "attempt", c.attempts+1)
	c.ep.inflight.Add(-1)
	next.inflight.Add(1)
	c.ep = next
	if a := c.route.Options.Affinity; a != nil && a.ChangeOnFailure {
		c.setAffinity(a, next) // proxy/affinity.go
	}
	if c.replay != nil {
		b := &trackedBody{c: c, rc: io.NopCloser(bytes.NewReader(c.replay))}
		c.mu.Lock()
		c.body = b
		c.mu.Unlock()
		req.Body = b
	}
	if m := c.p.cfg.Metrics; m != nil {
		m.retried(c.backend)
	}
	return true
}

// resendable: nothing stops the request from being sent again as it was:
// no timeout of the whole request, the client is still there, and its
// body, if any, is buffered or was never read.
func (c *call) resendable() bool {
	if c.timedOut.Load() || c.gone.Load() || c.in.Context().Err() != nil {
		return false
	}
	b := c.body
	return b == nil || !b.read.Load() || c.replay != nil
}

// maxBackoff bounds a retry policy's doubling backoff, as a multiple of
// its base.
const maxBackoff = 10

// defaultBackoff is the wait before a retry when the policy names none.
const defaultBackoff = 25 * time.Millisecond

// backoff waits before a retry under the policy: Backoff doubled for each
// retry already made, at most ten times Backoff ("MAY use an exponential
// ... backoff strategy ..., MAY cap the maximum backoff duration to some
// amount greater than the specified minimum"). It gives up (false) when
// the wait would outlast the request timeout, or the client leaves.
func (c *call) backoff(base context.Context) bool {
	d := c.retry.Backoff
	if d <= 0 {
		d = defaultBackoff
	}
	wait := d
	for i := 1; i < c.attempts && wait < maxBackoff*d; i++ {
		wait *= 2
	}
	wait = min(wait, maxBackoff*d)
	if c.reqDeadline != 0 && monotime()+int64(wait) >= c.reqDeadline {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-base.Done():
		return false
	}
	return !c.gone.Load() && c.in.Context().Err() == nil
}

// retriable: a request may go to another endpoint when nothing of it can
// have reached a backend (the connection was never made), or when it is
// idempotent, has no body that was consumed, and no response came back.
// Under a rule's retry policy any request that can be sent again as it
// was is, after a broken connection or its backend timeout too: the
// HTTPRoute spec says implementations "SHOULD retry on connection errors
// (disconnect, reset, timeout, TCP failure) if a retry stanza is
// configured". Other timeouts and a client that went away are never
// retried.
func (c *call) retriable(req *http.Request, err error, dial bool) bool {
	if !c.resendable() {
		return false
	}
	if c.next != nil {
		return c.nextError(req, err, dial) // proxy/nextupstream.go
	}
	if dial || c.retry != nil {
		return true
	}
	if c.tryTimedOut.Load() || isTimeout(err) {
		return false
	}
	return idempotent(req)
}

func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// isDialError: the TCP (or TLS) connection could not be made, so no
// request byte left Portico.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// arm starts phase ph with a timeout of d (0: none of its own).
func (c *call) arm(ph phase, d time.Duration) {
	c.mu.Lock()
	c.armLocked(ph, d)
	c.mu.Unlock()
}

// armLocked is arm with c.mu held. The phase's deadline is the earliest
// of its own and the rule's request and attempt deadlines.
func (c *call) armLocked(ph phase, d time.Duration) {
	now := monotime()
	dl := int64(noDeadline)
	if d > 0 {
		dl = now + int64(d)
	}
	for _, hard := range [2]int64{c.reqDeadline, c.tryDeadline} {
		if hard != 0 {
			dl = min(dl, hard)
		}
	}
	c.phase, c.deadline = ph, dl
	watch := ph == waiting && c.cw != nil && !c.watching
	if dl == noDeadline && !watch {
		c.timer.Stop()
		return
	}
	wait := time.Duration(dl - now)
	if watch {
		wait = min(wait, clientWatchAfter) // onTimer starts the watch, then waits on
	}
	c.timer.Reset(max(wait, 0))
}

// startAttempt arms the timer for an attempt about to be sent; its backend
// timeout starts now.
func (c *call) startAttempt() {
	c.mu.Lock()
	if bt := c.route.Options.BackendTimeout; bt > 0 {
		c.tryDeadline = monotime() + int64(bt)
	}
	c.tryTimedOut.Store(false)
	if b := c.body; b != nil && !b.done.Load() {
		c.armLocked(sending, c.sendTimeout)
	} else {
		c.armLocked(waiting, c.readTimeout)
	}
	c.mu.Unlock()
}

// bounded: the rule's timeouts bound the response body.
func (c *call) bounded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reqDeadline != 0 || c.tryDeadline != 0
}

func (c *call) disarm() {
	c.mu.Lock()
	c.phase, c.deadline = idle, 0
	c.timer.Stop()
	c.mu.Unlock()
}

// end disarms the timer when the response is done. A body the transport
// may still be reading stays bounded by what is left of the send timeout:
// as the client's read deadline, which the server also applies to what it
// drains.
func (c *call) end() {
	c.mu.Lock()
	left := time.Duration(-1)
	if c.phase == draining {
		left = time.Duration(c.deadline - monotime())
	}
	c.phase, c.deadline = idle, 0
	c.reqDeadline, c.tryDeadline = 0, 0
	c.timer.Stop()
	b := c.body
	c.mu.Unlock()
	if b == nil || b.done.Load() || c.replay != nil {
		return
	}
	if left < 0 {
		left = c.sendTimeout
	}
	_ = http.NewResponseController(c.w.rw).SetReadDeadline(time.Now().Add(max(left, 0)))
}

// bodySent moves from the send timeout to the read timeout. b may be the
// body of a request that already ended (a transport can read after that);
// then there is nothing to do.
func (c *call) bodySent(b *trackedBody) {
	c.mu.Lock()
	if c.body == b {
		switch c.phase {
		case sending:
			c.armLocked(waiting, c.readTimeout)
		case draining:
			c.phase, c.deadline = idle, 0
			c.timer.Stop()
			if c.reqDeadline != 0 || c.tryDeadline != 0 {
				c.armLocked(receiving, 0)
			}
		}
	}
	c.mu.Unlock()
}

// onTimer runs on the timer's goroutine. A fire may be stale (the timer
// was re-armed meanwhile); only a passed, current deadline cancels.
func (c *call) onTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deadline == 0 {
		return
	}
	now := monotime()
	if rem := c.deadline - now; rem > 0 {
		if c.phase == waiting && c.cw != nil && !c.watching {
			c.watching = c.cw.WatchClient(c.onGone)
		}
		if c.deadline != noDeadline {
			c.timer.Reset(time.Duration(rem))
		}
		return
	}
	request := c.reqDeadline != 0 && now >= c.reqDeadline
	attempt := !request && c.tryDeadline != 0 && now >= c.tryDeadline
	if (c.phase == sending || c.phase == draining) && c.replay == nil {
		// The transport cannot give up while its writer is blocked reading
		// a stalled client body; a past read deadline on the client's
		// connection unblocks that read. (A buffered body is read from
		// memory.)
		_ = http.NewResponseController(c.w.rw).SetReadDeadline(time.Now())
	}
	if c.phase == draining && !request && !attempt {
		c.deadline, c.phase = 0, idle // the response goes on
		if c.reqDeadline != 0 || c.tryDeadline != 0 {
			c.armLocked(receiving, 0)
		}
		return
	}
	c.deadline, c.phase = 0, idle
	if attempt {
		c.tryTimedOut.Store(true)
	} else {
		c.timedOut.Store(true)
	}
	if c.watched != nil {
		_ = c.watched.SetDeadline(aLongTimeAgo)
	}
	if c.cancel != nil {
		c.cancel()
	}
}

// clientLeft ends the exchange of a client that closed its connection;
// it runs on the server's watching goroutine.
func (c *call) clientLeft() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gone.Store(true)
	if c.watched != nil {
		_ = c.watched.SetDeadline(aLongTimeAgo)
	}
	if c.cancel != nil {
		c.cancel()
	}
}

// watch and unwatch make the call the h1 transport's abortWatcher.
func (c *call) watch(nc net.Conn) {
	c.mu.Lock()
	c.watched = nc
	if c.timedOut.Load() || c.tryTimedOut.Load() || c.gone.Load() {
		_ = nc.SetDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
}

func (c *call) unwatch() bool {
	c.mu.Lock()
	c.watched = nil
	c.mu.Unlock()
	return !c.timedOut.Load() && !c.tryTimedOut.Load() && !c.gone.Load()
}

func (c *call) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case err == errIntercepted:
		c.errorPage(c.route.Options.ErrorPages, c.intercepted) // proxy/errorpages.go
		return
	case c.timedOut.Load(), c.tryTimedOut.Load():
		c.status = http.StatusGatewayTimeout
	case errors.As(err, &tooBig):
		c.status = http.StatusRequestEntityTooLarge
	case c.gone.Load() || c.in.Context().Err() != nil:
		// The client went away; nobody is left to answer.
		c.status = 499
		return
	case isTimeout(err):
		c.status = http.StatusGatewayTimeout
	default:
		c.status = http.StatusBadGateway
	}
	c.p.cfg.Log.Debug("upstream error", "backend", c.backend.ID, "endpoint", c.ep.addr, "status", c.status, "err", err)
	if c.w.status != 0 {
		return // an upgrade or response already began; nothing more can be said
	}
	if e := c.route.Options.ErrorPages; e != nil && e.Catches(c.status) {
		c.errorPage(e, c.status)
		return
	}
	if c.status == http.StatusRequestEntityTooLarge {
		w.Header()["Connection"] = []string{"close"}
	}
	c.snippetHeaders(w.Header(), c.status)
	c.corsHeaders(w.Header())
	http.Error(w, http.StatusText(c.status), c.status)
}

// trackedBody wraps the outgoing request body to learn whether any byte was
// handed to a transport (then the request must not be sent again) and when
// the whole body was sent (then the read timeout starts). Close does
// nothing: a transport closes the body of a failed attempt, and the server
// closes the client's body after the handler. It is allocated per request
// (only for requests with a body), never pooled: a transport may still read
// it after the handler returned.
type trackedBody struct {
	c    *call
	rc   io.ReadCloser
	read atomic.Bool
	done atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 && !b.read.Load() {
		b.read.Store(true)
	}
	if err == io.EOF && !b.done.Load() {
		b.done.Store(true)
		b.c.bodySent(b)
	}
	return n, err
}

func (b *trackedBody) Close() error { return nil }

// upstreamBody is the response body as ReverseProxy reads it; it keeps
// the error that ended it other than EOF. It lives in the pooled call:
// ReverseProxy has closed it before ServeHTTP returns. (A 101's body is
// the upgraded connection and stays unwrapped.)
type upstreamBody struct {
	rc  io.ReadCloser
	err error
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *upstreamBody) Close() error { return b.rc.Close() }

// finalStatus is the status the client got: what was written, else what
// the proxy decided (499 for a client that went away), else the empty 200
// the server sends when nothing was written.
func (c *call) finalStatus() int {
	if c.w.status != 0 {
		return c.w.status
	}
	if c.status != 0 {
		return c.status
	}
	return http.StatusOK
}
