package h1

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "h1 test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"h1.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// serverName answers with which server ran the handler, the protocol it
// saw, and the request's TLS and remote address.
func serverName(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server", name)
		alpn := "none"
		if r.TLS != nil {
			alpn = r.TLS.NegotiatedProtocol
		}
		fmt.Fprintf(w, "%s %s alpn=%s remote=%s", name, r.Proto, alpn, r.RemoteAddr)
	}
}

func get200(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %q %v", url, resp.StatusCode, b, err)
	}
	return resp, string(b)
}

func TestHTTP2OverTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	ts := startServer(t, serverName("h1"), func(s *Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.HTTP2 = &http.Server{Handler: serverName("h2")}
	})
	url := "https://" + ts.addr + "/"

	t.Run("h2 client", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		resp, body := get200(t, &http.Client{Transport: tr}, url)
		if resp.ProtoMajor != 2 || resp.Header.Get("X-Server") != "h2" {
			t.Errorf("HTTP/%d from %q: %s; want HTTP/2 from the HTTP2 server", resp.ProtoMajor, resp.Header.Get("X-Server"), body)
		}
	})

	t.Run("HTTP/1.1-only client", func(t *testing.T) {
		var p http.Protocols
		p.SetHTTP1(true)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Protocols: &p}
		defer tr.CloseIdleConnections()
		resp, body := get200(t, &http.Client{Transport: tr}, url)
		if resp.ProtoMajor != 1 || resp.Header.Get("X-Server") != "h1" {
			t.Errorf("HTTP/%d from %q: %s; want HTTP/1.1 from the h1 loop", resp.ProtoMajor, resp.Header.Get("X-Server"), body)
		}
	})

	t.Run("Shutdown stops both", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		get200(t, &http.Client{Transport: tr}, url) // an idle HTTP/2 connection
		ctx, cancel := contextWithTimeout(testDeadline)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if _, err := (&http.Client{Transport: tr}).Get(url); err == nil {
			t.Errorf("GET after Shutdown succeeded")
		}
	})
}

func TestTLSRequestFields(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	ts := startServer(t, withAlive(serverName("h1")), func(s *Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: testDeadline}, "tcp", ts.addr,
		&tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("ALPN %q without HTTP2, want http/1.1", p)
	}
	c := newClient(t, tc)
	c.send(get)
	r := c.read("GET")
	if want := fmt.Sprintf("h1 HTTP/1.1 alpn=http/1.1 remote=%s", tc.LocalAddr()); r.body != want {
		t.Errorf("handler saw %q, want %q", r.body, want)
	}
	c.expectOpen()
}

func TestTLSHandshakeError(t *testing.T) {
	t.Parallel()
	cert, _ := selfSigned(t)
	type failure struct {
		addr net.Addr
		err  error
	}
	failures := make(chan failure, 1)
	var handled recorder
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handled.add(r.URL.Path) }),
		func(s *Server) {
			s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
			s.TLSHandshakeError = func(a net.Addr, err error) { failures <- failure{a, err} }
		})
	c := ts.dial(t)
	c.send(get) // plain HTTP to a TLS port
	select {
	case f := <-failures:
		if f.err == nil || f.addr.String() != c.c.LocalAddr().String() {
			t.Errorf("TLSHandshakeError(%v, %v); want the client's address %v and an error", f.addr, f.err, c.c.LocalAddr())
		}
	case <-time.After(testDeadline):
		t.Fatal("TLSHandshakeError not called")
	}
	_, _ = io.Copy(io.Discard, c.br) // an alert, perhaps, then the close
	if got := handled.get(); len(got) != 0 {
		t.Errorf("handler ran: %q", got)
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	t.Parallel()
	cert, _ := selfSigned(t)
	failures := make(chan error, 1)
	ts := startServer(t, http.NotFoundHandler(), func(s *Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.ReadHeaderTimeout = 100 * time.Millisecond
		s.TLSHandshakeError = func(_ net.Addr, err error) { failures <- err }
	})
	c := ts.dial(t) // and says nothing
	c.expectClosed()
	if err := <-failures; err == nil {
		t.Error("TLSHandshakeError called without an error")
	}
}

func TestH2C(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverName("h1"), func(s *Server) {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		s.HTTP2 = &http.Server{Handler: serverName("h2"), Protocols: &p}
		s.H2C = true
	})
	url := "http://" + ts.addr + "/"

	t.Run("prior knowledge", func(t *testing.T) {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: &p}
		defer tr.CloseIdleConnections()
		resp, body := get200(t, &http.Client{Transport: tr}, url)
		if resp.ProtoMajor != 2 || resp.Header.Get("X-Server") != "h2" {
			t.Errorf("HTTP/%d from %q: %s; want HTTP/2 from the HTTP2 server", resp.ProtoMajor, resp.Header.Get("X-Server"), body)
		}
	})

	t.Run("HTTP/1.1 client", func(t *testing.T) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, _ := get200(t, &http.Client{Transport: tr}, url)
		if resp.ProtoMajor != 1 || resp.Header.Get("X-Server") != "h1" {
			t.Errorf("HTTP/%d from %q; want HTTP/1.1 from the h1 loop", resp.ProtoMajor, resp.Header.Get("X-Server"))
		}
	})

	// Requests that start like the preface, and end before its length.
	for _, req := range []string{"PUT / HTTP/1.0\r\n\r\n", "PRI / HTTP/1.0\r\n\r\n", "P / HTTP/1.0\r\n\r\n"} {
		t.Run(req[:5], func(t *testing.T) {
			c := ts.dial(t)
			c.send(req)
			r := c.read("PUT")
			if r.StatusCode != 200 || r.wire.Get("X-Server") != "h1" {
				t.Errorf("%q: %d from %q", req, r.StatusCode, r.wire.Get("X-Server"))
			}
			c.expectClosed()
		})
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func TestCloseDuringTLSHandshake(t *testing.T) {
	t.Parallel()
	cert, _ := selfSigned(t)
	ts := startServer(t, http.NotFoundHandler(), func(s *Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	c := ts.dial(t) // and says nothing: the server waits in the handshake
	waitFor(t, func() bool { return ts.connCount() == 1 })
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
}

// A connection that negotiates h2 while Shutdown is under way (here, its
// handshake ends after Shutdown started) is closed, not left waiting for
// an HTTP/2 server that will never accept it.
func TestHTTP2HandOffDuringShutdown(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	ts := startServer(t, http.NotFoundHandler(), func(s *Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.HTTP2 = &http.Server{Handler: serverName("h2")}
	})
	raw := ts.dial(t)
	waitFor(t, func() bool { return ts.connCount() == 1 })
	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := contextWithTimeout(testDeadline)
		defer cancel()
		shutdown <- ts.Shutdown(ctx)
	}()
	waitFor(t, ts.shutdown.Load)
	// Shutdown stops the HTTP2 server on a goroutine of its own; make sure
	// that happened. (A second Shutdown of an http.Server returns at once.)
	if err := ts.HTTP2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw.c, &tls.Config{RootCAs: pool, ServerName: "h1.test", NextProtos: []string{"h2"}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q, want h2", p)
	}
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("read on a connection handed over after Shutdown: %v; want it closed", err)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
