package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsCountRequestsByRouteMethodAndClass(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	_, addr := backend(t, "b1", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("hello"))
	})
	f := newFixture(t, nil, Config{Metrics: m}, addr)
	for range 5 {
		f.do(t, "GET", "/ok", nil)
	}
	f.do(t, "POST", "/missing", strings.NewReader("abc"))
	f.do(t, "BREW", "/missing", nil)
	// A refused endpoint: one connection error, a retry on the same
	// (only) endpoint is not possible, so a 502.
	g := newFixture(t, nil, Config{Metrics: m}, refusedAddr(t))
	g.do(t, "GET", "/", nil)

	want := `
# HELP portico_requests_total Requests answered, by route (namespace, ingress, service; empty when no rule matched), method and status class.
# TYPE portico_requests_total counter
portico_requests_total{ingress="ing",method="GET",namespace="ns",service="svc",status_class="2xx"} 5
portico_requests_total{ingress="ing",method="GET",namespace="ns",service="svc",status_class="5xx"} 1
portico_requests_total{ingress="ing",method="OTHER",namespace="ns",service="svc",status_class="4xx"} 1
portico_requests_total{ingress="ing",method="POST",namespace="ns",service="svc",status_class="4xx"} 1
`
	if err := testutil.CollectAndCompare(m.requests, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.connectFails.WithLabelValues("ns", "svc")); got != 1 {
		t.Errorf("connection errors = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.respBytes.WithLabelValues("ns", "ing", "svc")); got < 25 {
		t.Errorf("response bytes = %v, want at least 5×5", got)
	}
	if got := testutil.ToFloat64(m.reqBytes.WithLabelValues("ns", "ing", "svc")); got != 3 {
		t.Errorf("request bytes = %v, want 3", got)
	}
	if got := testutil.CollectAndCount(m.duration); got != 1 {
		t.Errorf("duration series = %d, want 1 (one route)", got)
	}
	if got := testutil.ToFloat64(m.inFlight); got != 0 {
		t.Errorf("in flight = %v after all requests finished", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func BenchmarkMetricsObserve(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry())
	f := newFixture(b, nil, Config{Metrics: m})
	route := f.proxy.cfg.Table.Load().Routes()[0]
	req, _ := http.NewRequest("GET", "/", nil)
	c := &call{p: f.proxy, route: route, in: req, attempts: 1}
	b.ReportAllocs()
	for b.Loop() {
		m.observe(c, 200, c.begin)
	}
}
