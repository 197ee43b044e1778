package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1Transport is the upstream transport for plain-HTTP backends: HTTP/1.1
// over pooled keep-alive connections, with the request written and the
// response read on the calling goroutine. net/http.Transport runs a reader
// and a writer goroutine per connection and hands every request and
// response between them over channels; profiles of the benchmark
// (docs/benchmarks.md) showed that hand-off costing more than the proxy's
// own work. What this transport does not do itself it leaves to the
// fallback, a regular http.Transport: requests with a body (their body and
// the response may need to flow at the same time, which needs a second
// goroutine), Expect: 100-continue, protocol upgrades (WebSocket), and any
// scheme other than http.
type h1Transport struct {
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	fallback *http.Transport

	maxIdlePerHost int
	idleTimeout    time.Duration
	maxHeaderBytes int64

	mu      sync.Mutex
	idle    map[string][]*h1Conn // per "ip:port", most recently used last
	janitor *time.Timer          // closes connections idle too long; nil when none are
}

var _ http.RoundTripper = (*h1Transport)(nil)

const (
	h1ReadBuffer  = 16 << 10
	h1WriteBuffer = 4 << 10
	// A reused connection that fails before the first response byte is
	// tried again on another one, at most this many times.
	h1StaleRetries = 3
)

func newH1Transport(cfg TransportConfig, dial func(context.Context, string, string) (net.Conn, error), fallback *http.Transport) *h1Transport {
	return &h1Transport{
		dial:           dial,
		fallback:       fallback,
		maxIdlePerHost: cfg.MaxIdleConnsPerHost,
		idleTimeout:    cfg.IdleConnTimeout,
		maxHeaderBytes: 1 << 20,
		idle:           map[string][]*h1Conn{},
	}
}

// h1Conn is one upstream connection. It counts what it reads, so that a
// failure can tell "the server closed a stale connection before answering"
// (safe to retry) from "the server answered something broken" (not).
type h1Conn struct {
	t      *h1Transport
	addr   string
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	nread  int64
	limit  int64 // bytes Read may still take before the headers are complete
	reused bool  // served a request before
	idleAt time.Time

	// For alive: made on first use.
	raw    syscall.RawConn
	peek   func(fd uintptr) bool
	idleOK bool

	// The cancellation of the exchange in flight: a watcher, or else a
	// context.AfterFunc's stop.
	watcher abortWatcher
	stopFn  func() bool
}

// unwatch ends the cancellation of the exchange; false: it was cancelled.
func (c *h1Conn) unwatch() bool {
	if w := c.watcher; w != nil {
		c.watcher = nil
		return w.unwatch()
	}
	stop := c.stopFn
	c.stopFn = nil
	return stop()
}

var errHeadersTooLarge = errors.New("upstream response headers exceed 1 MiB")

func (c *h1Conn) Read(p []byte) (int, error) {
	if c.limit <= 0 {
		return 0, errHeadersTooLarge
	}
	if int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	n, err := c.nc.Read(p)
	c.nread += int64(n)
	c.limit -= int64(n)
	return n, err
}

// abortWatcher aborts the upstream I/O of an exchange that is cancelled
// (timed out). A proxy call whose request context nothing else can cancel
// passes itself (roundTripWatched); a connection then registers with it
// instead of with context.AfterFunc, whose registration on the context is
// an allocation and a lock per request.
type abortWatcher interface {
	watch(nc net.Conn) // abort nc's I/O when (or if already) cancelled
	unwatch() bool     // stop watching; false: the exchange was cancelled
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTripWatched(req, nil)
}

// roundTripWatched is RoundTrip with the exchange's cancellation coming
// from w (nil: from the request's context).
func (t *h1Transport) roundTripWatched(req *http.Request, w abortWatcher) (*http.Response, error) {
	if !t.handles(req) {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	addr := req.URL.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "80")
	}
	for try := 0; ; try++ {
		c, err := t.get(ctx, addr)
		if err != nil {
			return nil, err
		}
		resp, err := c.roundTrip(ctx, req, w)
		if err == nil {
			return resp, nil
		}
		// Only idempotent requests are sent again: the server may have
		// acted on one it never answered.
		stale := c.reused && c.nread == 0 && ctx.Err() == nil && !isTimeout(err) && idempotent(req)
		if !stale || try+1 >= h1StaleRetries {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, err
		}
		// The server closed a kept-alive connection before answering: its
		// other idle connections are likely gone too (a restart).
		t.closeIdle(addr)
	}
}

