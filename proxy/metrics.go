package proxy

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"portico.dev/portico/router"
)

// Metrics are the data plane's Prometheus metrics. Labels are bounded: the
// namespace, Ingress and Service of the route that matched (empty for
// requests that matched none), a method from a fixed list, and the status
// class; never a path, a client address or an unmatched Host.
type Metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	upstream     *prometheus.HistogramVec
	reqBytes     *prometheus.CounterVec
	respBytes    *prometheus.CounterVec
	inFlight     prometheus.Gauge
	connectFails *prometheus.CounterVec
	retries      *prometheus.CounterVec
	truncated    *prometheus.CounterVec
	mirrors      *prometheus.CounterVec

	mu     sync.Mutex                             // serializes cache misses
	routes atomic.Pointer[map[routeKey]*routeSet] // copy-on-write, read without locks
}

// routeKey identifies a route's label set across table swaps.
type routeKey struct{ source, backend string }

// routeSet caches a route's metric children so that the request path does
// no label hashing; request counters are created on first use only.
type routeSet struct {
	labels    [3]string // namespace, ingress, service
	requests  [len(methods) + 1][5]atomic.Pointer[counterRef]
	duration  prometheus.Observer
	upstream  prometheus.Observer
	reqBytes  prometheus.Counter
	respBytes prometheus.Counter
}

type counterRef struct{ prometheus.Counter }

// methods get their own label value; anything else is "OTHER".
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

var statusClasses = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// NewMetrics registers the data plane's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	route := []string{"namespace", "ingress", "service"}
	// Latency buckets from 1 ms to about 30 s.
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_requests_total",
			Help: "Requests answered, by route (namespace, ingress, service; empty when no rule matched), method and status class.",
		}, append(route, "method", "status_class")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portico_request_duration_seconds", Help: "Time from request received to response complete, by route.", Buckets: buckets,
		}, route),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portico_upstream_duration_seconds", Help: "Time from sending to the backend to its response headers (last attempt), by route.", Buckets: buckets,
		}, route),
		reqBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_request_bytes_total", Help: "Request body bytes received from clients (as declared by Content-Length), by route.",
		}, route),
		respBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_response_bytes_total", Help: "Response body bytes sent to clients, by route.",
		}, route),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_requests_in_flight", Help: "Requests being served now.",
		}),
		connectFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_upstream_connection_errors_total", Help: "Connections to backend endpoints that could not be made, by Service.",
		}, []string{"namespace", "service"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_upstream_retries_total", Help: "Requests sent again to another endpoint after a failed attempt, by Service.",
		}, []string{"namespace", "service"}),
		truncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_upstream_responses_truncated_total", Help: "Responses whose body failed mid-way (the backend closed or broke it); the client's connection was aborted, by Service.",
		}, []string{"namespace", "service"}),
		mirrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_mirrored_requests_total",
			Help: "Copies of requests for mirror backends (Gateway API RequestMirror), by Service and result: answered, failed (no answer: connection error or timeout), dropped_busy (too many in flight), skipped_body (request body too big to buffer), no_endpoint.",
		}, []string{"namespace", "service", "result"}),
	}
	reg.MustRegister(m.requests, m.duration, m.upstream, m.reqBytes, m.respBytes, m.inFlight, m.connectFails, m.retries, m.truncated, m.mirrors)
	empty := map[routeKey]*routeSet{}
	m.routes.Store(&empty)
	return m
}

// set returns the cached children for a route and the backend it picked
// (nil: no route matched, or no backend).
func (m *Metrics) set(r *router.Route, be *router.Backend) *routeSet {
	var k routeKey
	if r != nil && be != nil {
		k = routeKey{r.Source, be.ID}
	}
	if s := (*m.routes.Load())[k]; s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *m.routes.Load()
	if s := cur[k]; s != nil {
		return s
	}
	s := &routeSet{}
	if r != nil && be != nil {
		_, ingress, _ := strings.Cut(r.Source, "/")
		s.labels = [3]string{be.Namespace, ingress, be.Service}
	}
	l := s.labels[:]
	s.duration, s.upstream = m.duration.WithLabelValues(l...), m.upstream.WithLabelValues(l...)
	s.reqBytes, s.respBytes = m.reqBytes.WithLabelValues(l...), m.respBytes.WithLabelValues(l...)
	// Copy on write. Routes that left the table stay cached until the
	// cache has grown well past what is live, then it starts afresh.
	next := make(map[routeKey]*routeSet, len(cur)+1)
	if len(cur) < 4096 || len(cur) < 4*len(next) {
		for key, v := range cur {
			next[key] = v
		}
	}
	next[k] = s
	m.routes.Store(&next)
	return s
}

func (m *Metrics) count(s *routeSet, method string, status int) {
	mi := len(methods)
	for i, name := range methods {
		if name == method {
			mi = i
			break
		}
	}
	ci := min(max(status/100-1, 0), 4)
	slot := &s.requests[mi][ci]
	ref := slot.Load()
	if ref == nil {
		name := "OTHER"
		if mi < len(methods) {
			name = methods[mi]
		}
		ref = &counterRef{m.requests.WithLabelValues(s.labels[0], s.labels[1], s.labels[2], name, statusClasses[ci])}
		slot.Store(ref)
	}
	ref.Inc()
}

// observe records a finished request.
func (m *Metrics) observe(c *call, status int, now time.Time) {
	s := m.set(c.route, c.backend)
	m.count(s, c.in.Method, status)
	s.duration.Observe(now.Sub(c.begin).Seconds())
	if c.attempts > 0 {
		s.upstream.Observe(c.upstreamTime.Seconds())
	}
	if n := c.in.ContentLength; n > 0 {
		s.reqBytes.Add(float64(n))
	}
	if c.w.bytes > 0 {
		s.respBytes.Add(float64(c.w.bytes))
	}
}

func (m *Metrics) connectFailed(b *router.Backend) {
	m.connectFails.WithLabelValues(b.Namespace, b.Service).Inc()
}

func (m *Metrics) retried(b *router.Backend) {
	m.retries.WithLabelValues(b.Namespace, b.Service).Inc()
}

func (m *Metrics) truncatedResponse(b *router.Backend) {
	m.truncated.WithLabelValues(b.Namespace, b.Service).Inc()
}

func (m *Metrics) mirrored(b *router.Backend, result string) {
	m.mirrors.WithLabelValues(b.Namespace, b.Service, result).Inc()
}
