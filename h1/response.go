package h1

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// response is the http.ResponseWriter of one request; each connection
// reuses its own. The header is frozen when the handler calls WriteHeader,
// as in net/http: the status line and fields are serialised then, and
// later changes to the map (trailers aside) change nothing. They are
// written, with the framing fields, when the framing is known: at the
// first body write when the handler declared a Content-Length, at a flush,
// once more than smallBody bytes are written, or when the handler returns
// (then a small body gets its Content-Length).
type response struct {
	c      *conn
	req    *http.Request
	body   *requestBody // nil: no request body
	header http.Header

	status      int
	wroteHeader bool  // the handler chose its status
	committed   bool  // status line and header are written
	noBody      bool  // HEAD, 204, 304: no body bytes go out
	chunked     bool  // body framing: chunked
	contentLen  int64 // declared Content-Length; -1 none
	written     int64 // body bytes the handler wrote
	pending     []byte
	trailers    []string // declared in the Trailer header, for a chunked body
	closeAfter  bool
	hijacked    bool

	// Frozen at WriteHeader: the status line and fields other than the
	// framing ones, and what the framing depends on.
	head     []byte
	declared []string // Trailer
	connVals []string // Connection
	hasDate  bool

	wmu sync.Mutex // orders "100 Continue" with the final header
}

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
)

func (w *response) reset(req *http.Request) {
	w.req = req
	if w.header == nil {
		w.header = make(http.Header, 8)
	} else {
		clear(w.header)
	}
	w.status, w.wroteHeader, w.committed, w.noBody, w.chunked = 0, false, false, false, false
	w.contentLen, w.written, w.pending, w.trailers = -1, 0, w.pending[:0], nil
	w.closeAfter, w.hijacked = false, false
	w.head, w.declared, w.connVals, w.hasDate = w.head[:0], nil, nil, false
}

func (w *response) Header() http.Header { return w.header }

// WriteHeader records the status; 1xx other than 101 go out at once as
// interim responses.
func (w *response) WriteHeader(code int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		code = http.StatusBadGateway // net/http would panic; a proxy has a better answer
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	if !bodyAllowed(code) || w.req.Method == http.MethodHead {
		w.noBody = true
	}
	h := w.header
	if v := h["Content-Length"]; len(v) == 1 {
		// Digits only (RFC 9110, section 8.6): ParseInt would take a
		// "+5", sent as is and read differently by different clients.
		// Anything else is not sent.
		if n, err := strconv.ParseUint(v[0], 10, 63); err == nil {
			w.contentLen = int64(n)
		}
	}
	w.declared, w.connVals = h["Trailer"], h["Connection"]
	_, w.hasDate = h["Date"]
	b := appendStatusLine(w.head[:0], code)
	for k, vv := range h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue // framing is the server's business; see commit
		}
		if !validFieldName(k) || strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vv {
			b = appendField(b, k, v)
		}
	}
	w.head = b
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func (w *response) writeInterim(code int) {
	// RFC 9110, section 15.2: "A server MUST NOT send a 1xx response to
	// an HTTP/1.0 client"; it could take it for the final one.
	if w.committed || w.c.werr != nil || !w.req.ProtoAtLeast(1, 1) {
		return
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if code == http.StatusContinue && w.body != nil {
		w.body.sent100.Store(true)
	}
	w.writeInterimHead(code)
	w.c.flush()
}

// writeContinue answers a client waiting to send its body.
func (w *response) writeContinue() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.committed || w.c.bw == nil || w.c.werr != nil { // bw: nil once hijacked
		return
	}
	_, _ = w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	w.c.flush()
}