// handles: a GET-like request this transport sends itself.
func (t *h1Transport) handles(req *http.Request) bool {
	if req.URL.Scheme != "http" || (req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0 {
		return false
	}
	h := req.Header
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0 && len(req.TransferEncoding) == 0 && len(req.Trailer) == 0
}

// get returns an idle connection to addr or dials one. An idle connection
// is reused only when nothing has arrived on it since its last response
// ended: bytes there (a backend writing more than it announced, late, or
// closing) would otherwise be read as the next request's response, which
// may be another client's. net/http.Transport finds them with a reader
// goroutine per idle connection; one non-blocking peek at reuse costs a
// system call instead. Bytes that arrive after the peek, while the next
// request is on its way, cannot be told from its response by any client
// (nor by net/http or nginx); a response to HEAD, 204 or 304 that
// announces a body is why a backend would send them, and such a
// connection is never reused (roundTrip).
func (t *h1Transport) get(ctx context.Context, addr string) (*h1Conn, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		list := t.idle[addr]
		if len(list) == 0 {
			t.mu.Unlock()
			break
		}
		c := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[addr] = list[:len(list)-1]
		t.mu.Unlock()
		if now.Sub(c.idleAt) >= t.idleTimeout || !c.alive() {
			c.nc.Close()
			continue
		}
		return c, nil
	}
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &h1Conn{t: t, addr: addr, nc: nc}, nil
}

// alive: nothing (neither data nor EOF) is waiting on an idle connection.
// The raw connection and the peek function are made once per connection,
// so the check allocates nothing.
func (c *h1Conn) alive() bool {
	if c.peek == nil {
		sc, ok := c.nc.(syscall.Conn)
		if !ok {
			return true
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		c.raw = rc
		c.peek = func(fd uintptr) bool {
			var buf [1]byte
			_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			c.idleOK = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
			return true // never wait for readiness
		}
	}
	c.idleOK = false
	if err := c.raw.Read(c.peek); err != nil {
		return false
	}
	return c.idleOK
}

// put returns a connection whose exchange ended cleanly to the pool.
func (t *h1Transport) put(c *h1Conn) {
	c.reused = true
	c.idleAt = time.Now()
	t.mu.Lock()
	list := t.idle[c.addr]
	if len(list) >= t.maxIdlePerHost {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	t.idle[c.addr] = append(list, c)
	if t.janitor == nil {
		t.janitor = time.AfterFunc(t.idleTimeout, t.sweep)
	}
	t.mu.Unlock()
}

// sweep closes connections idle longer than idleTimeout; it runs while any
// connection is idle.
func (t *h1Transport) sweep() {
	var expired []*h1Conn
	now := time.Now()
	t.mu.Lock()
	for addr, list := range t.idle {
		n := 0
		for n < len(list) && now.Sub(list[n].idleAt) >= t.idleTimeout {
			expired = append(expired, list[n])
			n++
		}
		if n == len(list) {
			delete(t.idle, addr)
			continue
		}
		t.idle[addr] = append(list[:0], list[n:]...)
	}
	if len(t.idle) > 0 {
		t.janitor.Reset(t.idleTimeout / 2)
	} else {
		t.janitor = nil
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.nc.Close()
	}
}

// closeIdle closes the idle connections to addr ("" for all).
func (t *h1Transport) closeIdle(addr string) {
	var closing []*h1Conn
	t.mu.Lock()
	for a, list := range t.idle {
		if addr == "" || a == addr {
			closing = append(closing, list...)
			delete(t.idle, a)
		}
	}
	t.mu.Unlock()
	for _, c := range closing {
		c.nc.Close()
	}
}

// CloseIdleConnections closes every idle connection, its own and the
// fallback's.
func (t *h1Transport) CloseIdleConnections() {
	t.closeIdle("")
	t.fallback.CloseIdleConnections()
}

// aLongTimeAgo is a deadline that has passed: setting it aborts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip sends req on c and reads the response headers. On success the
// response body owns c; on failure c is closed.
func (c *h1Conn) roundTrip(ctx context.Context, req *http.Request, w abortWatcher) (*http.Response, error) {
	// A cancelled exchange (timeout, client gone) is aborted at whatever
	// I/O it is blocked in, the body's included.
	if w != nil {
		c.watcher = w
		w.watch(c.nc)
	} else {
		c.stopFn = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	}
	if c.bw == nil {
		c.br = bufio.NewReaderSize(c, h1ReadBuffer)
		c.bw = bufio.NewWriterSize(c.nc, h1WriteBuffer)
	}
	c.nread, c.limit = 0, c.t.maxHeaderBytes+h1ReadBuffer
	err := writeRequest(c.bw, req)
	if err == nil {
		err = c.bw.Flush()
	}
	var resp *http.Response
	if err == nil {
		resp, err = c.readResponse(req)
	}
	if err != nil {
		c.unwatch()
		c.nc.Close()
		return nil, err
	}
	c.limit = 1<<63 - 1
	keep := !resp.Close && !req.Close && !announcesUnsentBody(req, resp)
	if resp.Body == http.NoBody {
		c.release(keep)
		return resp, nil
	}
	resp.Body = &h1Body{c: c, rc: resp.Body, keep: keep}
	return resp, nil
}

// announcesUnsentBody: a response that has no body by rule (to HEAD, or
// 204 or 304) but whose header describes one. Such a header is normal (a
// HEAD answer gives the length a GET would get), but a backend that sends
// the body anyway, at any later time, would have it read as the next
// response on the connection; closing the connection is the only way to
// rule that out. A Content-Length of 0 announces nothing.
func announcesUnsentBody(req *http.Request, resp *http.Response) bool {
	if req.Method != http.MethodHead && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		return false
	}
	if len(resp.TransferEncoding) > 0 { // ReadResponse moves it out of the header
		return true
	}
	cl := resp.Header["Content-Length"]
	return len(cl) > 0 && strings.TrimSpace(cl[0]) != "0"
}

// writeRequest writes a request without a body (the only kind this
// transport sends) as net/http's Request.Write would, without its
// formatting and sorting: the request line, Host, User-Agent when not
// empty, the other fields in map order, and Content-Length: 0 for POST,
// PUT and PATCH. Line breaks
// in values become spaces, so no field can split the request.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return errors.New("proxy: invalid Host header")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if hasCTL(path) || hasCTL(req.URL.RawQuery) {
		return errors.New("proxy: request URI contains control characters")
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(path)
	if req.URL.RawQuery != "" || req.URL.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(req.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	if ua := req.Header["User-Agent"]; len(ua) > 0 && ua[0] != "" {
		bw.WriteString("User-Agent: ")
		writeFieldValue(bw, ua[0])
		bw.WriteString("\r\n")
	}
	for k, vv := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeFieldValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		bw.WriteString("Content-Length: 0\r\n") // many servers expect one
	}
	if req.Close && len(req.Header["Connection"]) == 0 {
		bw.WriteString("Connection: close\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < ' ' || b == 0x7f {
			return true
		}
	}
	return false
}

