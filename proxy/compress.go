package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"portico.dev/portico/router"
)

// Response compression (router.Compress, ingress-nginx use-gzip). It
// happens in ModifyResponse: the upstream body is replaced by a reader
// that compresses it, so ReverseProxy's copy loop, its flushing of
// responses without a length and the upstream error tracking all stay as
// they are. Each upstream read is compressed and flushed at once, so a
// streamed response (server-sent events, long polling) is never held back
// waiting for more input.

// encoding is a content coding the proxy can produce.
type encoding uint8

const (
	encIdentity encoding = iota
	encGzip
	encZstd
)

// compress replaces resp's body by a compressed one when the response and
// the request allow it, as nginx's gzip filter decides: status 200, 403 or
// 404; not HEAD; no Content-Encoding yet; no Content-Range; a type of
// cp.Types; not shorter than cp.MinLength when the length is known; no
// Cache-Control: no-transform. Vary: Accept-Encoding is added to every
// such response, compressed or not (gzip_vary on), so caches keep the two
// apart.
func (c *call) compress(cp *router.Compress, resp *http.Response) {
	if c.in.Method == http.MethodHead || resp.ContentLength == 0 {
		return
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusForbidden, http.StatusNotFound:
	default:
		return
	}
	if c.proto == router.GRPC || c.proto == router.GRPCS {
		return // gRPC has its own compression, and trailers
	}
	h := resp.Header
	if len(h["Content-Encoding"]) > 0 || len(h["Content-Range"]) > 0 {
		return
	}
	if resp.ContentLength > 0 && resp.ContentLength < cp.MinLength {
		return
	}
	if ct := h["Content-Type"]; len(ct) == 0 || !cp.Compressible(ct[0]) {
		return
	}
	if hasToken(h["Cache-Control"], "no-transform") {
		return
	}
	addVary(h)
	enc := negotiate(c.in.Header["Accept-Encoding"], cp.Zstd)
	if enc == encIdentity {
		return
	}
	if !liveEncoders.TryAcquire() {
		return // at the bound: this response goes uncompressed (Vary is set)
	}
	if enc == encZstd {
		h["Content-Encoding"] = []string{"zstd"}
	} else {
		h["Content-Encoding"] = []string{"gzip"}
	}
	delete(h, "Content-Length")
	delete(h, "Accept-Ranges") // ranges of the identity body no longer apply
	resp.ContentLength = -1
	if et := h["Etag"]; len(et) > 0 && strings.HasPrefix(et[0], `"`) {
		// Not the same bytes any more: a strong validator becomes weak,
		// as nginx does.
		h["Etag"] = []string{"W/" + et[0]}
	}
	c.cb.start(resp.Body, enc, cp.Level)
	c.cb.held = true // released with the encoder, in Close
	resp.Body = &c.cb
}

// addVary adds Accept-Encoding to Vary unless it is there already.
func addVary(h http.Header) {
	v := h["Vary"]
	if hasToken(v, "Accept-Encoding") || hasToken(v, "*") {
		return
	}
	h["Vary"] = append(v, "Accept-Encoding")
}

// hasToken reports whether a comma-separated header lists token
// (case-insensitive; parameters, as in no-transform's case none, ignored).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if name, _, _ := strings.Cut(elem, "="); strings.EqualFold(trimOWS(name), token) {
				return true
			}
		}
	}
	return false
}

// negotiate picks the coding for a request's Accept-Encoding values
// (RFC 9110 §12.5.3): the highest q-value among gzip (x-gzip) and, when
// zstd is offered, zstd; "*" stands for every coding not listed; q=0 is
// "not acceptable". On a tie zstd wins. Nothing acceptable, or no header:
// identity (which is sent even when the client refuses it, as nginx does).
func negotiate(values []string, zstd bool) encoding {
	qGzip, qZstd, qAny := -1, -1, -1 // thousandths; -1: not listed
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(elem, ";")
			q := qValue(params)
			switch name = trimOWS(name); {
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				qGzip = max(qGzip, q)
			case strings.EqualFold(name, "zstd"):
				qZstd = max(qZstd, q)
			case name == "*":
				qAny = max(qAny, q)
			}
		}
	}
	if qGzip < 0 {
		qGzip = qAny
	}
	if qZstd < 0 {
		qZstd = qAny
	}
	switch {
	case zstd && qZstd > 0 && qZstd >= qGzip:
		return encZstd
	case qGzip > 0:
		return encGzip
	}
	return encIdentity
}

