package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"portico.dev/portico/router"
)

// mirrorURL sends a copy of out, the request as the backend gets it, to an
// ingress-nginx mirror-target, fire and forget, within the mirrorer's
// slots and timeout. The copy keeps out's method and headers; its URL is
// the target's (with the client's request URI for $request_uri), its Host
// the target's host or mirror-host.
func (c *call) mirrorURL(u *router.MirrorURL, out *http.Request) {
	mr := c.p.mirror
	if !u.NoBody && c.bodyTooBig {
		mr.countURL(u, mirrorBodyTooBig)
		return
	}
	target, err := u.Target(c.in.URL.RequestURI(), c.in.URL.RawQuery)
	if err != nil {
		mr.countURL(u, mirrorFailed)
		return
	}
	select {
	case mr.slots <- struct{}{}:
	default:
		mr.countURL(u, mirrorBusy)
		return
	}
	req := &http.Request{
		Method: out.Method,
		URL:    target,
		Proto:  "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host:   u.Host,
		Header: out.Header.Clone(),
		Body:   http.NoBody,
	}
	switch {
	case u.NoBody:
		delete(req.Header, "Content-Length")
		delete(req.Header, "Transfer-Encoding")
	case c.replay != nil:
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(c.replay)), int64(len(c.replay))
	}
	proto := router.HTTP
	if u.Scheme == "https" {
		proto = router.HTTPS
	}
	go mr.doURL(u, c.p.transport(proto), req)
}

func (mr *mirrorer) doURL(u *router.MirrorURL, rt http.RoundTripper, req *http.Request) {
	defer func() { <-mr.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), mr.p.cfg.Mirror.Timeout)
	defer cancel()
	resp, err := rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		mr.p.cfg.Log.Debug("mirrored request failed", "target", u.Addr, "err", err)
		mr.countURL(u, mirrorFailed)
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, mirrorDrainBytes)
	_ = resp.Body.Close()
	mr.countURL(u, mirrorAnswered)
}

// countURL counts a copy for a mirror-target: its namespace label is empty
// and its service label is the target's host:port.
func (mr *mirrorer) countURL(u *router.MirrorURL, result string) {
	if m := mr.p.cfg.Metrics; m != nil {
		m.mirrors.WithLabelValues("", u.Addr, result).Inc()
	}
}
