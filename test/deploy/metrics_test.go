package deploy

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"portico.dev/portico/test/harness"
)

// trafficScrape is /metrics of a Portico that served a known request mix
// (see scrapeAfterTraffic). TestMetrics and TestGrafanaDashboard share it.
type trafficScrape struct {
	text     []byte
	families map[string]*dto.MetricFamily
	ns       string // the application's namespace
	certEnd  time.Time
}

var cachedScrape *trafficScrape

// scrapeAfterTraffic runs Portico (as admin: RBAC is TestRBAC*'s business)
// in front of an application with three Ingresses and sends, in order:
//
//	site (Service web, one backend, TLS Secret site-tls):
//	    4× GET / and 1× POST / (100-byte body) → 5× 2xx
//	    2× GET /__status/404                  → 2× 4xx (from the backend)
//	flaky (Service flaky: one dead and one live endpoint):
//	    2× GET / → 2× 2xx; round-robin sends one to the dead endpoint,
//	    whose connection fails and is retried on the live one
//	dead (Service dead: its only endpoint is dead): 1× GET / → 502
//	a host no rule matches: 1× GET / → 404 with empty labels
//	one TLS handshake that succeeds, one that fails (TLS 1.0 only)
//
// then scrapes /metrics once.
func scrapeAfterTraffic(t *testing.T) *trafficScrape {
	t.Helper()
	if cachedScrape != nil {
		return cachedScrape
	}
	// The overlays' IngressClass is deleted with them after each test.
	harness.EnsureIngressClass(t, cp, "portico", false)
	a := newApp(t, true, 1, 0)
	// flaky and dead: backends in their own pod, first address dead.
	pod, err := harness.NewPod(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	l, err := pod.Listen("tcp", net.JoinHostPort(pod.Addrs[1].String(), "8080"))
	if err != nil {
		t.Fatal(err)
	}
	live := harness.StartBackend(l, "flaky-live")
	t.Cleanup(live.Close)
	dead, alive := harness.Endpoint{Addr: pod.Addrs[0].String()}, harness.Endpoint{Addr: pod.Addrs[1].String()}
	harness.Service(t, cp, a.ns, "flaky", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(a.ns, "flaky", "flaky-1", 8080, dead, alive))
	harness.Service(t, cp, a.ns, "dead", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(a.ns, "dead", "dead-1", 8080, dead))
	flakyHost, deadHost := "flaky."+a.ns+".test", "dead."+a.ns+".test"
	harness.CreateIngress(t, cp, harness.IngressObject(a.ns, "flaky", "portico", flakyHost, harness.Path("/", prefix, "flaky", 80)))
	harness.CreateIngress(t, cp, harness.IngressObject(a.ns, "dead", "portico", deadHost, harness.Path("/", prefix, "dead", 80)))

	p := harness.StartPortico(t, cp, "--election-namespace", a.ns)
	c, base := p.Client(), "http://"+p.HTTPAddr
	// Wait until all three are routed, without sending counted requests:
	// /debug/routes shows the live table.
	harness.Eventually(t, 15*time.Second, func() error {
		resp, err := http.Get("http://" + p.MetricsAddr + "/debug/routes")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		for _, h := range []string{a.host, flakyHost, deadHost} {
			if !strings.Contains(b.String(), `"`+h+`"`) {
				return fmt.Errorf("%s not in /debug/routes yet", h)
			}
		}
		return nil
	})
	send := func(method, path, host, body string, want int) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s%s: %d, want %d", method, host, path, resp.StatusCode, want)
		}
	}
	for range 4 {
		send("GET", "/", a.host, "", 200)
	}
	send("POST", "/", a.host, strings.Repeat("x", 100), 200)
	for range 2 {
		send("GET", "/__status/404", a.host, "", 404)
	}
	for range 2 {
		send("GET", "/", flakyHost, "", 200)
	}
	send("GET", "/", deadHost, "", 502)
	send("GET", "/", "nothing.example.test", "", 404)
	conn, err := tls.Dial("tcp", p.HTTPSAddr, &tls.Config{ServerName: a.host, InsecureSkipVerify: true}) //nolint:gosec // only the handshake matters
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if conn, err := tls.Dial("tcp", p.HTTPSAddr, &tls.Config{ServerName: a.host, MaxVersion: tls.VersionTLS10, InsecureSkipVerify: true}); err == nil { //nolint:gosec // must fail
		conn.Close()
		t.Fatal("a TLS 1.0 handshake succeeded")
	}

	// Counters are updated when the response is done; a handshake when
	// the server finishes it (after the client already has: the client
	// may close first) and a handshake error when the server gives up.
	// Wait for the last of them.
	var text string
	harness.Eventually(t, 5*time.Second, func() error {
		if text, err = p.Metrics(); err != nil {
			return err
		}
		if v, _ := sample(text, "portico_tls_handshake_errors_total"); v < 1 {
			return fmt.Errorf("no handshake error counted yet")
		}
		if v, _ := sample(text, "portico_tls_handshakes_total"); v < 1 {
			return fmt.Errorf("no handshake counted yet")
		}
		return nil
	})
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("/metrics is not valid exposition text: %v", err)
	}
	cachedScrape = &trafficScrape{text: []byte(text), families: fams, ns: a.ns, certEnd: a.cert.NotAfter}
	return cachedScrape
}

