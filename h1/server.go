// Package h1 serves HTTP/1.x on a loop of its own and hands HTTP/2
// connections (ALPN "h2", or h2c with prior knowledge) to a net/http server.
//
// Why it exists: for a proxy, net/http's HTTP/1 server costs about a third
// of the CPU of a request. Per request it starts a goroutine that reads
// ahead to notice a client that goes away (a read that fails with EAGAIN, a
// wake-up, two deadline changes), a context, a response object and its
// buffers. This loop does none of that. It parses requests with net/http's
// own parser (http.ReadRequest), applies the checks net/http's server adds
// (Host, header names and values, sizes, versions), and writes responses
// itself with the same framing rules: Content-Length when known, chunked
// otherwise, nothing for HEAD, 1xx, 204 and 304.
//
// What it does differently: it reads ahead to notice a client that
// disconnects only when the handler asks (WatchClient, watch.go), and a
// request's context is never cancelled; it does not sniff a Content-Type.
// It refuses with 400 what two parsers may read differently (both
// Content-Length and Transfer-Encoding, Transfer-Encoding on HTTP/1.0,
// obs-fold), and skips empty lines before any request line. Its error
// pages never repeat what the client sent. docs/dataplane.md lists the
// differences; differential_test.go checks them against net/http.
package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves HTTP/1.0 and HTTP/1.1. The zero value needs a Handler.
type Server struct {
	Handler http.Handler

	// TLSConfig, when set, makes every connection TLS. The server adds "h2"
	// (when HTTP2 is set) and "http/1.1" to a copy's NextProtos.
	TLSConfig *tls.Config
	// HTTP2 serves the connections that negotiated "h2" and, with H2C, the
	// plain ones that open with the HTTP/2 preface. Its Serve runs on an
	// internal listener; Shutdown and Close stop it too. Nil: HTTP/1 only.
	HTTP2 *http.Server
	H2C   bool

	// ReadHeaderTimeout bounds reading a request's header, and the TLS
	// handshake. Default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request. Default 120s.
	IdleTimeout time.Duration
	// WriteTimeout bounds a write to the client that makes no progress
	// (nginx's send_timeout). Default 60s.
	WriteTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and header. Default 64 KiB.
	MaxHeaderBytes int

	// Log receives connection errors (debug) and handler panics (error).
	Log *slog.Logger
	// TLSHandshakeError, if set, is called for each failed handshake.
	TLSHandshakeError func(net.Addr, error)

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  atomic.Bool
	h2once    sync.Once
	h2ln      *handoff
}

const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultIdleTimeout       = 120 * time.Second
	defaultWriteTimeout      = 60 * time.Second
	defaultMaxHeaderBytes    = 64 << 10

	// maxDrain is how much of an unread request body is read and thrown
	// away to keep a connection; with more left it is closed (net/http's
	// maxPostHandlerReadBytes).
	maxDrain = 256 << 10
	// maxEmptyLines: empty lines skipped before a request line.
	maxEmptyLines = 4
	// headDrainWait bounds the wait for the rest of a body the handler
	// did not read, before its response's head (see drainEarly). A client
	// that is slower loses the connection, not the response's time.
	headDrainWait = 500 * time.Millisecond
	// smallBody: a response without a Content-Length whose whole body
	// fits gets one computed instead of chunked framing.
	smallBody = 2048
	// rstAvoidanceDelay: after a response to a request whose body was
	// left unread, the write side is shut and the socket closed this much
	// later, so the client reads the response before a reset can drop it.
	rstAvoidanceDelay = 500 * time.Millisecond
)

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (s *Server) readHeaderTimeout() time.Duration {
	return orDuration(s.ReadHeaderTimeout, defaultReadHeaderTimeout)
}
func (s *Server) idleTimeout() time.Duration  { return orDuration(s.IdleTimeout, defaultIdleTimeout) }
func (s *Server) writeTimeout() time.Duration { return orDuration(s.WriteTimeout, defaultWriteTimeout) }
func (s *Server) maxHeaderBytes() int64 {
	if s.MaxHeaderBytes > 0 {
		return int64(s.MaxHeaderBytes)
	}
	return defaultMaxHeaderBytes
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Serve accepts connections on ln until Shutdown or Close, and then
// returns http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	if !s.trackListener(&ln, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(&ln, false)
	var tlsConfig *tls.Config
	if s.TLSConfig != nil {
		tlsConfig = s.TLSConfig.Clone()
		var protos []string
		if s.HTTP2 != nil {
			protos = append(protos, "h2")
		}
		protos = append(protos, "http/1.1")
		for _, p := range protos {
			if !containsString(tlsConfig.NextProtos, p) {
				tlsConfig.NextProtos = append(tlsConfig.NextProtos, p)
			}
		}
	}
	var backoff time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait and go on.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log().Warn("accept failed; retrying", "err", err, "delay", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := &conn{s: s, rwc: rwc, created: time.Now()}
		if tlsConfig != nil {
			// Here, not in c.serve: Close and Shutdown read c.rwc from
			// other goroutines, so it must not change once tracked.
			c.rwc = tls.Server(rwc, tlsConfig)
		}
		if !s.trackConn(c, true) {
			_ = rwc.Close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) trackListener(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shutdown.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[ln] = struct{}{}
	} else {
		delete(s.listeners, ln)
	}
	return true
}

func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shutdown.Load() {
			return false
		}
		if s.conns == nil {
			s.conns = make(map[*conn]struct{})
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		_ = (*ln).Close()
	}
}

