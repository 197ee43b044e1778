package main

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// waitForAPIServer wraps the API client's transport so that a read (GET:
// the informers' lists and watches, lease reads) that cannot even connect
// to the API server waits for it, polling with a short capped back-off,
// until the request's context ends.
//
// Why: client-go's reflector backs off exponentially after failed lists and
// watches (0.8 s doubling to 30 s, with jitter up to 2x), so after an outage
// of ten seconds an informer could stay blind for half a minute after the
// API server was back (measured: 32 s). A read that fails to dial has sent
// nothing, so retrying it is always safe; waiting inside the request means
// the reflector never sees the failure and never backs off, and the change
// the API server makes visible first is routed within the poll interval.
// Polling a refused port once per (at most) second per replica costs the
// API server nothing; once it listens, the first poll that connects is the
// real request, and lists after a reconnect are served from its watch
// cache. Writes are not held: their callers (status, Events, leader
// election) have their own retries and deadlines.
type waitForAPIServer struct {
	next           http.RoundTripper
	initial, limit time.Duration
}

func newWaitForAPIServer(next http.RoundTripper) http.RoundTripper {
	return &waitForAPIServer{next: next, initial: 100 * time.Millisecond, limit: time.Second}
}

func (w *waitForAPIServer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return w.next.RoundTrip(req)
	}
	delay := w.initial
	for {
		resp, err := w.next.RoundTrip(req)
		if err == nil || !dialFailed(err) {
			return resp, err
		}
		// Between half and all of delay, so replicas do not poll in step.
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		delay = min(2*delay, w.limit)
	}
}

// dialFailed reports whether err is a failure to connect, so that nothing
// of the request was sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