// commit decides the framing and writes the status line and header.
// final: the handler returned, so the body is all in pending.
func (w *response) commit(final bool) {
	req := w.req
	sendLength := false
	switch {
	case !bodyAllowed(w.status):
	case req.Method == http.MethodHead:
		// What a GET would get: the declared length, or, as net/http
		// does, the length of a small body the handler wrote in full.
		if w.contentLen < 0 && final && w.written > 0 && w.written <= smallBody && len(w.declared) == 0 {
			w.contentLen = w.written
		}
		sendLength = w.contentLen >= 0
	case len(w.declared) > 0 && req.ProtoAtLeast(1, 1):
		w.trailers = w.declared
		w.contentLen, w.chunked = -1, true
	case w.contentLen >= 0:
		sendLength = true
	case final:
		w.contentLen = int64(len(w.pending))
		sendLength = true
	case req.ProtoAtLeast(1, 1):
		w.chunked = true
	default:
		w.closeAfter = true // HTTP/1.0 without a length: the close ends the body
	}
	if w.body != nil && w.body.undrainable(req.ContentLength) {
		w.closeAfter = true
	}
	if req.Close || w.c.s.shutdown.Load() || hasToken(w.connVals, "close") {
		w.closeAfter = true
	}
	// The handler is done and left some of the body: drain it now, so the
	// head can say whether the connection goes on. Not while the handler
	// runs: it may still read the body (full duplex); the rest is drained
	// after the response, and if that fails the connection closes
	// unannounced, as the head is out.
	if final && !w.closeAfter && w.body != nil && !w.body.eof.Load() && !w.body.drainEarly() {
		w.closeAfter = true
	}
	if w.body != nil && w.body.expect {
		w.wmu.Lock()
		defer w.wmu.Unlock()
	}
	w.committed = true
	b := w.head
	if sendLength {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, w.contentLen, 10)
		b = append(b, "\r\n"...)
	}
	if w.chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	switch {
	case w.closeAfter:
		b = append(b, "Connection: close\r\n"...)
	case !req.ProtoAtLeast(1, 1):
		b = append(b, "Connection: keep-alive\r\n"...)
	default:
		for _, v := range w.connVals {
			b = appendField(b, "Connection", v)
		}
	}
	if !w.hasDate {
		b = append(b, "Date: "...)
		b = appendDate(b, time.Now())
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	w.head = b
	w.c.write(b)
}

// writeInterimHead writes a 1xx response's status line and the header
// map as it is now. Invalid field names are dropped and line breaks in
// values become spaces (as in the final header), so a handler cannot split
// the response.
func (w *response) writeInterimHead(code int) {
	c := w.c
	b := appendStatusLine(c.scratch[:0], code)
	for k, vv := range w.header {
		if !validFieldName(k) || k == "Content-Length" || k == "Transfer-Encoding" {
			continue // as net/http: an interim response has no body
		}
		for _, v := range vv {
			b = appendField(b, k, v)
		}
	}
	b = append(b, "\r\n"...)
	c.scratch = b
	c.write(b)
}

func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	start := len(b)
	b = append(b, strings.TrimSpace(v)...)
	for i := start; i < len(b); i++ {
		if b[i] == '\r' || b[i] == '\n' {
			b[i] = ' '
		}
	}
	return append(b, "\r\n"...)
}

func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if t := http.StatusText(code); t != "" {
		b = append(b, t...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}

// date caches the Date header's value for the current second.
type date struct {
	sec int64
	b   []byte
}

var dateCache atomic.Pointer[date]

func appendDate(b []byte, now time.Time) []byte {
	sec := now.Unix()
	d := dateCache.Load()
	if d == nil || d.sec != sec {
		d = &date{sec: sec, b: now.UTC().AppendFormat(nil, http.TimeFormat)}
		dateCache.Store(d)
	}
	return append(b, d.b...)
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if !bodyAllowed(w.status) {
			return 0, http.ErrBodyNotAllowed
		}
		w.written += int64(len(p)) // for a HEAD's Content-Length
		return len(p), nil         // HEAD: the body is not sent
	}
	if w.contentLen >= 0 && w.written+int64(len(p)) > w.contentLen {
		return 0, http.ErrContentLength
	}
	if w.c.werr != nil {
		return 0, w.c.werr
	}
	w.written += int64(len(p))
	if !w.committed {
		if w.contentLen < 0 && len(w.declared) == 0 && len(w.pending)+len(p) <= smallBody {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.start(false)
	}
	w.writeBody(p)
	if w.c.werr != nil {
		return 0, w.c.werr
	}
	return len(p), nil
}

func (w *response) writeBody(p []byte) {
	c := w.c
	if !w.chunked {
		c.write(p)
		return
	}
	if len(p) == 0 {
		return // an empty chunk would end the body
	}
	b := strconv.AppendInt(c.scratch[:0], int64(len(p)), 16)
	b = append(b, "\r\n"...)
	c.scratch = b
	c.write(b)
	c.write(p)
	c.write(crlf)
}

var crlf = []byte("\r\n")

// Flush sends the header (chunked, if no length was declared) and
// whatever is buffered.
func (w *response) Flush() { _ = w.FlushError() }

func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.start(false)
	w.c.flush()
	return w.c.werr
}