// Shutdown stops accepting, closes idle connections, lets requests in
// flight finish (their connections close after the response) and waits
// for that, or for ctx. Hijacked connections are not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	s.closeListeners()
	h2 := make(chan error, 1)
	if s.HTTP2 != nil {
		go func() { h2 <- s.HTTP2.Shutdown(ctx) }()
	} else {
		h2 <- nil
	}
	wait := 2 * time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for !s.closeIdle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			wait = min(2*wait, 500*time.Millisecond)
			t.Reset(wait)
		}
	}
	return <-h2
}

// Close stops accepting and closes every connection now.
func (s *Server) Close() error {
	s.shutdown.Store(true)
	s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.rwc.Close()
	}
	s.mu.Unlock()
	if s.HTTP2 != nil {
		return s.HTTP2.Close()
	}
	return nil
}

// closeIdle closes connections waiting for a request and reports whether
// none are left. New ones get 5 s to send theirs, as in net/http.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		st := c.state.Load()
		if st == stateNew && time.Since(c.created) < 5*time.Second {
			continue
		}
		if (st == stateIdle || st == stateNew) && c.state.CompareAndSwap(st, stateClosed) {
			_ = c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

// handoff is the listener the HTTP/2 server accepts from.
type handoff struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error   { h.once.Do(func() { close(h.done) }); return nil }
func (h *handoff) Addr() net.Addr { return h.addr }

// toHTTP2 gives c to the HTTP/2 server, starting it on first use.
func (s *Server) toHTTP2(c net.Conn) {
	s.h2once.Do(func() {
		s.h2ln = &handoff{ch: make(chan net.Conn), done: make(chan struct{}), addr: c.LocalAddr()}
		go func() {
			if err := s.HTTP2.Serve(s.h2ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log().Error("HTTP/2 server stopped", "err", err)
			}
		}()
	})
	select {
	case s.h2ln.ch <- c:
	case <-s.h2ln.done:
		_ = c.Close()
	}
}

// Connection states, for Shutdown.
const (
	stateNew    int32 = iota // accepted; no request read yet
	stateActive              // a request is being read or served
	stateIdle                // waiting for the next request
	stateClosed              // closed by Shutdown
	stateHijacked
)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

// conn is one client connection.
type conn struct {
	s       *Server
	rwc     net.Conn // the *tls.Conn on TLS listeners
	created time.Time
	state   atomic.Int32
	remote  string
	tls     *tls.ConnectionState

	lr limitReader
	br *bufio.Reader
	bw *bufio.Writer
	w  response

	// readDeadline is the read deadline last set by the loop (zero: none);
	// deadlineTouched says someone else (the handler) set one since.
	readDeadline    time.Time
	deadlineTouched atomic.Bool
	handlerDeadline atomic.Int64 // the handler's read deadline in Unix ns; 0: none
	writeDeadline   time.Time
	werr            error // first write error; the connection is done
	watch           clientWatch
	hijacked        bool
	scratch         []byte
	raw             []byte // a request's header as received, when it came in pieces
}

// limitReader caps what reading a request header may pull from the
// connection, as net/http does.
type limitReader struct {
	c      *conn
	n      int64
	reads  int  // calls to Read
	record bool // append what is read to c.raw
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.rwc.Read(p)
	l.n -= int64(n)
	l.reads++
	if l.record && n > 0 {
		l.c.raw = append(l.c.raw, p[:n]...)
	}
	return n, err
}

// Write is the buffered writer's destination: it moves the write deadline
// forward as writes make progress, at most once a second.
func (c *conn) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(c.writeDeadline) > -c.s.writeTimeout()+time.Second {
		c.writeDeadline = now.Add(c.s.writeTimeout())
		_ = c.rwc.SetWriteDeadline(c.writeDeadline)
	}
	return c.rwc.Write(p)
}