// writeFieldValue writes v trimmed, with CR and LF as spaces.
func writeFieldValue(bw *bufio.Writer, v string) {
	v = strings.TrimSpace(v)
	for {
		i := strings.IndexAny(v, "\r\n")
		if i < 0 {
			bw.WriteString(v)
			return
		}
		bw.WriteString(v[:i])
		bw.WriteByte(' ')
		v = v[i+1:]
	}
}

// readResponse reads the final response; interim 1xx answers (103 Early
// Hints) go to the client trace, which ReverseProxy uses to forward them.
func (c *h1Conn) readResponse(req *http.Request) (*http.Response, error) {
	trace := httptrace.ContextClientTrace(req.Context())
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, err
		}
		code := resp.StatusCode
		if code == http.StatusSwitchingProtocols {
			// Upgrades go through the fallback; a 101 to anything else
			// is a broken backend.
			return nil, errors.New("upstream switched protocols without an Upgrade request")
		}
		if code < 100 || code > 199 {
			return resp, nil
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// release ends the exchange: back to the pool if the connection is clean
// and the context never fired, else closed.
func (c *h1Conn) release(keep bool) {
	if c.unwatch() && keep && c.br.Buffered() == 0 {
		c.t.put(c)
		return
	}
	c.nc.Close()
}

// h1Body returns its connection to the pool when the body was read to the
// end, and closes it when the body is closed early or fails.
type h1Body struct {
	c    *h1Conn
	rc   io.ReadCloser
	keep bool
	done bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.done = true
		b.c.release(b.keep && err == io.EOF)
		b.c = nil
	}
	return n, err
}

func (b *h1Body) Close() error {
	if !b.done {
		b.done = true
		b.c.unwatch()
		b.c.nc.Close() // unread bytes make the connection unusable
		b.c = nil
	}
	return nil
}
