package h1

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Noticing a client that goes away. net/http's server reads ahead on every
// request to notice it; that read is most of what this package saves. A
// handler that waits long (a proxy whose backend is slow) asks for it
// instead, and only then: WatchClient starts the read-ahead, StopWatching
// ends it. Only requests without a body can be watched: a body is read by
// the handler, and the read-ahead would race with it.

// clientWatch is the read-ahead of one connection; its zero value is idle.
type clientWatch struct {
	mu      sync.Mutex
	running bool
	done    chan struct{}
}

// WatchClient calls gone, once and on its own goroutine, if the client
// closes its connection (or it breaks) before StopWatching. It reports
// whether watching started: not for requests with a body, nor once the
// response has begun or the connection was hijacked.
func (w *response) WatchClient(gone func()) bool {
	c := w.c
	if w.body != nil || w.committed || w.hijacked || c.br == nil {
		return false
	}
	c.watch.mu.Lock()
	defer c.watch.mu.Unlock()
	if c.watch.running {
		return false
	}
	if c.watch.done == nil {
		c.watch.done = make(chan struct{}, 1)
	}
	c.watch.running = true
	// The header deadline may still be set; the wait is the handler's.
	_ = c.rwc.SetReadDeadline(time.Time{})
	c.deadlineTouched.Store(true)
	go func() {
		// Peek reads into the connection's buffer: bytes of a pipelined
		// request stay there for the next request.
		_, err := c.br.Peek(1)
		if err != nil && clientGone(err) {
			gone()
		}
		c.watch.done <- struct{}{}
	}()
	return true
}

// clientGone: the read ended because the client closed or reset the
// connection, not because StopWatching interrupted it.
func clientGone(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return !errors.Is(err, net.ErrClosed)
}

// StopWatching ends a read-ahead WatchClient started and waits for it:
// when it returns, gone has run or never will. It is called by the server
// after the handler and before a hijack; a handler may call it earlier.
func (w *response) StopWatching() {
	c := w.c
	if c == nil {
		return
	}
	c.watch.mu.Lock()
	defer c.watch.mu.Unlock()
	if !c.watch.running {
		return
	}
	_ = c.rwc.SetReadDeadline(aLongTimeAgo)
	<-c.watch.done
	c.watch.running = false
	c.deadlineTouched.Store(true) // the loop sets its own deadline again
}

// aLongTimeAgo is a deadline that has passed: it interrupts a blocked read.
var aLongTimeAgo = time.Unix(1, 0)
