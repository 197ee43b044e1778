// Package router holds Portico's routing table: an immutable, compiled view of
// every Ingress rule, matched by host and then by path as the Ingress v1 spec
// describes. It knows nothing of Kubernetes; the controller builds tables and
// the proxy reads the live one.
package router

import (
	"regexp"
	"slices"
	"time"
)

// PathType is how a rule's path is compared with a request's path.
type PathType uint8

const (
	// Prefix matches element-wise on '/'-separated segments: "/foo" matches
	// "/foo", "/foo/" and "/foo/bar" but not "/foobar". A trailing slash in
	// the rule is ignored. ImplementationSpecific is compiled as Prefix.
	Prefix PathType = iota
	// Exact matches the whole path, case-sensitively; "/foo" is not "/foo/".
	Exact
	// Regex matches the whole path against an RE2 expression (Gateway API
	// RegularExpression). Regex rules of a host are tried after its Exact
	// rules and before its Prefix rules, in the order given to New.
	Regex
	// RegexPrefix matches when a case-insensitive RE2 expression matches
	// at the start of the path, whatever follows: ingress-nginx's
	// location ~* "^path" (use-regex, rewrite-target). PathRegex is
	// compiled by the translator (see CompileRegexPrefix). A host's
	// RegexPrefix rules are tried where Regex rules are, longest Path
	// first (see regexprefix.go).
	RegexPrefix
)

var pathTypeNames = [...]string{Prefix: "Prefix", Exact: "Exact", Regex: "RegularExpression", RegexPrefix: "RegexPrefix"}

func (t PathType) String() string {
	if int(t) < len(pathTypeNames) {
		return pathTypeNames[t]
	}
	return "unknown"
}

// Route is one compiled rule: a host, a path and conditions that lead to a
// backend.
type Route struct {
	Host string // "foo.com", "*.foo.com", or "" for any host
	Path string // as written in the rule ("/" for default backends); the expression for Regex
	Type PathType
	// PathRegex is Path compiled by CompileAnchored, for Regex routes; the
	// translator compiles it (and reports an invalid expression). A Regex
	// route without it never matches.
	PathRegex *regexp.Regexp
	// Conditions narrow the route to requests with a method, headers or
	// query parameters (Gateway API matches). Zero for Ingress rules.
	Conditions Conditions
	// Backend serves the route when Backends is empty.
	Backend *Backend
	// Backends, when not empty, split the route's requests by weight
	// (Gateway API backendRefs); see Pick.
	Backends []WeightedBackend
	// Filters change the request or answer it; nil for none.
	Filters *Filters
	Options *Options // per-Ingress behaviour (annotations); never nil in a built table
	Source  string   // "namespace/name" of the Ingress it came from, or "flag" for the default backend flag
}

// WeightedBackend is one backend of a split and its share. A nil Backend
// (a reference that could not be resolved) keeps its share: requests that
// fall on it are answered 500, as the Gateway API requires.
type WeightedBackend struct {
	Backend *Backend
	Weight  uint32
	// Filters apply only to requests sent to this backend (Gateway API
	// backendRef filters), after the route's; nil for none.
	Filters *Filters
}

// Pick returns the backend for a request, given a uniformly random n. With
// a split, the backend is chosen in proportion to the weights; ok is false
// when the split has no weight at all or n falls on an unresolved backend
// (the caller answers 500). A route without Backends returns Backend.
func (r *Route) Pick(n uint64) (b *Backend, ok bool) {
	wb, ok := r.PickWeighted(n)
	if !ok || wb.Backend == nil {
		return nil, false
	}
	return wb.Backend, true
}

// PickWeighted is Pick that also returns the chosen backend's own filters:
// ok is false only for a split without weight; wb.Backend is nil for an
// unresolved share (and for a route without any backend).
func (r *Route) PickWeighted(n uint64) (wb WeightedBackend, ok bool) {
	if len(r.Backends) == 0 {
		return WeightedBackend{Backend: r.Backend, Weight: 1}, true
	}
	var total uint64
	for i := range r.Backends {
		total += uint64(r.Backends[i].Weight)
	}
	if total == 0 {
		return WeightedBackend{}, false
	}
	n %= total
	for i := range r.Backends {
		w := uint64(r.Backends[i].Weight)
		if n < w {
			return r.Backends[i], true
		}
		n -= w
	}
	return WeightedBackend{}, false // unreachable: n < total
}

// Backend is a Service port and the endpoints that currently serve it.
type Backend struct {
	// ID is stable across table builds ("namespace/service:port"), so the
	// proxy can keep per-backend state (balancer position, health) across swaps.
	ID        string
	Namespace string
	Service   string
	Port      string // the port as the Ingress named it (name or number)
	// Endpoints are the "ip:port" addresses to send traffic to, in a stable
	// order. The controller already chose them (ready first, then
	// serving-but-terminating only when nothing else is left).
	Endpoints []string
	// Protocol, when not HTTP, is how to speak to this backend whatever
	// the route's Options say (Gateway API: the Service port's
	// appProtocol, e.g. kubernetes.io/h2c).
	Protocol Protocol
	// TLS, when set, makes the proxy speak TLS to the backend with this
	// configuration, whatever Protocol says about TLS (HTTP becomes HTTPS,
	// H2C becomes GRPCS-like HTTP/2 over TLS).
	TLS *BackendTLS
}

