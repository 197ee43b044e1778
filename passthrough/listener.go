package passthrough

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Listener.
type Config struct {
	// Route reports whether a connection for a server name is spliced,
	// and to which endpoints ("ip:port"). A name passed through without
	// endpoints is closed: its TLS is the backend's, never Portico's.
	Route func(serverName string) (endpoints []string, passthrough bool)
	// HelloTimeout bounds reading the ClientHello (default 10s);
	// DialTimeout each connection attempt to an endpoint (default 5s);
	// IdleTimeout a spliced connection without bytes either way
	// (default 10m).
	HelloTimeout, DialTimeout, IdleTimeout time.Duration
	Log                                    *slog.Logger
	Metrics                                *Metrics // optional
}

// Listener accepts connections from an inner listener, reads each one's
// ClientHello, splices those Route names to an endpoint, and returns the
// others from Accept with the ClientHello replayed, for the TLS server.
// A slow client delays only itself: each connection is read on its own
// goroutine. Spliced connections are independent of later Route changes.
type Listener struct {
	ln      net.Listener
	cfg     Config
	conns   chan net.Conn
	done    chan struct{}
	closed  sync.Once
	started sync.Once // the accept loop starts with the first Accept
	err     atomic.Pointer[error]
}

// NewListener starts accepting from ln.
func NewListener(ln net.Listener, cfg Config) *Listener {
	if cfg.HelloTimeout <= 0 {
		cfg.HelloTimeout = 10 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Listener{ln: ln, cfg: cfg, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *Listener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.err.Store(&err)
				l.Close()
				return
			}
			// Anything else (EMFILE, ECONNABORTED, ...) passes: retried
			// with a growing pause, as h1 does.
			l.cfg.Log.Warn("passthrough: accept failed; retrying", "err", err)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-l.done:
				return
			}
			continue
		}
		backoff = 0
		go l.handle(c)
	}
}

// Accept returns the next connection that is not passed through. The
// first call starts accepting from the inner listener: until the server
// serves, connections wait in the kernel's backlog.
func (l *Listener) Accept() (net.Conn, error) {
	l.started.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		if e := l.err.Load(); e != nil {
			return nil, *e
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting; spliced connections go on until they end.
func (l *Listener) Close() error {
	var err error
	l.closed.Do(func() {
		close(l.done)
		err = l.ln.Close()
	})
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

func (l *Listener) handle(c net.Conn) {
	// A PROXY protocol header is read first (RemoteAddr reads it), so the
	// deadline below is not replaced by its reader's.
	_ = c.RemoteAddr()
	deadline := time.Now().Add(l.cfg.HelloTimeout)
	_ = c.SetReadDeadline(deadline)
	raw, sni, err := ReadClientHello(c)
	_ = c.SetReadDeadline(time.Time{})
	switch {
	case err == nil && sni != "":
		if eps, ok := l.cfg.Route(sni); ok {
			select {
			case <-l.done:
				_ = c.Close()
			default:
				l.splice(c, raw, sni, eps)
			}
			return
		}
	case err != nil && !errors.Is(err, ErrNotTLS) && !errors.Is(err, ErrBadHello) && !errors.Is(err, ErrTooLarge):
		_ = c.Close() // timed out or broke: nothing the TLS server could answer
		return
	}
	// The rest is the TLS server's to answer (a malformed hello gets its
	// alert): it reads on from the bytes read here. Unless the server
	// takes it within the ClientHello's time, it is dropped.
	pc := &prefixConn{Conn: c, prefix: raw}
	t := time.NewTimer(time.Until(deadline) + l.cfg.HelloTimeout)
	defer t.Stop()
	select {
	case l.conns <- pc:
	case <-l.done:
		_ = c.Close()
	case <-t.C:
		_ = c.Close()
	}
}

// splice connects c to one of eps (trying up to three) and copies both
// ways until both sides are done or nothing moves for IdleTimeout.
func (l *Listener) splice(c net.Conn, hello []byte, sni string, eps []string) {
	m := l.cfg.Metrics
	if len(eps) == 0 {
		m.closed("no_endpoint")
		_ = c.Close()
		return
	}
	var be net.Conn
	var err error
	d := net.Dialer{Timeout: l.cfg.DialTimeout}
	first := rand.IntN(len(eps))
	for i := range min(3, len(eps)) {
		addr := eps[(first+i)%len(eps)]
		if be, err = d.DialContext(context.Background(), "tcp", addr); err == nil {
			break
		}
		l.cfg.Log.Warn("passthrough: endpoint unreachable", "server_name", sni, "endpoint", addr, "err", err)
	}
	if be == nil {
		m.closed("dial_error")
		_ = c.Close()
		return
	}
	m.opened()
	_ = be.SetWriteDeadline(time.Now().Add(l.cfg.IdleTimeout))
	if _, err := be.Write(hello); err != nil {
		m.closed("backend_error")
		_ = be.Close()
		_ = c.Close()
		return
	}
	var last atomic.Int64 // unix nanoseconds of the last byte either way
	last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	reasons := make(chan string, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		reasons <- l.copy(be, c, &last, m.bytesIn(len(hello)))
	}()
	go func() {
		defer wg.Done()
		reasons <- l.copy(c, be, &last, m.bytesOut())
	}()
	wg.Wait()
	_ = c.Close()
	_ = be.Close()
	r1, r2 := <-reasons, <-reasons
	reason := r1
	if reason == "eof" {
		reason = r2
	}
	m.closed(reason)
}

// copy copies src to dst until src ends (then dst's write side is shut,
// so the peer sees the end too) or fails; it gives the reason. A read
// that times out while the other direction moved recently waits on.
func (l *Listener) copy(dst, src net.Conn, last *atomic.Int64, count func(int)) string {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		_ = src.SetReadDeadline(time.Now().Add(l.cfg.IdleTimeout))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			count(n)
			_ = dst.SetWriteDeadline(time.Now().Add(l.cfg.IdleTimeout))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				_ = src.Close()
				_ = dst.Close()
				return "error"
			}
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if time.Since(time.Unix(0, last.Load())) < l.cfg.IdleTimeout {
				continue // the other way is busy
			}
			_ = dst.Close()
			_ = src.Close()
			return "idle"
		}
		if errors.Is(err, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			} else {
				_ = dst.Close()
			}
			return "eof"
		}
		_ = dst.Close()
		_ = src.Close()
		return "error"
	}
}