// qValue reads the q parameter of an Accept-Encoding element in
// thousandths: 1000 when there is none, 0 when it is malformed (a coding
// the client may not want is not used).
func qValue(params string) int {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, val, _ := strings.Cut(p, "=")
		if !strings.EqualFold(trimOWS(k), "q") {
			continue
		}
		val = trimOWS(val)
		if val == "" || len(val) > 5 || (val[0] != '0' && val[0] != '1') {
			return 0
		}
		q := int(val[0]-'0') * 1000
		if len(val) > 1 {
			if val[1] != '.' {
				return 0
			}
			scale := 100
			for i := 2; i < len(val); i++ {
				d := val[i]
				if d < '0' || d > '9' {
					return 0
				}
				q += int(d-'0') * scale
				scale /= 10
			}
		}
		return min(q, 1000)
	}
	return 1000
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// encoder is what compressBody needs of gzip.Writer and zstd.Encoder.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(io.Writer)
}

type zstdEncoder struct{ *zstd.Encoder }

func (z zstdEncoder) Reset(w io.Writer) { z.Encoder.Reset(w) }

// liveEncoders bounds the responses being compressed at once: an encoder
// holds about 0.8–1.4 MiB (gzip) or 1.5–2.6 MiB (zstd) for as long as its
// response streams, and slow clients or long-lived streams must not pin
// memory without bound. Past it, responses go uncompressed.
var liveEncoders = semaphore{n: maxLiveEncoders}

const maxLiveEncoders = 256

// semaphore is a counting semaphore that never waits.
type semaphore struct {
	n    int64
	used atomic.Int64
}

func (s *semaphore) TryAcquire() bool {
	if s.used.Add(1) > s.n {
		s.used.Add(-1)
		return false
	}
	return true
}

func (s *semaphore) Release() { s.used.Add(-1) }

// Encoders are pooled by coding and level: building one costs far more
// than a response (zstd's tables, gzip's window).
var (
	gzipPools [gzip.BestCompression + 1]sync.Pool // by level
	zstdPools [2]sync.Pool                        // fastest, default
)

func getEncoder(enc encoding, level int, w io.Writer) (encoder, *sync.Pool) {
	if enc == encZstd {
		i, zl := 0, zstd.SpeedFastest
		if level > 3 {
			i, zl = 1, zstd.SpeedDefault
		}
		pool := &zstdPools[i]
		if e, ok := pool.Get().(zstdEncoder); ok {
			e.Reset(w)
			return e, pool
		}
		// Errors only come from invalid options.
		z, _ := zstd.NewWriter(w, zstd.WithEncoderLevel(zl), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
		return zstdEncoder{z}, pool
	}
	level = min(max(level, gzip.BestSpeed), gzip.BestCompression)
	pool := &gzipPools[level]
	if e, ok := pool.Get().(*gzip.Writer); ok {
		e.Reset(w)
		return e, pool
	}
	g, _ := gzip.NewWriterLevel(w, level) // level is valid
	return g, pool
}

// compressBody is an upstream body read compressed. It lives in the
// pooled call, so its buffer is reused from one response to the next.
type compressBody struct {
	src  io.ReadCloser
	enc  encoder
	pool *sync.Pool // where enc goes back
	held bool       // a liveEncoders slot is taken for it
	out  bytes.Buffer
	err  error // set once src ended (io.EOF) or failed
}

func (b *compressBody) start(src io.ReadCloser, enc encoding, level int) {
	b.src, b.err = src, nil
	b.out.Reset()
	b.enc, b.pool = getEncoder(enc, level, &b.out)
}

// Read reads from upstream into p, compresses what came into out and
// returns out's bytes, flushed: a read never waits for more input than
// one upstream read.
func (b *compressBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for b.out.Len() == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if b.enc == nil {
			return 0, io.ErrClosedPipe
		}
		n, err := b.src.Read(p)
		if n > 0 {
			if _, werr := b.enc.Write(p[:n]); werr != nil {
				b.err = werr
				continue
			}
		}
		switch {
		case err == io.EOF:
			if cerr := b.enc.Close(); cerr != nil {
				err = cerr
			}
			b.err = err
		case err != nil:
			b.err = err // the compressed stream stays unfinished: the client sees a broken body
		case n > 0:
			if ferr := b.enc.Flush(); ferr != nil {
				b.err = ferr
			}
		}
	}
	return b.out.Read(p)
}

// Close closes upstream and returns the encoder to its pool.
func (b *compressBody) Close() error {
	if b.src == nil {
		return nil
	}
	err := b.src.Close()
	b.enc.Reset(io.Discard) // drop the reference to out
	b.pool.Put(b.enc)
	if b.held {
		liveEncoders.Release()
		b.held = false
	}
	b.enc, b.pool, b.src = nil, nil, nil
	if b.out.Cap() > 64<<10 {
		b.out = bytes.Buffer{} // do not keep a large response's buffer
	}
	b.out.Reset()
	return err
}
