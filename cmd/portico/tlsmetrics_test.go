package main

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"portico.dev/portico/h1"
	"portico.dev/portico/tlsstore"
)

func TestTLSMetricsCountHandshakesAndErrors(t *testing.T) {
	store, err := tlsstore.New(tlsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := newTLSMetrics(prometheus.NewRegistry())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &h1.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}),
		TLSConfig:         m.instrument(store.TLSConfig()),
		TLSHandshakeError: m.handshakeError,
		Log:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "https://" + ln.Addr().String()

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for range 3 {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.CloseIdleConnections() // a new handshake each time
	}
	// A plain-text request to the TLS port is a failed handshake.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_, _ = io.Copy(io.Discard, conn)
	conn.Close()
	// And a client that only speaks TLS 1.1.
	if c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}

	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(m.errors) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(m.handshakes); got != 3 {
		t.Errorf("handshakes = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.errors); got != 2 {
		t.Errorf("handshake errors = %v, want 2", got)
	}
}
