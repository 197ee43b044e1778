package proxy

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// responseWriter records what was answered, for the access log. It unwraps
// to the server's writer, so http.ResponseController (which ReverseProxy
// uses to flush and to hijack for upgrades) reaches the real one.
type responseWriter struct {
	rw     http.ResponseWriter
	status int
	bytes  int64
	// own are the headers Portico put on the answer before the exchange
	// (HSTS, the affinity and auth cookies), kept by keepOwn: after each
	// 1xx answer ReverseProxy clears the header map, and restoreOwn puts
	// them back. interim says a 1xx was written.
	own     [2][]string
	interim bool
}

// ownHeaders are the names responseWriter.own keeps.
var ownHeaders = [2]string{"Strict-Transport-Security", "Set-Cookie"}

func (w *responseWriter) keepOwn() {
	h := w.rw.Header()
	for i, k := range ownHeaders {
		w.own[i] = h[k]
	}
}

// restoreOwn puts back what a 1xx answer cleared, unless set again since.
func (w *responseWriter) restoreOwn() {
	if !w.interim {
		return
	}
	h := w.rw.Header()
	for i, k := range ownHeaders {
		if _, set := h[k]; !set && w.own[i] != nil {
			h[k] = w.own[i]
		}
	}
}

func (w *responseWriter) Header() http.Header { return w.rw.Header() }

func (w *responseWriter) WriteHeader(code int) {
	// 1xx other than 101 are interim answers; the final one comes later.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	} else if code < 200 && code != http.StatusSwitchingProtocols {
		w.interim = true
	}
	w.rw.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.rw.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.rw }

// accessLog writes one JSON object per line. Lines are built by appending
// into pooled buffers and written with a single Write each, so concurrent
// requests never interleave and a request costs no allocation here.
type accessLog struct {
	out  io.Writer
	bufs sync.Pool // *[]byte
}

func newAccessLog(out io.Writer) *accessLog {
	return &accessLog{out: out, bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

func (l *accessLog) write(c *call, status int, now time.Time) {
	bp := l.bufs.Get().(*[]byte)
	b := appendAccessLine((*bp)[:0], c, status, now)
	_, _ = l.out.Write(b) // a log that cannot be written must not fail requests
	if cap(b) <= 64<<10 {
		*bp = b
		l.bufs.Put(bp)
	}
}

// appendAccessLine encodes c as the access log's JSON object and a newline.
// Fields (documented in docs/dataplane.md): time, client_ip, method, host,
// path, proto, status, bytes, duration (seconds), upstream, upstream_duration
// (seconds, response headers of the last attempt), attempts, namespace,
// ingress, service.
func appendAccessLine(b []byte, c *call, status int, now time.Time) []byte {
	r := c.in
	b = append(b, `{"time":"`...)
	b = now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","client_ip":`...)
	b = appendJSONString(b, c.p.cfg.Forwarded.clientIP(r))
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, r.Host)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.URL.Path)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, r.Proto)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, c.w.bytes, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendFloat(b, now.Sub(c.begin).Seconds(), 'f', 6, 64)
	if c.attempts > 0 {
		b = append(b, `,"upstream":`...)
		b = appendJSONString(b, c.ep.addr)
		b = append(b, `,"upstream_duration":`...)
		b = strconv.AppendFloat(b, c.upstreamTime.Seconds(), 'f', 6, 64)
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(c.attempts), 10)
	}
	if rt, be := c.route, c.backend; rt != nil && be != nil {
		b = append(b, `,"namespace":`...)
		b = appendJSONString(b, be.Namespace)
		b = append(b, `,"ingress":`...)
		b = appendJSONString(b, rt.Source)
		b = append(b, `,"service":"`...)
		b = appendJSONBody(b, be.Service)
		b = append(b, ':')
		b = appendJSONBody(b, be.Port)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, so a line is always valid JSON whatever a client sent.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONBody(b, s)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

func appendJSONBody(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// clientIP is the address the access log reports: the peer, or the first
// X-Forwarded-For entry when the peer is a trusted proxy. No allocation:
// both are substrings of what the request already holds.
func (f *Forwarded) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(f.Trusted) == 0 {
		return host
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !f.trusted(ip.Unmap()) {
		return host
	}
	return firstXFF(r.Header["X-Forwarded-For"], host)
}
