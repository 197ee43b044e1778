package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testServer is a Server on a loopback listener, closed when the test ends.
type testServer struct {
	*Server
	addr   string
	served chan error // what Serve returned
	logs   *logRecorder
}

// startServer serves h on 127.0.0.1; configure adjusts the Server before
// it starts.
func startServer(t testing.TB, h http.Handler, configure ...func(*Server)) *testServer {
	t.Helper()
	logs := &logRecorder{}
	s := &Server{Handler: h, Log: slog.New(logs)}
	for _, f := range configure {
		f(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, addr: ln.Addr().String(), served: make(chan error, 1), logs: logs}
	go func() { ts.served <- s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return ts
}

// connCount is how many connections the server tracks.
func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// waitNoConns waits until the server tracks no connection: their
// goroutines have finished with them.
func waitNoConns(t testing.TB, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.connCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still tracked", s.connCount())
		}
		time.Sleep(time.Millisecond)
	}
}

// client is a raw connection that writes hand-made requests and reads
// responses exactly as they were sent.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// testDeadline bounds every wait of a test connection.
const testDeadline = 10 * time.Second

func (ts *testServer) dial(t testing.TB) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", ts.addr, testDeadline)
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, c)
}

func newClient(t testing.TB, c net.Conn) *client {
	_ = c.SetDeadline(time.Now().Add(testDeadline))
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, c: c, br: bufio.NewReaderSize(c, 64<<10)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// wireResponse is one response as read by http.ReadResponse, with its body
// and its header as it was on the wire (ReadResponse removes
// Transfer-Encoding and may add to it).
type wireResponse struct {
	*http.Response
	body string
	wire http.Header
}

// read reads the next response to a request with the given method, and
// its whole body.
func (c *client) read(method string) *wireResponse {
	c.t.Helper()
	r, err := c.tryRead(method)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

func (c *client) tryRead(method string) (*wireResponse, error) {
	wire, err := c.peekHeader()
	if err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &wireResponse{Response: resp, body: string(b), wire: wire}, nil
}

// peekHeader parses the next response's header without consuming it.
func (c *client) peekHeader() (http.Header, error) {
	var head []byte
	for n := 1; ; n++ {
		b, err := c.br.Peek(n)
		if err != nil {
			return nil, err
		}
		if bytes.HasSuffix(b, []byte("\r\n\r\n")) {
			head = b
			break
		}
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, err
	}
	h, err := tp.ReadMIMEHeader()
	return http.Header(h), err
}

// expectClosed fails unless the server closes the connection with no more
// bytes sent.
func (c *client) expectClosed() {
	c.t.Helper()
	if err := c.closed(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) closed() error {
	b, err := c.br.ReadByte()
	switch {
	case err == nil:
		rest, _ := c.br.Peek(c.br.Buffered())
		return errors.New("connection open; unexpected bytes: " + string(append([]byte{b}, rest...)))
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return nil
	default:
		return errors.New("connection not closed: " + err.Error())
	}
}

// expectOpen sends a GET and checks the connection still serves it.
func (c *client) expectOpen() {
	c.t.Helper()
	c.send("GET /alive HTTP/1.1\r\nHost: x\r\n\r\n")
	r := c.read("GET")
	if r.StatusCode != http.StatusOK || r.body != "alive" {
		c.t.Fatalf("request on kept connection: %d %q", r.StatusCode, r.body)
	}
}

// withAlive answers /alive with "alive", for expectOpen, and passes other
// requests to h.
func withAlive(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/alive" {
			_, _ = io.WriteString(w, "alive")
			return
		}
		h(w, r)
	})
}

// logRecorder is a slog.Handler that keeps what is logged.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

// atLeast returns the messages logged at level or above.
func (l *logRecorder) atLeast(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var msgs []string
	for _, r := range l.recs {
		if r.Level >= level {
			msgs = append(msgs, r.Message)
		}
	}
	return msgs
}

// recorder keeps what a handler saw, for handlers running on the server's
// goroutines.
type recorder struct {
	mu    sync.Mutex
	items []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, s)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.items...)
}

func (r *recorder) String() string { return strings.Join(r.get(), ",") }
