package passthrough

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"portico.dev/portico/proxyproto"
)

// emfileListener fails its first Accept the way net.TCPListener does when
// the process is out of file descriptors.
type emfileListener struct {
	net.Listener
	failed bool
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if !l.failed {
		l.failed = true
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestEMFILEIsTransient: one EMFILE does not close the HTTPS listener
// for good: like h1.Server.Serve, the Listener retries every accept error
// but net.ErrClosed.
func TestEMFILEIsTransient(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(&emfileListener{Listener: inner}, Config{Route: func(string) ([]string, bool) { return nil, false }, HelloTimeout: 200 * time.Millisecond})
	defer l.Close()
	time.Sleep(50 * time.Millisecond)
	c, err := net.DialTimeout("tcp", inner.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("dial after one EMFILE: %v (listener closed)", err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	got := make(chan error, 1)
	go func() {
		ac, err := l.Accept()
		if ac != nil {
			ac.Close()
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("Accept after one EMFILE: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no connection")
	}
}

// TestProxyProtocolHelloTimeout: behind --proxy-protocol a client that
// sends nothing after the PROXY header (the load balancer sends it for any
// TCP connection) must still be cut after HelloTimeout.
func TestProxyProtocolHelloTimeout(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(&proxyproto.Listener{Listener: inner}, Config{Route: func(string) ([]string, bool) { return nil, false }, HelloTimeout: 200 * time.Millisecond})
	defer l.Close()
	go func() { // the TLS server: accepts and closes at once
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 1234 443\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open 3s after the PROXY header with HelloTimeout 200ms: the PROXY header's reader cleared the hello deadline")
	}
	if err != io.EOF && err != nil {
		t.Logf("closed: %v", err)
	}
}