func (c *conn) serve() {
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.s.log().Error("handler panic; connection closed", "remote", c.remote, "panic", v, "stack", string(buf))
		}
		if !c.hijacked {
			_ = c.rwc.Close()
			c.w.StopWatching() // its read-ahead uses the buffer released below
			// After a panic, the body may still be read, say by a
			// transport's goroutine: stop that before its buffer goes back
			// to the pool and on to another connection.
			if b := c.w.body; b != nil {
				b.finish(false)
			}
			c.release()
		}
		c.s.trackConn(c, false)
	}()
	if tc, ok := c.rwc.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(c.s.readHeaderTimeout()))
		if err := tc.Handshake(); err != nil {
			if h := c.s.TLSHandshakeError; h != nil {
				h(tc.RemoteAddr(), err)
			}
			c.s.log().Debug("TLS handshake failed", "remote", tc.RemoteAddr().String(), "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		if st.NegotiatedProtocol == "h2" && c.s.HTTP2 != nil {
			c.handOff(tc)
			return
		}
		c.tls = &st
	}
	c.remote = c.rwc.RemoteAddr().String()
	c.lr = limitReader{c: c, n: math.MaxInt64}
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.lr)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(c)
	c.w.c = c

	for first := true; ; first = false {
		if !c.awaitRequest(first) {
			return
		}
		req, err := c.readRequest()
		if err != nil {
			c.refuse(err)
			return
		}
		if !c.handle(req) {
			return
		}
		c.state.Store(stateIdle)
		if c.s.shutdown.Load() {
			return
		}
	}
}

// handOff gives the connection to the HTTP/2 server; it is no longer ours.
func (c *conn) handOff(nc net.Conn) {
	c.hijacked = true
	c.s.trackConn(c, false)
	c.s.toHTTP2(nc)
}

