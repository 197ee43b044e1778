package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"portico.dev/portico/h1"
	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

// listenerTable is one listener's table: every path of any host to addr.
func listenerTable(t testing.TB, name, addr string) *router.Table {
	t.Helper()
	tbl, conflicts := router.New([]router.Route{{
		Path: "/", Type: router.Prefix, Source: "ns/" + name,
		Backend: &router.Backend{ID: "ns/" + name + ":80", Namespace: "ns", Service: name, Port: "80", Endpoints: []string{addr}},
	}}, nil, router.WildcardAnyDepth(), router.HostFallthrough())
	if len(conflicts) != 0 {
		t.Fatal(conflicts)
	}
	return tbl
}

// newListenersProxy is a proxy serving live listeners, behind h1.
func newListenersProxy(t testing.TB, live *router.LiveListeners, scheme string) *Proxy {
	t.Helper()
	tr := NewTransports(TransportConfig{})
	t.Cleanup(tr.CloseIdleConnections)
	return New(Config{Listeners: live, Transports: tr, Scheme: scheme, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// TestListenersThroughTheProxy: on one port, each request goes to the
// listener its Host selects (exact, longest wildcard, hostname-less), a
// Host no listener takes gets a fixed 404, and a swap of the listeners is
// seen by the next request.
func TestListenersThroughTheProxy(t *testing.T) {
	t.Parallel()
	_, a := backend(t, "a", nil)
	_, w := backend(t, "w", nil)
	_, any := backend(t, "any", nil)
	live := &router.LiveListeners{}
	live.Store(router.NewListeners([]router.Listener{
		{Hostname: "a.test", Table: listenerTable(t, "a", a)},
		{Hostname: "*.wild.test", Table: listenerTable(t, "w", w)},
		{Hostname: "", Table: listenerTable(t, "any", any)},
	}))
	srv := newH1Server(t, newListenersProxy(t, live, "http"))
	f := &fixture{srv: srv}
	for _, tc := range []struct{ host, want string }{
		{"a.test", "a"}, {"A.TEST:80", "a"}, {"x.y.wild.test", "w"}, {"b.test", "any"}, {"wild.test", "any"},
	} {
		resp, _ := f.doWith(t, "GET", "/x", func(r *http.Request) { r.Host = tc.host })
		if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != tc.want {
			t.Errorf("Host %q: %s from %q, want 200 from %q", tc.host, resp.Status, resp.Header.Get("X-Backend"), tc.want)
		}
	}

	// Without the hostname-less listener, other hosts are nobody's.
	live.Store(router.NewListeners([]router.Listener{{Hostname: "a.test", Table: listenerTable(t, "a", a)}}))
	for _, host := range []string{"b.test", "x.wild.test", "evil-<script>.test"} {
		resp, body := f.doWith(t, "GET", "/x", func(r *http.Request) { r.Host = host })
		if resp.StatusCode != 404 || body != "404 no route\n" {
			t.Errorf("Host %q after the swap: %s %q, want 404 %q", host, resp.Status, body, "404 no route\n")
		}
	}
	if resp, _ := f.doWith(t, "GET", "/x", func(r *http.Request) { r.Host = "a.test" }); resp.Header.Get("X-Backend") != "a" {
		t.Errorf("a.test after the swap: %s from %q", resp.Status, resp.Header.Get("X-Backend"))
	}
}

// tlsListenersServer serves live listeners over TLS (HTTP/1.1 and, by
// ALPN, HTTP/2) with one certificate for every test name.
func tlsListenersServer(t *testing.T, live *router.LiveListeners) string {
	t.Helper()
	now := time.Now()
	certPEM, keyPEM, err := tlsstore.SelfSigned([]string{"a.test", "b.test", "*.wild.test"}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	p := newListenersProxy(t, live, "https")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &h1.Server{Handler: p, HTTP2: &http.Server{Handler: p}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestMisdirectedRequest: on TLS, a Host that selects another listener
// than the server name gets 421 with a fixed text, over HTTP/1.1 and over
// a reused HTTP/2 connection (connection coalescing); the same listener by
// other names, or no server name at all, is served.
func TestMisdirectedRequest(t *testing.T) {
	t.Parallel()
	_, a := backend(t, "a", nil)
	_, b := backend(t, "b", nil)
	_, w := backend(t, "w", nil)
	live := &router.LiveListeners{}
	live.Store(router.NewListeners([]router.Listener{
		{Hostname: "a.test", Table: listenerTable(t, "a", a)},
		{Hostname: "b.test", Table: listenerTable(t, "b", b)},
		{Hostname: "*.wild.test", Table: listenerTable(t, "w", w)},
	}))
	addr := tlsListenersServer(t, live)

	tests := []struct {
		sni, host  string
		status     int
		backend    string
		body       string
		http2Check bool
	}{
		{"a.test", "a.test", 200, "a", "", true},
		{"a.test", "A.Test.:443", 200, "a", "", false},
		{"a.test", "b.test", 421, "", "421 misdirected request\n", true},
		{"b.test", "a.test", 421, "", "421 misdirected request\n", true},
		{"x.wild.test", "y.z.wild.test", 200, "w", "", true},
		{"x.wild.test", "b.test", 421, "", "421 misdirected request\n", true},
		{"nobody.test", "a.test", 421, "", "421 misdirected request\n", false},
		{"", "b.test", 200, "b", "", false}, // no server name: nothing to compare
		{"a.test", "nobody.test", 404, "", "404 no route\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.sni+"/"+tc.host, func(t *testing.T) {
			status, be, body := rawTLSGet(t, addr, tc.sni, tc.host)
			if status != tc.status || be != tc.backend || (tc.body != "" && body != tc.body) {
				t.Errorf("HTTP/1.1 SNI %q Host %q: %d from %q %q, want %d from %q %q", tc.sni, tc.host, status, be, body, tc.status, tc.backend, tc.body)
			}
			if !tc.http2Check {
				return
			}
			tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true}}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("GET", "https://"+addr+"/x", nil)
			req.Host = tc.host
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.StatusCode != tc.status || resp.Header.Get("X-Backend") != tc.backend ||
				(tc.body != "" && string(got) != tc.body) {
				t.Errorf("%s SNI %q Host %q: %s from %q %q, want HTTP/2 %d from %q %q", resp.Proto, tc.sni, tc.host,
					resp.Status, resp.Header.Get("X-Backend"), got, tc.status, tc.backend, tc.body)
			}
		})
	}
}

// rawTLSGet sends one HTTP/1.1 GET over a TLS connection made for sni ("":
// none is sent) and returns the status, the X-Backend header and the body.
func rawTLSGet(t *testing.T, addr, sni, host string) (int, string, string) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Backend"), string(b)
}

// A proxy serving listeners keeps balancer state for the backends of all
// of them when it prunes after a swap, and drops what none names.
func TestListenersPruneKeepsEveryListenersBackends(t *testing.T) {
	_, a := backend(t, "a", nil)
	_, b := backend(t, "b", nil)
	_, gone := backend(t, "gone", nil)
	live := &router.LiveListeners{}
	live.Store(router.NewListeners([]router.Listener{
		{Hostname: "a.test", Table: listenerTable(t, "a", a)},
		{Hostname: "b.test", Table: listenerTable(t, "b", b)},
		{Hostname: "gone.test", Table: listenerTable(t, "gone", gone)},
	}))
	p := newListenersProxy(t, live, "http")
	f := &fixture{proxy: p, srv: newH1Server(t, p)}
	get := func(host string) {
		t.Helper()
		if resp, _ := f.doWith(t, "GET", "/", func(r *http.Request) { r.Host = host }); resp.StatusCode != 200 {
			t.Fatalf("%s: %s", host, resp.Status)
		}
	}
	get("a.test")
	get("b.test")
	get("gone.test")
	live.Store(router.NewListeners([]router.Listener{
		{Hostname: "a.test", Table: listenerTable(t, "a", a)},
		{Hostname: "b.test", Table: listenerTable(t, "b", b)},
	}))
	p.lastPrune.Store(-int64(prunePeriod)) // as if the last prune were long ago
	for i := 0; ; i++ {
		get("a.test")
		if _, ok := p.balancer.endpoints.Load(gone); !ok && !p.pruning.Load() {
			break
		}
		if i == 200 {
			t.Fatal("the removed listener's endpoint was never pruned")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, addr := range []string{a, b} {
		if _, ok := p.balancer.endpoints.Load(addr); !ok {
			t.Errorf("endpoint %s of a live listener was pruned", addr)
		}
	}
}
