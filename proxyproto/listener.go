package proxyproto

import (
	"bufio"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Listener wraps a listener whose every connection starts with a PROXY
// header (v1 or v2). Connections report the client the header names as
// their RemoteAddr; a connection without a valid header fails on first use
// and is closed by the server. Accept never blocks on a slow client: the
// header is read in the connection's own goroutine, on its first RemoteAddr
// or Read call.
type Listener struct {
	net.Listener
	// Timeout bounds reading the header; default 5s.
	Timeout time.Duration
	// OnError, if set, is told about connections refused for a bad header.
	OnError func(peer net.Addr, err error)
}

// Accept returns the next connection, wrapped.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	t := l.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	return &Conn{Conn: c, timeout: t, onError: l.OnError}, nil
}

// Conn is a connection whose PROXY header is read on first use.
type Conn struct {
	net.Conn
	timeout time.Duration
	onError func(net.Addr, error)

	once   sync.Once
	br     *bufio.Reader
	remote net.Addr
	local  net.Addr
	err    error
}

func (c *Conn) init() {
	c.once.Do(func() {
		c.remote, c.local = c.Conn.RemoteAddr(), c.Conn.LocalAddr()
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
		c.br = bufio.NewReaderSize(c.Conn, 256)
		h, err := Read(c.br)
		_ = c.Conn.SetReadDeadline(time.Time{})
		if err != nil {
			c.err = err
			// Closed, so the server cannot even answer 400: a connection
			// without a valid header is not speaking to us.
			_ = c.Conn.Close()
			if c.onError != nil {
				c.onError(c.remote, err)
			}
			return
		}
		if !h.Local {
			c.remote = tcpAddr(h.Source)
			c.local = tcpAddr(h.Destination)
		}
	})
}

func tcpAddr(ap netip.AddrPort) net.Addr { return net.TCPAddrFromAddrPort(ap) }

// Read reads what follows the header; it fails if the header was invalid.
func (c *Conn) Read(p []byte) (int, error) {
	c.init()
	if c.err != nil {
		return 0, c.err
	}
	if c.br.Buffered() > 0 {
		return c.br.Read(p)
	}
	return c.Conn.Read(p)
}

// CloseWrite shuts the write side of the underlying connection (a
// spliced connection's half-close), or closes it when it has none.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// RemoteAddr is the client's address as the PROXY header names it.
func (c *Conn) RemoteAddr() net.Addr {
	c.init()
	return c.remote
}

// LocalAddr is the address the client connected to, per the header.
func (c *Conn) LocalAddr() net.Addr {
	c.init()
	return c.local
}