// Balance is a load-balancing policy.
type Balance uint8

const (
	RoundRobin Balance = iota
	LeastRequest
)

func (b Balance) String() string {
	if b == LeastRequest {
		return "least-request"
	}
	return "round-robin"
}

// Protocol is how the proxy speaks to a backend.
type Protocol uint8

const (
	HTTP Protocol = iota
	HTTPS
	H2C
	GRPC
	GRPCS
)

var protocolNames = [...]string{HTTP: "http", HTTPS: "https", H2C: "h2c", GRPC: "grpc", GRPCS: "grpcs"}

func (p Protocol) String() string {
	if int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return "unknown"
}

// Options is the per-Ingress behaviour set by annotations. Zero values mean
// "use the proxy's default".
type Options struct {
	Balance           Balance
	Protocol          Protocol
	ConnectTimeout    time.Duration
	ReadTimeout       time.Duration
	SendTimeout       time.Duration
	NextUpstreamTries int
	MaxBodyBytes      int64  // 0: unlimited
	UpstreamHost      string // "" keeps the client's Host
	SSLRedirect       bool   // redirect plain HTTP to HTTPS with 308
	HSTS              string // Strict-Transport-Security value, "" for none
	// SSLRedirectTrimSlash drops one trailing "/" of the request URI from
	// the SSL redirect's Location, as ingress-nginx does unless
	// preserve-trailing-slash (lua_ingress.lua).
	SSLRedirectTrimSlash bool `json:",omitempty"`

	// RequestTimeout bounds the whole request, every attempt and the
	// response body included; when it passes the client gets 504 (or, once
	// the response began, a broken one). BackendTimeout bounds each
	// attempt the same way, from sending to the response's end. For both,
	// 0 means none and NoTimeout an explicit none (Gateway API "0s"); a
	// route that sets either, in either way, is not bounded by the proxy's
	// default read timeout (Gateway API rule timeouts).
	RequestTimeout time.Duration
	BackendTimeout time.Duration
	// Retry, when set, retries answers with its status codes and failed
	// attempts (Gateway API rule retry); nil keeps NextUpstreamTries.
	Retry *RetryPolicy

	// AppRoot, when set, answers requests for the path "/" with this
	// redirect instead of the backend (ingress-nginx app-root).
	AppRoot *Redirect
	// Canary, when set, sends some requests to another backend (see
	// Canary.Chooses); nil for none.
	Canary *Canary
	// Affinity, when set, keeps a client on one endpoint with a cookie;
	// nil for none.
	Affinity *Affinity
	// HashBy, when set (and Affinity is not), picks the endpoint by a
	// consistent hash of parts of the request; nil for none.
	HashBy *HashBy
	// Access, when set, admits requests by client address; Limits, when
	// set, bounds each client address's requests. Both are checked before
	// any backend work.
	Access *AccessList
	Limits *RateLimits
	// Auth, when set, is checked before a backend is picked.
	Auth *Auth
	// ClientAuth, when set, is client-certificate authentication, checked
	// first (plain HTTP: after the SSL redirect); nil for none.
	ClientAuth *ClientAuth `json:",omitempty"`
	// ResponseRewrite, when set, rewrites the backend's Location, Refresh
	// and Set-Cookie headers; nil for none.
	ResponseRewrite *ResponseRewrite `json:",omitempty"`
	// NoAccessLog leaves the route's requests out of the access log
	// (ingress-nginx enable-access-log: "false").
	NoAccessLog bool `json:",omitempty"`
	// BasicAuth, when set, is checked after Access and Limits; nil for none.
	BasicAuth *BasicAuth `json:",omitempty"`
	// SatisfyAny (ingress-nginx satisfy: any): a client Access allows
	// needs no authentication (Auth, BasicAuth), and one it refuses may
	// still authenticate instead of getting 403.
	SatisfyAny bool `json:",omitempty"`
	// Compress, when set, compresses eligible responses (see compress.go);
	// nil for none.
	Compress *Compress `json:",omitempty"`
	// ErrorPages, when set, sends some failed requests to a default
	// backend (see ErrorPages); nil for none.
	ErrorPages *ErrorPages `json:",omitempty"`
	// NextUpstream, when set, says when a request goes on to another
	// endpoint; nil keeps the proxy's default (connect failures, and broken
	// connections of idempotent requests).
	NextUpstream *NextUpstream `json:",omitempty"`
}

// NoTimeout is a timeout that was explicitly turned off.
const NoTimeout time.Duration = -1

// RetryPolicy is a Gateway API HTTPRouteRetry. An attempt is sent again
// when it was answered with one of Codes, when its connection failed or
// broke before a response (refused, reset, closed), or when BackendTimeout
// ended it; only while the request can be sent again as it was (no body,
// or one the proxy buffered), within RequestTimeout, and with Backoff
// between attempts.
type RetryPolicy struct {
	Codes    []int // response statuses to retry, e.g. 500, 502, 503, 504
	Attempts int   // retries after the first attempt
	// Backoff is the least wait before a retry; it doubles for each
	// further one, up to ten times Backoff.
	Backoff time.Duration
}

// RetriesStatus reports whether code is one of p's status codes.
func (p *RetryPolicy) RetriesStatus(code int) bool {
	return slices.Contains(p.Codes, code)
}

// DefaultOptions is used for routes that set nothing.
var DefaultOptions = &Options{}
