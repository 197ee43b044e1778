package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"portico.dev/portico/gateway"
	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

// gwFixture is a gateway port manager as run.go builds it, with its log.
type gwFixture struct {
	gw  *gatewayPorts
	log *syncBuffer
}

func newGWFixture(t *testing.T, flags dataplaneFlags) *gwFixture {
	t.Helper()
	store, err := tlsstore.New(tlsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, nil))
	dp := newDataplane(&flags, &router.Live{}, log, nil)
	t.Cleanup(dp.transports.CloseIdleConnections)
	f := &gwFixture{log: buf, gw: newGatewayPorts(gatewayPortsConfig{
		dp: dp, readHeaderTimeout: 5 * time.Second, tlsConfig: store.TLSConfig, grace: 5 * time.Second, log: log,
	})}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.gw.Shutdown(ctx)
	})
	return f
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr is a free port on an address of 127.0.0.0/8 (Linux answers on
// all of it on loopback) that no other test uses.
func freeAddr(t *testing.T) netip.AddrPort {
	t.Helper()
	for range 20 {
		a := netip.AddrFrom4([4]byte{127, byte(64 + rand.IntN(190)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
		ln, err := net.Listen("tcp", netip.AddrPortFrom(a, 0).String())
		if err != nil {
			continue
		}
		ap := netip.MustParseAddrPort(ln.Addr().String())
		ln.Close()
		return ap
	}
	t.Fatal("no free loopback address")
	return netip.AddrPort{}
}

// gate holds a backend's requests to /slow until released.
type gate struct {
	arrived chan struct{} // one value per /slow request that reached the backend
	release chan struct{}
}

func newGate() *gate { return &gate{arrived: make(chan struct{}, 8), release: make(chan struct{})} }

// wait returns once a /slow request reached the backend (at most 10 s).
func (g *gate) wait(t *testing.T) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the backend")
	}
}

// gwBackend is a loopback backend that names itself in X-Backend and
// echoes the forwarded headers it saw; with a gate, requests to /slow wait
// for it (at most 10 s).
func gwBackend(t *testing.T, name string, g *gate) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-Seen-Proto", r.Header.Get("X-Forwarded-Proto"))
		w.Header().Set("X-Seen-For", r.Header.Get("X-Forwarded-For"))
		if r.URL.Path == "/slow" && g != nil {
			g.arrived <- struct{}{}
			select {
			case <-g.release:
			case <-time.After(10 * time.Second):
			}
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// gwTable routes every path of the listener's hosts to addr, as the
// translator builds a listener's table.
func gwTable(t *testing.T, name, addr string, extra ...router.Route) *router.Table {
	t.Helper()
	routes := append([]router.Route{{Path: "/", Type: router.Prefix, Source: "ns/" + name,
		Backend: &router.Backend{ID: "ns/" + name + ":80", Namespace: "ns", Service: name, Port: "80", Endpoints: []string{addr}}}}, extra...)
	tbl, conflicts := router.New(routes, nil, router.WildcardAnyDepth(), router.HostFallthrough())
	if len(conflicts) != 0 {
		t.Fatal(conflicts)
	}
	return tbl
}

func httpPort(addr netip.AddrPort, ls ...gateway.Listener) gateway.Port {
	return gateway.Port{Addr: addr, Protocol: gateway.HTTP, Listeners: ls}
}

// get sends GET path with Host host to addr on a new connection.
func get(t *testing.T, addr netip.AddrPort, host, path string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	return roundTrip(t, c, bufio.NewReader(c), host, path)
}

// getAsync is get for another goroutine than the test's: it answers
// "status backend body close=bool", or the error.
func getAsync(addr netip.AddrPort, host, path string) string {
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		return err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s %s %s close=%v", resp.Status, resp.Header.Get("X-Backend"), b, resp.Close)
}

// roundTrip sends one request on c and reads its response.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, host, path string) (*http.Response, string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func wantBackend(t *testing.T, resp *http.Response, want string) {
	t.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != want {
		t.Errorf("%s from %q, want 200 from %q", resp.Status, resp.Header.Get("X-Backend"), want)
	}
}

// refused waits (at most 5 s) until nothing accepts on addr.
func refused(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err != nil {
			return
		}
		c.Close()
		if i == 100 {
			t.Fatalf("%s still accepts connections", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGatewayPortsServeAndSwap: two ports on their own addresses route by
// their own listeners; a new Apply swaps a port's tables for the next
// request, also on a connection opened before, while a request in flight
// finishes on the old table.
func TestGatewayPortsServeAndSwap(t *testing.T) {
	t.Parallel()
	f := newGWFixture(t, dataplaneFlags{})
	slow := newGate()
	a, b, c := gwBackend(t, "a", slow), gwBackend(t, "b", nil), gwBackend(t, "c", nil)
	p1, p2 := freeAddr(t), freeAddr(t)
	f.gw.Apply([]gateway.Port{
		httpPort(p1, gateway.Listener{Hostname: "a.test", Table: gwTable(t, "a", a)}, gateway.Listener{Table: gwTable(t, "b", b)}),
		httpPort(p2, gateway.Listener{Hostname: "a.test", Table: gwTable(t, "c", c)}),
	})
	if errs := f.gw.Errors(); len(errs) != 0 {
		t.Fatal(errs)
	}
	resp, _ := get(t, p1, "a.test", "/")
	wantBackend(t, resp, "a")
	resp, _ = get(t, p1, "other.test", "/")
	wantBackend(t, resp, "b")
	resp, _ = get(t, p2, "a.test", "/")
	wantBackend(t, resp, "c")
	if resp, body := get(t, p2, "other.test", "/"); resp.StatusCode != 404 || body != "404 no route\n" {
		t.Errorf("p2, a host of no listener: %s %q", resp.Status, body)
	}

	// A request in flight on p1, and an idle keep-alive connection.
	inflight := make(chan string, 1)
	go func() { inflight <- getAsync(p1, "a.test", "/slow") }()
	slow.wait(t)
	kc, err := net.DialTimeout("tcp", p1.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	kbr := bufio.NewReader(kc)
	resp, _ = roundTrip(t, kc, kbr, "a.test", "/")
	wantBackend(t, resp, "a")

	f.gw.Apply([]gateway.Port{
		httpPort(p1, gateway.Listener{Hostname: "a.test", Table: gwTable(t, "c", c)}, gateway.Listener{Table: gwTable(t, "b", b)}),
		httpPort(p2, gateway.Listener{Hostname: "a.test", Table: gwTable(t, "c", c)}),
	})
	resp, _ = roundTrip(t, kc, kbr, "a.test", "/")
	wantBackend(t, resp, "c") // same connection, new table
	resp, _ = get(t, p1, "a.test", "/")
	wantBackend(t, resp, "c")
	close(slow.release)
	if got := <-inflight; got != "200 OK a a close=false" {
		t.Errorf("request in flight during the swap: %q, want 200 from a", got)
	}
}

// TestGatewayPortsRemoveDrains: a removed port stops accepting at once,
// its request in flight completes, and the other port is untouched.
func TestGatewayPortsRemoveDrains(t *testing.T) {
	t.Parallel()
	f := newGWFixture(t, dataplaneFlags{})
	slow := newGate()
	a := gwBackend(t, "a", slow)
	p1, p2 := freeAddr(t), freeAddr(t)
	l := gateway.Listener{Table: gwTable(t, "a", a)}
	f.gw.Apply([]gateway.Port{httpPort(p1, l), httpPort(p2, l)})

	inflight := make(chan string, 1)
	go func() { inflight <- getAsync(p1, "x.test", "/slow") }()
	slow.wait(t)

	f.gw.Apply([]gateway.Port{httpPort(p2, l)})
	refused(t, p1)
	resp, _ := get(t, p2, "x.test", "/")
	wantBackend(t, resp, "a")
	close(slow.release)
	if got := <-inflight; got != "200 OK a a close=true" {
		t.Errorf("request in flight on the removed port: %q, want 200 from a, then close", got)
	}
	if !strings.Contains(f.log.String(), "gateway port removed; draining") || !strings.Contains(f.log.String(), p1.String()) {
		t.Errorf("log does not name the removed port:\n%s", f.log)
	}
}

// TestGatewayPortsBindError: a port whose address is taken is logged
// (once) naming the address, reported by Errors and skipped; the others
// are served, and a later Apply binds it once the address is free.
func TestGatewayPortsBindError(t *testing.T) {
	t.Parallel()
	f := newGWFixture(t, dataplaneFlags{})
	a := gwBackend(t, "a", nil)
	taken, ok := freeAddr(t), freeAddr(t)
	occupier, err := net.Listen("tcp", taken.String())
	if err != nil {
		t.Fatal(err)
	}
	l := gateway.Listener{Table: gwTable(t, "a", a)}
	ports := []gateway.Port{httpPort(ok, l), httpPort(taken, l)}
	f.gw.Apply(ports)
	f.gw.Apply(ports)
	resp, _ := get(t, ok, "x.test", "/")
	wantBackend(t, resp, "a")
	errs := f.gw.Errors()
	if len(errs) != 1 || errs[taken] == nil || !strings.Contains(errs[taken].Error(), taken.String()) {
		t.Fatalf("Errors() = %v, want one naming %s", errs, taken)
	}
	logged := f.log.String()
	if n := strings.Count(logged, "gateway port not served"); n != 1 || !strings.Contains(logged, "address="+taken.String()) {
		t.Errorf("want one log line naming %s, got %d:\n%s", taken, n, logged)
	}

	occupier.Close()
	f.gw.Apply(ports)
	if errs := f.gw.Errors(); len(errs) != 0 {
		t.Fatalf("after the address was freed: %v", errs)
	}
	resp, _ = get(t, taken, "x.test", "/")
	wantBackend(t, resp, "a")
	f.gw.Apply(ports[:1])
	refused(t, taken)
}

// TestGatewayPortsProtocolChange: a port that turns from HTTP to HTTPS on
// the same address is served anew, with TLS.
func TestGatewayPortsProtocolChange(t *testing.T) {
	t.Parallel()
	f := newGWFixture(t, dataplaneFlags{})
	a := gwBackend(t, "a", nil)
	p := freeAddr(t)
	l := gateway.Listener{Hostname: "a.test", Table: gwTable(t, "a", a)}
	f.gw.Apply([]gateway.Port{httpPort(p, l)})
	resp, _ := get(t, p, "a.test", "/")
	wantBackend(t, resp, "a")

	l.Certificates = []*tlsstore.Certificate{testCert(t, "a.test")}
	f.gw.Apply([]gateway.Port{{Addr: p, Protocol: gateway.HTTPS, Listeners: []gateway.Listener{l}}})
	if errs := f.gw.Errors(); len(errs) != 0 {
		t.Fatal(errs)
	}
	status, be, cert := tlsGet(t, p, "a.test", "a.test", "/")
	if status != 200 || be != "a" || cert != "a.test" {
		t.Errorf("after the change to HTTPS: %d from %q with certificate %q", status, be, cert)
	}
}

func testCert(t *testing.T, names ...string) *tlsstore.Certificate {
	t.Helper()
	now := time.Now()
	certPEM, keyPEM, err := tlsstore.SelfSigned(names, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tlsstore.Parse(certPEM, keyPEM, now)
	if err != nil {
		t.Fatal(err)
	}
	c.Source = "ns/" + names[0]
	return c
}

// tlsGet sends one GET over TLS with server name sni ("": none) and
// returns the status, the backend and the first DNS name of the
// certificate served.
func tlsGet(t *testing.T, addr netip.AddrPort, sni, host, path string) (status int, be, cert string) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr.String(), &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("TLS to %s with server name %q: %v", addr, sni, err)
	}
	defer c.Close()
	cert = c.ConnectionState().PeerCertificates[0].DNSNames[0]
	resp, _ := roundTrip(t, c, bufio.NewReader(c), host, path)
	if p := resp.Header.Get("X-Seen-Proto"); resp.StatusCode == 200 && p != "https" {
		t.Errorf("backend saw X-Forwarded-Proto %q, want https", p)
	}
	return resp.StatusCode, resp.Header.Get("X-Backend"), cert
}

// TestGatewayPortsHTTPS: an HTTPS port picks the certificate by server
// name: the listener the name selects serves the first of its
// certificates that covers the name, else its first; without a name (or a
// listener with certificates for it), the first listener with
// certificates serves. A Host of another listener than the server name is
// 421; certificates change with Apply; TLS 1.1 is refused; redirects name
// the port's own port.
func TestGatewayPortsHTTPS(t *testing.T) {
	t.Parallel()
	f := newGWFixture(t, dataplaneFlags{})
	a, b, w, any := gwBackend(t, "a", nil), gwBackend(t, "b", nil), gwBackend(t, "w", nil), gwBackend(t, "any", nil)
	p := freeAddr(t)
	redirect := router.Route{Path: "/old", Type: router.Prefix, Source: "ns/b",
		Backend: &router.Backend{ID: "ns/b:80", Endpoints: []string{b}},
		Filters: &router.Filters{Redirect: &router.Redirect{Path: &router.PathRewrite{Type: router.ReplacePrefixMatch, Value: "/new"}}}}
	port := gateway.Port{Addr: p, Protocol: gateway.HTTPS, Listeners: []gateway.Listener{
		{Hostname: "a.test", Table: gwTable(t, "a", a)}, // no certificate
		{Hostname: "b.test", Table: gwTable(t, "b", b, redirect), Certificates: []*tlsstore.Certificate{testCert(t, "b-old.test"), testCert(t, "b.test")}},
		{Hostname: "*.wild.test", Table: gwTable(t, "w", w), Certificates: []*tlsstore.Certificate{testCert(t, "other.test"), testCert(t, "*.wild.test")}},
		{Table: gwTable(t, "any", any), Certificates: []*tlsstore.Certificate{testCert(t, "any.test")}},
	}}
	f.gw.Apply([]gateway.Port{port})
	if errs := f.gw.Errors(); len(errs) != 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		name, sni, host string
		status          int
		backend, cert   string
	}{
		{"the covering certificate, not the first", "b.test", "b.test", 200, "b", "b.test"},
		{"wildcard listener, covering wildcard certificate", "x.wild.test", "x.wild.test", 200, "w", "*.wild.test"},
		{"no certificate covers: the listener's first", "y.z.wild.test", "y.z.wild.test", 200, "w", "other.test"},
		{"listener without certificates: first listener with some", "a.test", "a.test", 200, "a", "b-old.test"},
		{"no server name: first listener with certificates", "", "b.test", 200, "b", "b-old.test"},
		{"hostname-less listener", "else.test", "else.test", 200, "any", "any.test"},
		{"Host of another listener: 421", "b.test", "x.wild.test", 421, "", "b.test"},
		{"Host of no listener with a name of one: 421", "b.test", "else.test", 421, "", "b.test"},
		{"server name case and dot", "B.TEST.", "b.test", 200, "b", "b.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, be, cert := tlsGet(t, p, tc.sni, tc.host, "/")
			if status != tc.status || be != tc.backend || cert != tc.cert {
				t.Errorf("SNI %q Host %q: %d from %q with certificate %q; want %d from %q with %q",
					tc.sni, tc.host, status, be, cert, tc.status, tc.backend, tc.cert)
			}
		})
	}

	// The proxy knows the port's own port and scheme: a redirect that
	// names neither keeps both.
	c, err := tls.Dial("tcp", p.String(), &tls.Config{ServerName: "b.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := roundTrip(t, c, bufio.NewReader(c), "b.test", "/old/x")
	c.Close()
	if want := fmt.Sprintf("https://b.test:%d/new/x", p.Port()); resp.StatusCode != 302 || resp.Header.Get("Location") != want {
		t.Errorf("redirect: %s Location %q, want 302 %q", resp.Status, resp.Header.Get("Location"), want)
	}

	if c, err := tls.Dial("tcp", p.String(), &tls.Config{ServerName: "b.test", MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Error("TLS 1.1 handshake succeeded")
	}

	port.Listeners[1].Certificates = []*tlsstore.Certificate{testCert(t, "b.test", "renewed.test")}
	f.gw.Apply([]gateway.Port{port})
	if _, _, cert := tlsGet(t, p, "b.test", "b.test", "/"); cert != "b.test" {
		t.Errorf("after the certificate changed: %q", cert)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	tc, err := tls.DialWithDialer(d, "tcp", p.String(), &tls.Config{ServerName: "b.test", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	names := tc.ConnectionState().PeerCertificates[0].DNSNames
	tc.Close()
	if len(names) != 2 || names[1] != "renewed.test" {
		t.Errorf("after Apply, b.test serves %v, want the renewed certificate", names)
	}
}

// TestGatewayPortsProxyProtocol: with --proxy-protocol, Gateway ports read
// the PROXY header like the Ingress listeners.
func TestGatewayPortsProxyProtocol(t *testing.T) {
	t.Parallel()
	f := newGWFixture(t, dataplaneFlags{proxyProtocol: true})
	a := gwBackend(t, "a", nil)
	p := freeAddr(t)
	f.gw.Apply([]gateway.Port{httpPort(p, gateway.Listener{Table: gwTable(t, "a", a)})})
	c, err := net.DialTimeout("tcp", p.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "PROXY TCP4 203.0.113.7 %s 40000 %d\r\n", p.Addr(), p.Port()); err != nil {
		t.Fatal(err)
	}
	resp, _ := roundTrip(t, c, bufio.NewReader(c), "x.test", "/")
	wantBackend(t, resp, "a")
	if got := resp.Header.Get("X-Seen-For"); got != "203.0.113.7" {
		t.Errorf("backend saw X-Forwarded-For %q, want the PROXY header's client", got)
	}
}

// TestGatewayPortsShutdown: Shutdown stops every port, lets a request in
// flight finish, and later Applies open nothing.
func TestGatewayPortsShutdown(t *testing.T) {
	t.Parallel()
	f := newGWFixture(t, dataplaneFlags{})
	slow := newGate()
	a := gwBackend(t, "a", slow)
	p := freeAddr(t)
	l := gateway.Listener{Table: gwTable(t, "a", a)}
	f.gw.Apply([]gateway.Port{httpPort(p, l)})
	inflight := make(chan string, 1)
	go func() { inflight <- getAsync(p, "x.test", "/slow") }()
	slow.wait(t)
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f.gw.Shutdown(ctx)
		close(done)
	}()
	refused(t, p)
	close(slow.release)
	if got := <-inflight; got != "200 OK a a close=true" {
		t.Errorf("request in flight at shutdown: %q, want 200 from a, then close", got)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	f.gw.Apply([]gateway.Port{httpPort(p, l)})
	refused(t, p)
}

// TestGatewayPortsH2C: a Gateway HTTP listener speaks HTTP/2 with prior
// knowledge without --h2c (the Ingress listener needs the flag).
func TestGatewayPortsH2C(t *testing.T) {
	t.Parallel()
	f := newGWFixture(t, dataplaneFlags{})
	a := gwBackend(t, "a", nil)
	p := freeAddr(t)
	f.gw.Apply([]gateway.Port{httpPort(p, gateway.Listener{Table: gwTable(t, "a", a)})})
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &protocols}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("got %s, want HTTP/2", resp.Proto)
	}
	wantBackend(t, resp, "a")
}
