package main

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"portico.dev/portico/tlsstore"
)

func TestTLSMetricsCountHandshakesAndErrors(t *testing.T) {
	store, err := tlsstore.New(tlsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := newTLSMetrics(prometheus.NewRegistry())
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = m.instrument(store.TLSConfig())
	srv.Config.ErrorLog = m.errorLog(slog.New(slog.NewTextHandler(io.Discard, nil)).Handler())
	srv.StartTLS()
	defer srv.Close()

	c := srv.Client()
	c.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true
	for range 3 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.CloseIdleConnections() // a new handshake each time
	}
	// A plain-text request to the TLS port is a failed handshake.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_, _ = io.Copy(io.Discard, conn)
	conn.Close()
	// And a client that only speaks TLS 1.1.
	if c, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}); err == nil {
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