// value returns the value of the sample of family name whose labels are
// exactly want (a counter's or gauge's value, a histogram's count).
func (s *trafficScrape) value(name string, want map[string]string) (float64, bool) {
	f := s.families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		if !maps.Equal(got, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics checks /metrics after the request mix of scrapeAfterTraffic:
// exact request counts by Ingress, method and status class, histogram
// counts, the upstream, TLS, certificate and controller metrics, no
// label value that was not a matched rule's, and promlint finds nothing.
func TestMetrics(t *testing.T) {
	s := scrapeAfterTraffic(t)
	ns := s.ns
	site := map[string]string{"namespace": ns, "ingress": "site", "service": "web"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name    string
		labels  map[string]string
		want    float64
		atLeast bool
	}{
		{"portico_requests_total", with(site, "method", "GET", "status_class", "2xx"), 4, false},
		{"portico_requests_total", with(site, "method", "POST", "status_class", "2xx"), 1, false},
		{"portico_requests_total", with(site, "method", "GET", "status_class", "4xx"), 2, false},
		{"portico_requests_total", map[string]string{"namespace": ns, "ingress": "flaky", "service": "flaky", "method": "GET", "status_class": "2xx"}, 2, false},
		{"portico_requests_total", map[string]string{"namespace": ns, "ingress": "dead", "service": "dead", "method": "GET", "status_class": "5xx"}, 1, false},
		// Unmatched: no namespace, Ingress or Service, never the request's host.
		{"portico_requests_total", map[string]string{"namespace": "", "ingress": "", "service": "", "method": "GET", "status_class": "4xx"}, 1, false},
		{"portico_request_duration_seconds", site, 7, false},
		{"portico_upstream_duration_seconds", site, 7, false},
		{"portico_request_bytes_total", site, 100, true},
		{"portico_response_bytes_total", site, 7, true}, // every answer has a body
		{"portico_requests_in_flight", map[string]string{}, 0, false},
		{"portico_upstream_connection_errors_total", map[string]string{"namespace": ns, "service": "flaky"}, 1, true},
		{"portico_upstream_connection_errors_total", map[string]string{"namespace": ns, "service": "dead"}, 1, true},
		{"portico_upstream_retries_total", map[string]string{"namespace": ns, "service": "flaky"}, 1, false},
		{"portico_tls_handshakes_total", map[string]string{}, 1, false},
		{"portico_tls_handshake_errors_total", map[string]string{}, 1, false},
		{"portico_tls_certificate_expiry_timestamp_seconds", map[string]string{"namespace": ns, "secret": "site-tls"}, float64(s.certEnd.Unix()), false},
		{"portico_tls_invalid_secrets", map[string]string{}, 0, false},
		{"portico_ingresses", map[string]string{"state": "admitted"}, 3, false},
		{"portico_config_builds_total", map[string]string{"result": "success"}, 1, true},
		{"portico_config_build_duration_seconds", map[string]string{}, 1, true},
		{"portico_config_last_build_timestamp_seconds", map[string]string{}, float64(time.Now().Add(-time.Hour).Unix()), true},
		{"portico_leader", map[string]string{}, 1, false},
		{"process_resident_memory_bytes", map[string]string{}, 1, true},
		{"go_goroutines", map[string]string{}, 1, true},
	}
	for _, tc := range cases {
		got, ok := s.value(tc.name, tc.labels)
		series := tc.name + fmtLabels(tc.labels)
		switch {
		case !ok:
			t.Errorf("no sample %s", series)
		case tc.atLeast && got < tc.want:
			t.Errorf("%s = %v, want at least %v", series, got, tc.want)
		case !tc.atLeast && got != tc.want:
			t.Errorf("%s = %v, want %v", series, got, tc.want)
		}
	}

	// Bounded labels: no request path or client address in any label value.
	for name, f := range s.families {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if v := l.GetValue(); strings.Contains(v, "/") || strings.Contains(v, "127.0.0.1") || strings.Contains(v, "nothing.example") {
					t.Errorf("%s has label %s=%q: unbounded values (paths, client addresses, unmatched hosts) must not be labels", name, l.GetName(), v)
				}
			}
		}
	}

	problems, err := promlint.New(bytes.NewReader(s.text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// fmtLabels prints labels as PromQL does: {a="1",b="2"}, sorted.
func fmtLabels(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}