// bufPool holds the copy buffers of spliced connections (two each).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// prefixConn replays the bytes read before the TLS server got it.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// Metrics are the passthrough counters; a nil *Metrics counts nothing.
type Metrics struct {
	conns  *prometheus.CounterVec
	closes *prometheus.CounterVec
	bytes  *prometheus.CounterVec
	active prometheus.Gauge
}

// NewMetrics registers the passthrough metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_passthrough_connections_total",
			Help: "TLS connections spliced to a backend by server name (ssl-passthrough), by result: opened, dial_error when no endpoint answered, no_endpoint when the backend had none.",
		}, []string{"result"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_passthrough_closed_total",
			Help: "Spliced connections ended, by reason: eof (both sides done), idle, error, backend_error, dial_error, no_endpoint.",
		}, []string{"reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_passthrough_bytes_total",
			Help: "Bytes spliced, by direction: in (client to backend), out (backend to client).",
		}, []string{"direction"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_passthrough_active_connections", Help: "Spliced connections open now.",
		}),
	}
	reg.MustRegister(m.conns, m.closes, m.bytes, m.active)
	return m
}

func (m *Metrics) opened() {
	if m != nil {
		m.conns.WithLabelValues("opened").Inc()
		m.active.Inc()
	}
}

func (m *Metrics) closed(reason string) {
	if m == nil {
		return
	}
	if reason == "dial_error" || reason == "no_endpoint" {
		m.conns.WithLabelValues(reason).Inc()
	} else {
		m.active.Dec()
	}
	m.closes.WithLabelValues(reason).Inc()
}

func (m *Metrics) bytesIn(hello int) func(int) {
	if m == nil {
		return func(int) {}
	}
	c := m.bytes.WithLabelValues("in")
	c.Add(float64(hello))
	return func(n int) { c.Add(float64(n)) }
}

func (m *Metrics) bytesOut() func(int) {
	if m == nil {
		return func(int) {}
	}
	c := m.bytes.WithLabelValues("out")
	return func(n int) { c.Add(float64(n)) }
}