// release returns the buffers of a connection that is done.
func (c *conn) release() {
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
	if c.bw != nil {
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
}

func (c *conn) setReadDeadline(t time.Time) {
	c.readDeadline = t
	_ = c.rwc.SetReadDeadline(t)
}

// awaitRequest waits for the first byte of the next request (the idle
// timeout; for a new connection the header timeout) and makes sure the
// rest of its header arrives within the header timeout. It reports false
// when the connection should end.
func (c *conn) awaitRequest(first bool) bool {
	now := time.Now()
	if first {
		c.setReadDeadline(now.Add(c.s.readHeaderTimeout()))
	} else {
		idle := c.s.idleTimeout()
		want := now.Add(idle)
		// Requests on a busy connection skip the deadline change while the
		// one set is less than a second old: a deadline costs a lock and a
		// timer update, and the idle timeout does not need that precision.
		// Less than a tenth of a short idle timeout, though, or a busy
		// connection would time out. A deadline later than wanted (the
		// header timeout's, when it is the longer) is not kept either.
		if c.deadlineTouched.Swap(false) || c.readDeadline.IsZero() ||
			want.Sub(c.readDeadline) > min(time.Second, idle/10) || c.readDeadline.After(want) {
			c.setReadDeadline(want)
		}
	}
	b, err := c.br.Peek(1)
	if err != nil {
		return false
	}
	// RFC 9112, section 2.2: a server "SHOULD ignore at least one empty
	// line (CRLF) received prior to the request-line"; some clients end
	// a body with one. A few are skipped, waiting for what follows as an
	// idle connection does; more, or a bare CR, go to the parser, which
	// refuses them.
	for n := 0; b[0] == '\r' || b[0] == '\n'; n++ {
		skip := 1
		if b[0] == '\r' {
			if b, err = c.br.Peek(2); err != nil {
				return false
			}
			if b[1] != '\n' {
				break
			}
			skip = 2
		}
		if n == maxEmptyLines {
			break
		}
		_, _ = c.br.Discard(skip)
		if b, err = c.br.Peek(1); err != nil {
			return false
		}
	}
	if first && c.s.H2C && c.s.HTTP2 != nil && c.tls == nil && b[0] == http2Preface[0] && c.isHTTP2Preface() {
		_ = c.rwc.SetReadDeadline(time.Time{})
		c.handOff(&bufferedConn{Conn: c.rwc, br: c.br})
		c.br = nil
		return false
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) && !c.state.CompareAndSwap(stateNew, stateActive) {
		return false // closed by Shutdown
	}
	if !first {
		// The header must arrive within the header timeout, unless it is
		// already here (the common case: one read holds it all).
		buffered, _ := c.br.Peek(c.br.Buffered())
		if !headerComplete(buffered) {
			c.setReadDeadline(time.Now().Add(c.s.readHeaderTimeout()))
		}
	}
	return true
}

func headerComplete(b []byte) bool {
	return bytes.Contains(b, crlfcrlf) || bytes.Contains(b, lflf)
}

var (
	crlfcrlf     = []byte("\r\n\r\n")
	lflf         = []byte("\n\n")
	http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
)

// isHTTP2Preface reads just enough to tell an HTTP/2 preface from an
// HTTP/1 request (both may start with "P").
func (c *conn) isHTTP2Preface() bool {
	for n := 1; ; n++ {
		b, err := c.br.Peek(n)
		if err != nil || !bytes.HasPrefix(http2Preface, b) {
			return false
		}
		if n == len(http2Preface) {
			return true
		}
	}
}

// bufferedConn is a connection whose first bytes sit in a bufio.Reader.
type bufferedConn struct {
	net.Conn
	br *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.br.Read(p) }

// errTooLarge: the request line and header exceeded MaxHeaderBytes.
var errTooLarge = errors.New("request header too large")

// requestError is a request refused with a status.
type requestError struct {
	status int
	reason string
}

func (e *requestError) Error() string { return e.reason }

func (c *conn) readRequest() (*http.Request, error) {
	// As net/http: the buffer's worth of slack. What is buffered already
	// (awaitRequest's peek read it without a limit) counts.
	c.lr.n = c.s.maxHeaderBytes() + 4096 - int64(c.br.Buffered())
	c.lr.reads = 0
	// http.ReadRequest does not tell everything the header said on the
	// wire (a folded line, which framing fields it had): that is read
	// from the header as received. Mostly it is all buffered already,
	// and then the parser reads nothing more. Otherwise what the parser
	// reads is recorded, as the buffered bytes move when it reads more.
	pre, _ := c.br.Peek(c.br.Buffered())
	wire, complete := scanHeader(pre)
	if !complete {
		c.raw = append(c.raw[:0], pre...)
		c.lr.record = true
	}
	req, err := http.ReadRequest(c.br)
	hitLimit := c.lr.n <= 0
	c.lr.n = math.MaxInt64
	c.lr.record = false
	if err != nil {
		if hitLimit {
			return nil, errTooLarge
		}
		return nil, err
	}
	switch {
	case !complete:
		wire, complete = scanHeader(c.raw)
		if cap(c.raw) > 16<<10 {
			c.raw = nil
		}
	case c.lr.reads > 0:
		complete = false // the parser read more: pre may have moved
	}
	if !complete {
		// Not possible: the parser ends at the header's empty line.
		c.s.log().Error("h1: request header not seen whole; refused", "remote", c.remote)
		return nil, &requestError{http.StatusBadRequest, "header not seen whole"}
	}
	// What net/http's server checks on top of its parser.
	if req.ProtoMajor != 1 {
		return nil, &requestError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	// RFC 9112, section 5.2: a server may refuse a folded field line
	// with 400. net/http joins the lines; a proxy in front or a backend
	// behind may not, and then they disagree on the field.
	if wire.folded {
		return nil, &requestError{http.StatusBadRequest, "obsolete line folding"}
	}
	if ambiguousFraming(req, wire) {
		return nil, &requestError{http.StatusBadRequest, "ambiguous message framing"}
	}
	// RFC 9112, section 3.2: an HTTP/1.1 request has a Host field (the
	// parser refuses two), whatever the form of its target, and it must
	// be valid; it may be empty (a target without an authority). With an
	// absolute-form target, the target's authority is the host (section
	// 3.2.2): the parser made it Request.Host, and removed the field, as
	// net/http does, so that a handler sees one host only.
	if req.ProtoAtLeast(1, 1) && !wire.host && req.Method != http.MethodConnect {
		return nil, &requestError{http.StatusBadRequest, "missing required Host header"}
	}
	if !validHost(req.Host) || req.URL.Host != "" && wire.host && !validHost(string(wire.hostValue)) {
		return nil, &requestError{http.StatusBadRequest, "malformed Host header"}
	}
	for k, vv := range req.Header {
		if !validFieldName(k) {
			return nil, &requestError{http.StatusBadRequest, "invalid header name"}
		}
		for _, v := range vv {
			if !validFieldValue(v) {
				return nil, &requestError{http.StatusBadRequest, "invalid header value"}
			}
		}
	}
	// A 100-continue from an HTTP/1.0 client is ignored (RFC 9110,
	// section 10.1.1): see handle.
	if e, ok := req.Header["Expect"]; ok {
		if _, known := expectation(e); !known {
			return nil, &requestError{http.StatusExpectationFailed, "unsupported Expect header"}
		}
	}
	return req, nil
}

// expectation reads the Expect fields (RFC 9110, section 10.1.1): cont,
// the client waits for 100 Continue; known, no member is other than
// 100-continue. Empty members, and an empty field, expect nothing.
func expectation(vv []string) (cont, known bool) {
	known = true
	for _, v := range vv {
		for m := range strings.SplitSeq(v, ",") {
			switch m = strings.TrimSpace(m); {
			case m == "":
			case strings.EqualFold(m, "100-continue"):
				cont = true
			default:
				known = false
			}
		}
	}
	return cont, known
}

// ambiguousFraming reports whether a request's header had both
// Transfer-Encoding and Content-Length, or is HTTP/1.0 and had
// Transfer-Encoding. http.ReadRequest goes by the first in the one case
// and by Content-Length in the other, and drops the field it did not go
// by; a proxy in front may have gone by that one, and then what follows
// the body is a smuggled request, or a part of the body. RFC 9112,
// section 6.3: with both fields, the message "ought to be handled as an
// error"; section 6.1: HTTP/1.0 with Transfer-Encoding is to be treated
// "as if the framing is faulty", and faulty framing is answered 400 and
// the connection closed (section 6.3). So h1 refuses both, as nginx
// does; net/http serves them (and keeps the connection).
func ambiguousFraming(req *http.Request, wire wireHeader) bool {
	if len(req.TransferEncoding) > 0 {
		return wire.contentLength
	}
	return !req.ProtoAtLeast(1, 1) && wire.transferEncoding
}

// wireHeader is what a request's header said on the wire that
// http.ReadRequest does not tell.
type wireHeader struct {
	folded           bool // a line starting with a space or tab (obs-fold)
	contentLength    bool // a Content-Length field
	transferEncoding bool // a Transfer-Encoding field
	host             bool // a Host field
	hostValue        []byte
}

// scanHeader reads the field lines of the request that b starts with,
// split as net/textproto splits them (at LF, less a CR before it), up to
// the empty line; complete: that line is in b.
func scanHeader(b []byte) (w wireHeader, complete bool) {
	i := bytes.IndexByte(b, '\n') // the request line
	if i < 0 {
		return w, false
	}
	b = b[i+1:]
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return w, false
		}
		line := b[:i]
		b = b[i+1:]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			return w, true
		}
		switch line[0] {
		case ' ', '\t':
			w.folded = true
		case 'c', 'C':
			w.contentLength = w.contentLength || hasFieldName(line, "content-length")
		case 't', 'T':
			w.transferEncoding = w.transferEncoding || hasFieldName(line, "transfer-encoding")
		case 'h', 'H':
			if hasFieldName(line, "host") {
				// Trimmed as net/textproto trims a value.
				w.host, w.hostValue = true, bytes.Trim(line[len("host:"):], " \t\r\n")
			}
		}
	}
}

