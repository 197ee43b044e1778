package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"portico.dev/portico/h1"
	"portico.dev/portico/router"
)

// TestBackendProtocolH2C is the conformance test
// HTTPRouteBackendProtocolH2C over real sockets: a Service port with
// appProtocol kubernetes.io/h2c (Backend.Protocol H2C, whatever the route's
// options say) gets HTTP/2 with prior knowledge, from an HTTP/1.1 client
// and from one that speaks h2c with prior knowledge to Portico, as the
// suite's does (the listener needs h2c on, as --h2c turns it on).
func TestBackendProtocolH2C(t *testing.T) {
	t.Parallel()
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 { // as the suite's echo server checks
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Backend-Proto", r.Proto)
	}))
	be.Config.Protocols = &protos
	be.Start()
	t.Cleanup(be.Close)
	b := testBackend("v1", be.Listener.Addr().String())
	b.Protocol = router.H2C
	table, _ := router.New([]router.Route{{Path: "/", Type: router.Prefix, Source: "ns/h2c", Backend: b}}, nil)
	live := &router.Live{}
	live.Store(table)
	tr := NewTransports(TransportConfig{})
	t.Cleanup(tr.CloseIdleConnections)
	p := New(Config{Table: live, Transports: tr, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})

	// Portico's HTTP listener with h2c, as cmd/portico builds it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h2 := &http.Server{Handler: p, Protocols: &protos}
	srv := &h1.Server{Handler: p, HTTP2: h2, H2C: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	for _, client := range []struct {
		name  string
		proto func(*http.Protocols)
		want  string
	}{
		{"HTTP/1.1 client", func(p *http.Protocols) { p.SetHTTP1(true) }, "HTTP/1.1"},
		{"h2c prior-knowledge client", func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, "HTTP/2.0"},
	} {
		var cp http.Protocols
		client.proto(&cp)
		ct := &http.Transport{Protocols: &cp}
		resp, err := (&http.Client{Transport: ct, Timeout: 5 * time.Second}).Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatalf("%s: %v", client.name, err)
		}
		resp.Body.Close()
		ct.CloseIdleConnections()
		if resp.StatusCode != 200 || resp.Proto != client.want || resp.Header.Get("X-Backend-Proto") != "HTTP/2.0" {
			t.Errorf("%s: %s %s, backend saw %q; want 200 over %s, HTTP/2.0 to the backend", client.name, resp.Proto, resp.Status, resp.Header.Get("X-Backend-Proto"), client.want)
		}
	}
}

// TestBackendProtocolWebSocket is the conformance test
// HTTPRouteBackendProtocolWebSocket over real sockets: a WebSocket
// upgrade through the proxy to a backend (appProtocol kubernetes.io/ws is
// plain HTTP/1.1 to it), then text and binary frames echoed both ways.
func TestBackendProtocolWebSocket(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) { _, _ = io.Copy(ws, ws) }))
	be := httptest.NewServer(mux)
	t.Cleanup(be.Close)
	f := newRouteFixture(t, Config{}, router.Route{Path: "/", Type: router.Prefix, Source: "ns/ws",
		Backend: testBackend("v1", be.Listener.Addr().String()),
		// The rule's timeouts end with the upgrade: an upgraded connection
		// is no longer a request waiting for its response.
		Options: &router.Options{RequestTimeout: 100 * time.Millisecond, BackendTimeout: 100 * time.Millisecond},
	})
	url := strings.Replace(f.srv.URL, "http://", "ws://", 1) + "/ws"
	ws, err := websocket.Dial(url, "", "http://gateway/test")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetDeadline(time.Now().Add(5 * time.Second))
	time.Sleep(200 * time.Millisecond) // past both timeouts
	var text string
	if err := websocket.Message.Send(ws, "Websocket Support!"); err != nil {
		t.Fatal(err)
	}
	if err := websocket.Message.Receive(ws, &text); err != nil || text != "Websocket Support!" {
		t.Fatalf("text frame: %q, %v", text, err)
	}
	bin := []byte{1, 2, 3, 4, 5, 6, 7}
	var got []byte
	if err := websocket.Message.Send(ws, bin); err != nil {
		t.Fatal(err)
	}
	if err := websocket.Message.Receive(ws, &got); err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("binary frame: %v, %v", got, err)
	}
}
