package passthrough

import (
	"io"
	"net"
	"testing"
	"time"

	"portico.dev/portico/proxyproto"
)

// TestHalfCloseBehindProxyProtocol: the backend ends its side; the
// client must still be able to send (half-close), as without --proxy-protocol.
func TestHalfCloseBehindProxyProtocol(t *testing.T) {
	be, _ := net.Listen("tcp", "127.0.0.1:0")
	defer be.Close()
	inner, _ := net.Listen("tcp", "127.0.0.1:0")
	l := NewListener(&proxyproto.Listener{Listener: inner}, Config{Route: func(string) ([]string, bool) { return []string{be.Addr().String()}, true }})
	defer l.Close()
	go func() { // the server's accept loop; nothing comes through it here
		for {
			if _, err := l.Accept(); err != nil {
				return
			}
		}
	}()
	hello := clientHello(t, "p.test")
	got := make(chan string, 1)
	go func() {
		c, err := be.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = io.ReadFull(c, make([]byte, len(hello)))
		_, _ = c.Write([]byte("bye"))
		_ = c.(*net.TCPConn).CloseWrite()
		b, err := io.ReadAll(c)
		got <- string(b)
	}()
	c, _ := net.Dial("tcp", inner.Addr().String())
	defer c.Close()
	_, _ = c.Write(append([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 1234 443\r\n"), hello...))
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(c) // "bye", then the backend's end
	if string(b) != "bye" {
		t.Fatalf("read %q", b)
	}
	time.Sleep(100 * time.Millisecond)
	_, _ = c.Write([]byte("more"))
	_ = c.(*net.TCPConn).CloseWrite()
	if s := <-got; s != "more" {
		t.Errorf("backend got %q after its half-close, want \"more\": the client side was closed whole (proxyproto.Conn has no CloseWrite)", s)
	}
}
