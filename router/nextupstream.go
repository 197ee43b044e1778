package router

import (
	"slices"
	"time"
)

// NextUpstream is when a request goes on to another endpoint (ingress-nginx
// proxy-next-upstream, proxy-next-upstream-timeout): each condition as
// nginx's proxy_next_upstream names it. A NextUpstream with none set is
// "off": one attempt only. Options.NextUpstreamTries bounds the attempts.
type NextUpstream struct {
	Error         bool  // "error": connecting failed, or the connection broke before a response
	Timeout       bool  // "timeout": connecting timed out
	InvalidHeader bool  // "invalid_header": an empty or malformed response
	Codes         []int // "http_500", "http_502", ...: the backend answered with one of these
	// NonIdempotent: POST, LOCK, PATCH (and other non-idempotent methods)
	// go on too once sent; otherwise they do only when nothing was sent.
	NonIdempotent bool
	// Within, when above 0, is how long after the first attempt another
	// may start (proxy-next-upstream-timeout).
	Within time.Duration
}

// Off reports whether no condition is set.
func (n *NextUpstream) Off() bool {
	return !n.Error && !n.Timeout && !n.InvalidHeader && len(n.Codes) == 0
}

// RetriesStatus reports whether an answer with code goes on.
func (n *NextUpstream) RetriesStatus(code int) bool { return slices.Contains(n.Codes, code) }
