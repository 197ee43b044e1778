package passthrough

import (
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// seedHello is a crypto/tls ClientHello for a.example (testdata).
func seedHello(b *testing.B) []byte {
	b.Helper()
	raw, err := os.ReadFile("testdata/fuzz/FuzzReadClientHello/go-client-sni")
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		b.Fatal(err)
	}
	return []byte(s)
}

// benchListener is a Listener passing a.example through to a TCP backend
// that discards what it reads and answers each connection's first read
// with one byte; the server side (Accept) is never used.
func benchListener(b *testing.B) (addr string) {
	b.Helper()
	be, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	go func() {
		for {
			c, err := be.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				if _, err := c.Read(buf); err != nil {
					return
				}
				if _, err := c.Write([]byte{1}); err != nil {
					return
				}
				_, _ = io.CopyBuffer(io.Discard, c, buf)
			}()
		}
	}()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	l := NewListener(inner, Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Route: func(string) ([]string, bool) { return []string{be.Addr().String()}, true }})
	b.Cleanup(func() { l.Close() })
	go func() { _, _ = l.Accept() }() // starts the accept loop
	return inner.Addr().String()
}

// BenchmarkPassthroughConnection: one spliced connection per op, from the
// client's connect through the ClientHello, the backend's dial and first
// byte back, to the close. Client, Portico's listener and the backend
// share the process (and its 2 cores).
func BenchmarkPassthroughConnection(b *testing.B) {
	hello := seedHello(b)
	addr := benchListener(b)
	one := make([]byte, 1)
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(hello); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, one); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkPassthroughThroughput: bytes through one spliced connection,
// client to backend, in 64 KiB writes (SetBytes: MB/s is the splice's).
func BenchmarkPassthroughThroughput(b *testing.B) {
	hello := seedHello(b)
	addr := benchListener(b)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(hello); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
}