// hasFieldName reports whether line is a field line named name (lower
// case). The parser refused any space before the colon.
func hasFieldName(line []byte, name string) bool {
	return len(line) > len(name) && line[len(name)] == ':' && asciiEqualFold(line[:len(name)], name)
}

func asciiEqualFold(b []byte, lower string) bool {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// refuse answers a request that could not be read, unless the client just
// went away or was too slow, and the connection ends.
func (c *conn) refuse(err error) {
	status, reason := http.StatusBadRequest, err.Error()
	var re *requestError
	var ne net.Error
	var oe *net.OpError
	switch {
	case err == errTooLarge:
		status = http.StatusRequestHeaderFieldsTooLarge
	case errors.As(err, &re):
		status = re.status
	// Not any net.Error: the *url.Error of a bad request target is one.
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.As(err, &oe), errors.As(err, &ne) && ne.Timeout():
		return // nobody to answer, or too slow to deserve one
	// The parser's errors for a Transfer-Encoding other than chunked (its
	// unsupportedTEError), by their start: the rest quotes the client.
	case strings.HasPrefix(reason, "unsupported transfer encoding: "), strings.HasPrefix(reason, "too many transfer encodings: "):
		status = http.StatusNotImplemented
	}
	c.s.log().Debug("bad request", "remote", c.remote, "status", status, "err", err)
	// The body is the status text and nothing else: a parser error
	// quotes what the client sent, and an error page must never reflect
	// that (it would be script in a browser that renders it).
	b := c.scratch[:0]
	b = appendStatusLine(b, status)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"...)
	b = append(b, http.StatusText(status)...)
	c.scratch = b
	_, _ = c.bw.Write(b)
	_ = c.bw.Flush()
	if status == http.StatusRequestHeaderFieldsTooLarge {
		c.closeWriteAndWait()
	}
}

// closeWriteAndWait shuts the write side and waits a little before the
// close, so unread request bytes do not make the kernel reset the
// connection before the client has read the response.
func (c *conn) closeWriteAndWait() {
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.rwc.(closeWriter); ok {
		_ = cw.CloseWrite()
		time.Sleep(rstAvoidanceDelay)
	}
}

// handle serves one request and reports whether the connection goes on.
func (c *conn) handle(req *http.Request) bool {
	req.RemoteAddr = c.remote
	req.TLS = c.tls
	w := &c.w
	w.reset(req)
	var body *requestBody
	if req.Body != nil && req.Body != http.NoBody {
		cont, _ := expectation(req.Header["Expect"])
		body = &requestBody{rc: req.Body, c: c, expect: cont && req.ProtoAtLeast(1, 1)}
		w.body = body
		req.Body = body
		// Reading the body is not bounded here: the handler's own timeouts
		// (the proxy's send timeout) decide how long a client may take.
		c.setReadDeadline(time.Time{})
	}
	c.s.Handler.ServeHTTP(w, req)
	if w.hijacked {
		return false
	}
	if body != nil && !body.eof.Load() {
		// The handler may have left a goroutine reading the body (a
		// transport whose backend answered first); finishing waits for
		// that read, so it must end.
		c.boundBodyRead()
	}
	w.StopWatching()
	w.finish()
	keep := !w.closeAfter && c.werr == nil
	if body != nil {
		if !body.finish(keep) {
			keep = false
			if c.werr == nil {
				c.closeWriteAndWait()
			}
		}
	}
	w.req, w.body = nil, nil
	return keep
}

// boundBodyRead sets the read deadline for what is left of a body once the
// handler returned: the client gets as long to send it as an idle
// connection may wait, or less if the handler set an earlier deadline (a
// proxy's send timeout).
func (c *conn) boundBodyRead() {
	d := time.Now().Add(c.s.idleTimeout())
	if c.deadlineTouched.Load() {
		if h := c.handlerDeadline.Load(); h != 0 && h < d.UnixNano() {
			return // the handler's deadline stands
		}
	}
	c.setReadDeadline(d)
}

// requestBody is a request's body as the handler sees it. It sends
// "100 Continue" on the first read when the client asked for it; after the
// handler, a little of what is left is drained to keep the connection, and
// reads fail. A transport may read it from another goroutine: reads are
// serialized with finish, and the flags are atomic.
type requestBody struct {
	mu      sync.Mutex
	rc      io.ReadCloser
	c       *conn
	expect  bool // the client waits for 100 Continue before sending
	closed  bool
	sent100 atomic.Bool
	eof     atomic.Bool
	failed  atomic.Bool // a read failed before the end: the framing is lost
	n       atomic.Int64
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	// After the closed check: once the handler is done, the connection
	// and its writer may be another request's, or gone.
	if b.expect && b.sent100.CompareAndSwap(false, true) {
		b.c.w.writeContinue()
	}
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	switch {
	case err == io.EOF:
		b.eof.Store(true)
	case err != nil:
		b.failed.Store(true)
	}
	return n, err
}

// Close is a no-op for the handler: the server decides what happens to
// what is left once the handler returns.
func (b *requestBody) Close() error { return nil }

// undrainable reports, as the final response starts, whether what is left
// of the body cannot be drained afterwards: a read failed (a malformed
// chunk, a timeout), the client never got its 100 Continue (it may never
// send the body), or more than maxDrain bytes are declared to remain.
func (b *requestBody) undrainable(declared int64) bool {
	if b.eof.Load() {
		return false
	}
	if b.failed.Load() || b.expect && !b.sent100.Load() {
		return true
	}
	return declared >= 0 && declared-b.n.Load() > maxDrain
}

// drainEarly drains what the handler left of the body before the head of
// its response is written, so that the head can say whether the
// connection goes on (a chunked body's size is known only at its end):
// up to maxDrain bytes, arriving within headDrainWait (or the earlier
// deadline the handler or the server set). False: the body did not end
// so, and the connection is to close.
func (b *requestBody) drainEarly() bool {
	c := b.c
	d := time.Now().Add(headDrainWait)
	if !c.readDeadline.IsZero() && c.readDeadline.Before(d) {
		d = c.readDeadline
	}
	if c.deadlineTouched.Load() {
		if h := c.handlerDeadline.Load(); h != 0 && h < d.UnixNano() {
			d = time.Unix(0, h)
		}
	}
	// Before the lock: a read the handler left running elsewhere holds
	// it while it waits, and ends at this deadline.
	c.setReadDeadline(d)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.eof.Load() {
		return true
	}
	if b.closed || b.failed.Load() {
		return false
	}
	_, err := io.CopyN(io.Discard, b.rc, maxDrain+1)
	if err == io.EOF {
		b.eof.Store(true)
		return true
	}
	b.failed.Store(true) // over maxDrain, or the read failed: stop here
	return false
}

// finish drains up to maxDrain bytes of what the handler left, if the
// connection is to be kept, and stops further reads. False: the body was
// not read to its end, so the connection cannot carry another request.
func (b *requestBody) finish(keep bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.eof.Load() {
		return true
	}
	if !keep || (b.expect && !b.sent100.Load()) {
		return false
	}
	// Not rc.Close: on a body from http.ReadRequest it reads everything.
	// The client gets as long to send the rest as an idle connection
	// may wait (or what the handler set: a proxy's send timeout);
	// without a deadline, one that stops would hold the connection
	// forever.
	b.c.boundBodyRead()
	_, err := io.CopyN(io.Discard, b.rc, maxDrain+1)
	return err == io.EOF
}
