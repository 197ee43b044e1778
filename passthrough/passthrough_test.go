package passthrough

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"portico.dev/portico/internal/testpki"
)

// clientHello is what crypto/tls sends as a client for sni.
func clientHello(t testing.TB, sni string) []byte {
	t.Helper()
	c, s := net.Pipe()
	go func() {
		_ = tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
	}()
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, _, err := ReadClientHello(s)
	_ = s.Close()
	_ = c.Close()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestReadClientHello: the server name of real ClientHellos, whole or
// split over records, and the errors of what is not one.
func TestReadClientHello(t *testing.T) {
	t.Parallel()
	hello := clientHello(t, "Pass.Example.")
	_, name, err := ReadClientHello(bytes.NewReader(hello))
	if err != nil || name != "pass.example" {
		t.Fatalf("server name %q, err %v", name, err)
	}
	// The same handshake message in records of 100 bytes.
	body := hello[5:]
	var split []byte
	for len(body) > 0 {
		n := min(100, len(body))
		split = append(split, 0x16, 3, 1, byte(n>>8), byte(n))
		split = append(split, body[:n]...)
		body = body[n:]
	}
	raw, name, err := ReadClientHello(io.MultiReader(bytes.NewReader(split), strings.NewReader("after")))
	if err != nil || name != "pass.example" || !bytes.Equal(raw, split) {
		t.Errorf("split: %q, err %v, read %d of %d bytes", name, err, len(raw), len(split))
	}
	noSNI := clientHello(t, "")
	if _, name, err := ReadClientHello(bytes.NewReader(noSNI)); err != nil || name != "" {
		t.Errorf("no SNI: %q, %v", name, err)
	}
	for _, tt := range []struct {
		in   string
		want error
	}{
		{"GET / HTTP/1.1\r\n\r\n", ErrNotTLS},
		{"\x16\x03\x01\x00\x00", ErrTooLarge},
		{"\x16\x03\x01\x00\x04\x02\x00\x00\x00", ErrNotTLS}, // server_hello
		{"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", ErrBadHello},
		{"\x16\x03\x01\x00\x04\x01\xff\xff\xff", ErrTooLarge},
		{"\x16\x03\x01", io.ErrUnexpectedEOF},
	} {
		if _, _, err := ReadClientHello(strings.NewReader(tt.in)); !errors.Is(err, tt.want) {
			t.Errorf("%q: %v, want %v", tt.in, err, tt.want)
		}
	}
}

// FuzzReadClientHello: the seeds in testdata are crypto/tls ClientHellos
// with an X25519 key share only (a post-quantum one makes them 1.5 KiB
// larger, and the fuzzer spends its time minimising them).
func FuzzReadClientHello(f *testing.F) {
	f.Add([]byte("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, name, err := ReadClientHello(bytes.NewReader(b))
		if !bytes.HasPrefix(b, raw) {
			t.Fatalf("returned bytes that were not read")
		}
		if err == nil && (strings.ContainsAny(name, " /:\x00") || name != strings.ToLower(name)) {
			t.Fatalf("server name %q", name)
		}
	})
}

// TestListener: a connection for a passed-through name reaches the
// backend's own TLS (the client verifies the backend's certificate);
// others are terminated by the TLS server behind the Listener; a Route
// change does not cut a spliced connection.
func TestListener(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA("passthrough")
	backendCert := ca.Issue("pass.test", testpki.Options{DNSNames: []string{"pass.test"}})
	frontCert := ca.Issue("front.test", testpki.Options{DNSNames: []string{"front.test"}})
	be, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{backendCert.TLSCert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	go echoLines(be, "backend")

	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	routes := map[string][]string{"pass.test": {be.Addr().String()}, "empty.test": nil}
	l := NewListener(inner, Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Route: func(sni string) ([]string, bool) {
		mu.Lock()
		defer mu.Unlock()
		eps, ok := routes[sni]
		return eps, ok
	}})
	t.Cleanup(func() { l.Close() })
	go echoLines(tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{frontCert.TLSCert}}), "front")

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	dial := func(sni string) (*tls.Conn, *bufio.Reader) {
		t.Helper()
		c, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{ServerName: sni, RootCAs: roots})
		if err != nil {
			t.Fatalf("%s: %v", sni, err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	ask := func(c *tls.Conn, r *bufio.Reader, want string) {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("hi\n")); err != nil {
			t.Fatal(err)
		}
		if got, err := r.ReadString('\n'); err != nil || got != want+" hi\n" {
			t.Fatalf("answer %q, %v; want %q", got, err, want)
		}
	}
	pc, pr := dial("pass.test")
	if cn := pc.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "pass.test" {
		t.Errorf("passed-through connection got the certificate of %q", cn)
	}
	ask(pc, pr, "backend")
	fc, fr := dial("front.test")
	ask(fc, fr, "front")

	// A passed-through name without endpoints is closed, never terminated
	// with Portico's certificate.
	if _, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{ServerName: "empty.test", InsecureSkipVerify: true}); err == nil {
		t.Error("empty.test (passed through, no endpoints) completed a handshake")
	}
	mu.Lock()
	routes = map[string][]string{} // the route goes away: new connections are terminated
	mu.Unlock()
	ask(pc, pr, "backend") // the spliced one lives on
	if _, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{ServerName: "pass.test", RootCAs: roots}); err == nil {
		t.Error("after the route went away, pass.test was still passed through (the front certificate does not cover it)")
	}
}

// echoLines answers each line with name and the line.
func echoLines(ln net.Listener, name string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := io.WriteString(c, name+" "+line); err != nil {
					return
				}
			}
		}()
	}
}
