package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"portico.dev/portico/router"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// counts the proxy's allocations and the upstream transport's, not a
// recorder's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Flush()                      {}

// BenchmarkProxy is the hot path: match, pick an endpoint, forward a GET to
// a loopback backend over a pooled keep-alive connection, copy a small
// response, and (in "access-log") encode the log line; "listeners" picks
// the table by Host among a Gateway port's listeners first.
func BenchmarkProxy(b *testing.B) {
	body := []byte("hello, world\n")
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain"}
		_, _ = w.Write(body)
	}))
	defer be.Close()
	for _, bc := range []struct {
		name      string
		log       io.Writer
		lb        router.Balance
		listeners bool
		filters   *router.Filters
	}{
		{"round-robin", nil, router.RoundRobin, false, nil},
		{"least-request", nil, router.LeastRequest, false, nil},
		{"access-log", io.Discard, router.RoundRobin, false, nil},
		{"listeners", nil, router.RoundRobin, true, nil},
		// An ingress-nginx snippet's response edits: more_set_headers,
		// more_clear_headers "X-Debug-*", add_header.
		{"snippet-headers", nil, router.RoundRobin, false, &router.Filters{
			ResponseHeaders: router.HeaderEdits{Set: []router.HeaderField{{Name: "X-Frame-Options", Value: "DENY"}}},
			Snippet: &router.SnippetRules{ClearPrefixes: []string{"X-Debug-"},
				Add: []router.HeaderField{{Name: "X-Served-By", Value: "portico"}}}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			live := &router.Live{}
			table, _ := router.New([]router.Route{{
				Host: "bench.test", Path: "/", Type: router.Prefix, Source: "ns/ing",
				Options: &router.Options{Balance: bc.lb}, Filters: bc.filters,
				Backend: &router.Backend{ID: "ns/svc:80", Namespace: "ns", Service: "svc", Port: "80",
					Endpoints: []string{be.Listener.Addr().String()}},
			}}, nil)
			live.Store(table)
			tr := NewTransports(TransportConfig{})
			defer tr.CloseIdleConnections()
			cfg := Config{Table: live, Transports: tr, AccessLog: bc.log, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if bc.listeners {
				cfg.Listeners = &router.LiveListeners{}
				cfg.Listeners.Store(router.NewListeners([]router.Listener{
					{Hostname: "other.test", Table: table}, {Hostname: "*.test", Table: table}, {Hostname: "bench.test", Table: table},
				}))
			}
			p := New(cfg)
			req := httptest.NewRequest(http.MethodGet, "http://bench.test/api/v1/items", nil)
			req.RemoteAddr = "192.0.2.10:41234"
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.h)
				p.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkAccessLogLine is the encoder alone.
func BenchmarkAccessLogLine(b *testing.B) {
	p := New(Config{Table: &router.Live{}, AccessLog: io.Discard})
	c := p.newCall()
	req := httptest.NewRequest(http.MethodGet, "http://bench.test/api/v1/items", nil)
	c.in = req
	c.route = &router.Route{Source: "ns/ing", Backend: &router.Backend{Namespace: "ns", Service: "svc", Port: "80"}}
	c.ep = &endpoint{addr: "10.0.0.1:8080"}
	c.attempts = 1
	c.w.status, c.w.bytes = 200, 1234
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendAccessLine(buf[:0], c, c.finalStatus(), c.begin)
	}
}
