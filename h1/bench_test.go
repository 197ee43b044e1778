package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkServeKeepAlive measures one GET with a 1 KiB response on a
// loopback keep-alive connection, served by h1 and, for comparison, by
// net/http's server with the same handler. The client is lean (it parses
// just the status line and Content-Length), so allocations are mostly
// the server's.
func BenchmarkServeKeepAlive(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain") // no sniffing in net/http
		_, _ = w.Write(body)
	})
	b.Run("h1", func(b *testing.B) {
		s := &Server{Handler: h}
		benchKeepAlive(b, s.Serve, s.Close, len(body))
	})
	b.Run("net-http", func(b *testing.B) {
		s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		benchKeepAlive(b, s.Serve, s.Close, len(body))
	})
}

func benchKeepAlive(b *testing.B, serve func(net.Listener) error, stop func() error, bodyLen int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = serve(ln) }()
	defer func() { _ = stop() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(c)
	req := []byte("GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n, err := discardResponse(br)
		if err != nil {
			b.Fatal(err)
		}
		if n != bodyLen {
			b.Fatalf("body of %d bytes, want %d", n, bodyLen)
		}
	}
}

// discardResponse reads a 200 response with a Content-Length and returns
// its body's length, without allocating.
func discardResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return 0, fmt.Errorf("status line %q", line)
	}
	n := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		if bytes.EqualFold(k, []byte("Content-Length")) {
			n = 0
			for _, d := range bytes.TrimSpace(v) {
				n = 10*n + int(d-'0')
			}
		}
	}
	if n < 0 {
		return 0, fmt.Errorf("no Content-Length")
	}
	_, err = br.Discard(n)
	return n, err
}