// start writes the status line and header, then what the handler wrote so
// far, unless that was done already. final: the handler returned.
func (w *response) start(final bool) {
	if w.committed {
		return
	}
	w.commit(final)
	if len(w.pending) > 0 {
		w.writeBody(w.pending)
		w.pending = w.pending[:0]
	}
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.start(true)
	switch {
	case w.chunked:
		w.writeTrailers()
	case w.contentLen >= 0 && !w.noBody && w.written < w.contentLen:
		w.closeAfter = true // short body: the framing is broken
	}
	w.c.flush()
	if cap(w.pending) > 64<<10 {
		w.pending = nil
	}
	if cap(w.head) > 64<<10 {
		w.head = nil
	}
}

// writeTrailers ends a chunked body with the trailers the handler set:
// those declared in the Trailer header, and those named with
// http.TrailerPrefix.
func (w *response) writeTrailers() {
	b := append(w.c.scratch[:0], "0\r\n"...)
	for _, decl := range w.trailers {
		for name := range strings.SplitSeq(decl, ",") {
			k := http.CanonicalHeaderKey(strings.TrimSpace(name))
			if !validFieldName(k) || k == "Content-Length" || k == "Transfer-Encoding" || k == "Trailer" {
				continue
			}
			for _, v := range w.header[k] {
				b = appendField(b, k, v)
			}
		}
	}
	for k, vv := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && validFieldName(name) {
			for _, v := range vv {
				b = appendField(b, name, v)
			}
		}
	}
	b = append(b, "\r\n"...)
	w.c.scratch = b
	w.c.write(b)
}

// Hijack hands the connection to the handler (WebSocket and other
// upgrades). Bytes the client sent after the request are in the reader.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c := w.c
	w.StopWatching() // the hijacker gets the reader
	// As net/http: a status the handler set goes out first (WebSocket
	// libraries write their 101 so), with what it wrote.
	if w.wroteHeader {
		w.start(false)
	}
	w.wmu.Lock() // against a 100 Continue from a body read elsewhere
	defer w.wmu.Unlock()
	if w.committed {
		c.flush()
	}
	if c.werr != nil {
		return nil, nil, c.werr
	}
	w.hijacked = true
	c.hijacked = true
	c.state.Store(stateHijacked)
	c.s.trackConn(c, false)
	_ = c.rwc.SetDeadline(time.Time{})
	rw := bufio.NewReadWriter(c.br, bufio.NewWriter(c.rwc))
	c.br, c.bw = nil, nil // the handler owns them now
	return c.rwc, rw, nil
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	w.c.handlerDeadline.Store(ns)
	w.c.deadlineTouched.Store(true)
	return w.c.rwc.SetReadDeadline(t)
}

func (w *response) SetWriteDeadline(t time.Time) error {
	w.c.writeDeadline = t
	return w.c.rwc.SetWriteDeadline(t)
}

// EnableFullDuplex: the request body stays readable while the response is
// written; this server never closes it early.
func (w *response) EnableFullDuplex() error { return nil }

// write buffers p for the client; the first error ends the connection.
func (c *conn) write(p []byte) {
	if c.werr != nil {
		return
	}
	if _, err := c.bw.Write(p); err != nil {
		c.werr = err
	}
}

func (c *conn) flush() {
	if c.werr != nil {
		return
	}
	if err := c.bw.Flush(); err != nil {
		c.werr = err
	}
}

func hasToken(vv []string, token string) bool {
	for _, v := range vv {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
