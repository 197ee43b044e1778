package proxy

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"portico.dev/portico/router"
)

// MirrorConfig bounds request mirroring (Gateway API RequestMirror).
type MirrorConfig struct {
	// Concurrency is how many mirrored requests may be in flight at once,
	// per listener; a copy that finds no free slot is dropped (and
	// counted). Default 128.
	Concurrency int
	// Timeout bounds one mirrored request, response body included.
	// Default 10s.
	Timeout time.Duration
}

func (m *MirrorConfig) fill() {
	if m.Concurrency <= 0 {
		m.Concurrency = 128
	}
	if m.Timeout <= 0 {
		m.Timeout = 10 * time.Second
	}
}

// mirrorDrainBytes is how much of a mirror's answer is read (so that its
// connection can be reused) before it is closed.
const mirrorDrainBytes = 64 << 10

// mirrorer sends copies of requests to mirror backends, fire and forget:
// the client's request never waits for one, and nothing a mirror answers
// or fails reaches the client.
type mirrorer struct {
	p     *Proxy
	slots chan struct{}
}

func newMirrorer(p *Proxy) *mirrorer {
	return &mirrorer{p: p, slots: make(chan struct{}, p.cfg.Mirror.Concurrency)}
}

// Mirror results, the label of portico_mirrored_requests_total.
const (
	mirrorAnswered   = "answered"     // the mirror answered (any status)
	mirrorFailed     = "failed"       // no answer: connection error or timeout
	mirrorBusy       = "dropped_busy" // every slot was in use
	mirrorBodyTooBig = "skipped_body" // the body was too big to buffer
	mirrorNoEndpoint = "no_endpoint"  // the mirror backend has no endpoint
)

// mirrors are the request mirrors of the call's route.
func (c *call) mirrors() []router.Mirror {
	if f := c.route.Filters; f != nil {
		return f.Mirrors
	}
	return nil
}

// mirror sends copies of out, the request as the backend gets it after the
// rule's filters (before the chosen backend's own), to the route's mirrors
// that sample it. Upgrades are never mirrored: the copy could not take
// part in the connection.
func (c *call) mirror(out *http.Request) {
	ms := c.mirrors()
	if len(ms) == 0 || len(c.in.Header["Upgrade"]) > 0 {
		return
	}
	for i := range ms {
		m := &ms[i]
		if u := m.URL; u != nil {
			c.mirrorURL(u, out) // proxy/mirrorurl.go
			continue
		}
		if m.Backend == nil || !m.Sampled(rand.Uint64()) {
			continue
		}
		if c.bodyTooBig {
			c.p.mirror.count(m.Backend, mirrorBodyTooBig)
			continue
		}
		c.p.mirror.send(m.Backend, out, c.replay)
	}
}

func (mr *mirrorer) count(b *router.Backend, result string) {
	if m := mr.p.cfg.Metrics; m != nil {
		m.mirrored(b, result)
	}
}

// send copies out (headers now, the body from the buffered bytes) and
// sends it to one endpoint of b on its own goroutine.
func (mr *mirrorer) send(b *router.Backend, out *http.Request, body []byte) {
	if b.TLS != nil && b.TLS.Invalid != "" {
		mr.count(b, mirrorFailed) // its BackendTLSPolicy cannot be used
		return
	}
	ep := mr.p.balancer.pick(b, router.RoundRobin, nil)
	if ep == nil {
		mr.count(b, mirrorNoEndpoint)
		return
	}
	select {
	case mr.slots <- struct{}{}:
	default:
		mr.count(b, mirrorBusy)
		return
	}
	scheme := "http"
	if p := backendProtocol(b, router.HTTP); p == router.HTTPS || p == router.GRPCS {
		scheme = "https"
	}
	req := &http.Request{
		Method: out.Method,
		URL: &url.URL{
			Scheme: scheme, Host: ep.addr,
			Path: out.URL.Path, RawPath: out.URL.RawPath, RawQuery: out.URL.RawQuery,
		},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		// The Host the backend gets: the spec asks for a copy of the
		// request, and says nothing of marking it (Envoy appends "-shadow").
		Host:   out.Host,
		Header: out.Header.Clone(),
		Body:   http.NoBody,
	}
	if body != nil {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	ep.inflight.Add(1)
	go mr.do(b, ep, req)
}

func (mr *mirrorer) do(b *router.Backend, ep *endpoint, req *http.Request) {
	defer func() {
		ep.inflight.Add(-1)
		<-mr.slots
	}()
	ctx, cancel := context.WithTimeout(context.Background(), mr.p.cfg.Mirror.Timeout)
	defer cancel()
	resp, err := mr.p.backendTransport(b, backendProtocol(b, router.HTTP)).RoundTrip(req.WithContext(ctx))
	if err != nil {
		mr.p.cfg.Log.Debug("mirrored request failed", "backend", b.ID, "endpoint", ep.addr, "err", err)
		mr.count(b, mirrorFailed)
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, mirrorDrainBytes)
	_ = resp.Body.Close()
	mr.count(b, mirrorAnswered)
}
