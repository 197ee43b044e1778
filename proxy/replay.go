package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"
)

// DefaultBodyBufferBytes is Config.BodyBufferBytes when unset.
const DefaultBodyBufferBytes = 64 << 10

// replayable: the route may send the request body more than once (a retry
// policy, mirrors), so a small one is buffered first.
func (c *call) replayable(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || len(r.Header["Upgrade"]) > 0 {
		return false
	}
	return c.retry != nil || c.next != nil && !c.next.Off() || c.mirrorsNeedBody()
}

// mirrorsNeedBody reports whether some mirror of the route sends the
// request body (ingress-nginx mirror-request-body "off" sends none, so
// it needs no copy).
func (c *call) mirrorsNeedBody() bool {
	for i := range c.mirrors() {
		if m := &c.mirrors()[i]; m.URL == nil || !m.URL.NoBody {
			return true
		}
	}
	return false
}

// bufferBody reads a request body of at most Config.BodyBufferBytes into
// c.replay before anything is sent, so that retries and mirrors can send
// it again. A larger one (announced, or found while reading) streams to
// the backend as usual: it is not mirrored and not retried once sent
// (c.bodyTooBig). Reading is bounded by the send timeout and the rule's
// request timeout. It reports false when it answered the client itself.
func (c *call) bufferBody(r *http.Request) bool {
	limit := c.p.cfg.BodyBufferBytes
	if r.ContentLength > limit {
		c.bodyTooBig = true
		return true
	}
	c.arm(sending, c.sendTimeout)
	buf := bytes.NewBuffer(make([]byte, 0, max(r.ContentLength, 0)+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	c.disarm()
	if err != nil {
		var tooBig *http.MaxBytesError
		c.w.Header()["Connection"] = []string{"close"} // the rest stays unread
		switch {
		case errors.As(err, &tooBig):
			c.fail(http.StatusRequestEntityTooLarge, "413 request body too large")
		case c.timedOut.Load():
			c.fail(http.StatusRequestTimeout, "408 request body not received in time")
		case r.Context().Err() != nil:
			c.status = 499 // the client went away
		default:
			c.fail(http.StatusBadRequest, "400 broken request body")
		}
		return false
	}
	if c.timedOut.Load() {
		// The timer fired as the read ended: its past read deadline is
		// on the client's connection. Clear it.
		_ = http.NewResponseController(c.w.rw).SetReadDeadline(time.Time{})
		c.timedOut.Store(false)
	}
	if int64(buf.Len()) > limit {
		c.bodyTooBig = true
		r.Body = readCloser{io.MultiReader(buf, r.Body), r.Body}
		return true
	}
	c.replay = buf.Bytes()
	r.Body = io.NopCloser(bytes.NewReader(c.replay))
	// Sent with a Content-Length from now on, whatever the client's framing.
	r.ContentLength, r.TransferEncoding = int64(len(c.replay)), nil
	return true
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}
