package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"portico.dev/portico/h1"
	"portico.dev/portico/router"
)

// fixture is a Proxy with one route (any host, prefix "/") to the given
// endpoints, served by h1 (as in Portico) so requests cross real sockets.
type fixture struct {
	proxy *Proxy
	srv   *h1Server
	log   *lockedBuffer
}

func newFixture(t testing.TB, opts *router.Options, cfg Config, endpoints ...string) *fixture {
	t.Helper()
	if opts == nil {
		opts = &router.Options{}
	}
	live := &router.Live{}
	table, _ := router.New([]router.Route{{
		Path: "/", Type: router.Prefix, Options: opts, Source: "ns/ing",
		Backend: &router.Backend{ID: "ns/svc:80", Namespace: "ns", Service: "svc", Port: "80", Endpoints: endpoints},
	}}, nil)
	live.Store(table)
	f := &fixture{log: &lockedBuffer{}}
	cfg.Table = live
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.AccessLog == nil {
		cfg.AccessLog = f.log
	}
	if cfg.Transports == nil && cfg.Transport == nil {
		cfg.Transports = NewTransports(TransportConfig{})
		t.Cleanup(cfg.Transports.CloseIdleConnections)
	}
	f.proxy = New(cfg)
	f.srv = newH1Server(t, f.proxy)
	return f
}

// h1Server serves a handler the way Portico does: h1's loop for HTTP/1.
type h1Server struct {
	URL    string
	client *http.Client
}

func (s *h1Server) Client() *http.Client { return s.client }

func newH1Server(t testing.TB, h http.Handler) *h1Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &h1.Server{Handler: h, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { _ = srv.Serve(ln) }()
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
	})
	return &h1Server{URL: "http://" + ln.Addr().String(), client: &http.Client{Transport: tr}}
}

func (f *fixture) do(t testing.TB, method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	return f.send(t, method, path, body, func(req *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
	})
}

// send sends one request through the fixture after applying the edits and
// returns the response with its body read.
func (f *fixture) send(t testing.TB, method, path string, body io.Reader, edits ...func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		e(req)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// backend is an httptest server on loopback that names itself.
func backend(t testing.TB, name string, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s, s.Listener.Addr().String()
}

// refusedAddr is a loopback address where nothing listens.
func refusedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}
