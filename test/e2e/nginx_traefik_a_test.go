package e2e

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// This file ports the ingress-nginx side of four suites of traefik's
// ingress-nginx migration tests (traefik e2e/*_suite_test.go): what
// ingress-nginx answers, which those suites assert for both controllers.
// Their requests come from one client that none of the suites' CIDRs
// except 0.0.0.0/0 contain; here that client is p.Client() (127.0.0.1).
// Each suite's Ingresses route to one Service "backend" (traefik/whoami);
// here each gets a Service of its own name with echo backends.

// traefikCase is one request of a ported suite and what ingress-nginx
// answers to it.
type traefikCase struct {
	name        string // upstream test, and which of its requests
	host, path  string
	header      []string // name, value, ...
	status      int
	backendHost string   // when set, the Host the backend must see
	echoed      []string // name, value, ... the backend must see
}

// traefikAsk sends GET path with Host host and headers hdr (name, value,
// ...) and returns the status and, when a backend answered, what it saw.
func traefikAsk(c *http.Client, base, host, path string, hdr ...string) (int, *harness.Echo, error) {
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s (Host %s): %w", path, host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("GET %s (Host %s): read body: %w", path, host, err)
	}
	if resp.Header.Get("X-Backend") == "" {
		return resp.StatusCode, nil, nil
	}
	e, err := harness.ParseEcho(body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("GET %s (Host %s): %w", path, host, err)
	}
	return resp.StatusCode, &e, nil
}

// check sends tc's request once and says how the answer differs from
// ingress-nginx's (nil when it does not).
func (tc traefikCase) check(c *http.Client, base string) error {
	st, e, err := traefikAsk(c, base, tc.host, tc.path, tc.header...)
	if err != nil {
		return err
	}
	if st != tc.status {
		return fmt.Errorf("%s: GET %s (Host %s): %d, want %d", tc.name, tc.path, tc.host, st, tc.status)
	}
	if tc.backendHost == "" && len(tc.echoed) == 0 {
		return nil
	}
	if e == nil {
		return fmt.Errorf("%s: GET %s (Host %s): %d not from a backend", tc.name, tc.path, tc.host, st)
	}
	if tc.backendHost != "" && e.Host != tc.backendHost {
		return fmt.Errorf("%s: backend saw Host %q, want %q", tc.name, e.Host, tc.backendHost)
	}
	for i := 0; i+1 < len(tc.echoed); i += 2 {
		if got := e.Headers.Get(tc.echoed[i]); got != tc.echoed[i+1] {
			return fmt.Errorf("%s: backend saw %s %q, want %q", tc.name, tc.echoed[i], got, tc.echoed[i+1])
		}
	}
	return nil
}

// runTraefikCases waits until ready (another client address, so that
// address-keyed state such as rate limits is not spent) answers every
// case as expected, then sends each case once from c.
func runTraefikCases(t *testing.T, c, ready *http.Client, base string, cases []traefikCase) {
	t.Helper()
	for _, tc := range cases {
		harness.Eventually(t, 10*time.Second, func() error { return tc.check(ready, base) })
	}
	for _, tc := range cases {
		if err := tc.check(c, base); err != nil {
			t.Error(err)
		}
	}
}

// TestNginxTraefikWhitelist ports traefik's e2e/whitelist_suite_test.go:
// whitelist-source-range and allowlist-source-range (which wins when both
// are set), allowing everybody or only TEST-NET-1.
func TestNginxTraefikWhitelist(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "wl", 1)
	for name, ann := range map[string]map[string]string{
		"whitelist-allow-test":      {ngx + "whitelist-source-range": "0.0.0.0/0"},
		"whitelist-deny-test":       {ngx + "whitelist-source-range": "192.0.2.0/24"},
		"allowlist-test":            {ngx + "allowlist-source-range": "0.0.0.0/0"},
		"allowlist-precedence-test": {ngx + "allowlist-source-range": "192.0.2.0/24", ngx + "whitelist-source-range": "0.0.0.0/0"},
		"whitelist-multi-cidr-test": {ngx + "whitelist-source-range": "10.0.0.0/8,172.16.0.0/12,0.0.0.0/0"},
	} {
		site(t, ns, name, name+".nginx.local", ann, hostOf(be[0]))
	}
	p := harness.StartPortico(t, cp, "--trusted-proxies", "127.0.0.2/32")
	base := "http://" + p.HTTPAddr
	const (
		allow      = "whitelist-allow-test.nginx.local"
		deny       = "whitelist-deny-test.nginx.local"
		allowlist  = "allowlist-test.nginx.local"
		precedence = "allowlist-precedence-test.nginx.local"
		multi      = "whitelist-multi-cidr-test.nginx.local"
	)
	runTraefikCases(t, p.Client(), fromAddr("127.0.0.30"), base, []traefikCase{
		{name: "whitelist_suite_test.go TestAllowAllAccess", host: allow, path: "/", status: 200},
		{name: "whitelist_suite_test.go TestDenyNonWhitelistedIP", host: deny, path: "/", status: 403},
		{name: "whitelist_suite_test.go TestDenyResponseBody", host: deny, path: "/", status: 403},
		{name: "whitelist_suite_test.go TestAllowAllWithDifferentPaths", host: allow, path: "/some/path", status: 200},
		{name: "whitelist_suite_test.go TestAllowlistAllAccess", host: allowlist, path: "/", status: 200},
		{name: "whitelist_suite_test.go TestAllowlistPrecedenceDeny", host: precedence, path: "/", status: 403},
		{name: "whitelist_suite_test.go TestAllowlistPrecedenceStatusMatch", host: precedence, path: "/", status: 403},
		{name: "whitelist_suite_test.go TestMultipleCIDRAllowAccess", host: multi, path: "/", status: 200},
		{name: "whitelist_suite_test.go TestMultipleCIDRStatusMatch", host: multi, path: "/", status: 200},
	})
	// Portico: the 403s are the source range's doing: a client inside
	// TEST-NET-1 (behind a trusted proxy) gets through both.
	proxy := fromAddr("127.0.0.2")
	for _, host := range []string{deny, precedence} {
		if st, _, err := traefikAsk(proxy, base, host, "/", "X-Forwarded-For", "192.0.2.7"); err != nil || st != 200 {
			t.Errorf("Host %s from 192.0.2.7 via a trusted proxy: %d %v, want 200", host, st, err)
		}
	}
}

// TestNginxTraefikRateLimit ports traefik's e2e/ratelimit_suite_test.go:
// limit-rps and limit-rpm. Under the limit a request passes untouched;
// over it ingress-nginx answers 503 (limit_req with burst = limit × the
// default limit-burst-multiplier 5, nodelay).
func TestNginxTraefikRateLimit(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "rl", 1)
	for name, ann := range map[string]map[string]string{
		"ratelimit-rps-test":        {ngx + "limit-rps": "10"},
		"ratelimit-rps-exceed-test": {ngx + "limit-rps": "1"},
		"ratelimit-rpm-test":        {ngx + "limit-rpm": "60"},
		"ratelimit-rpm-exceed-test": {ngx + "limit-rpm": "1"},
		"ratelimit-subpath-test":    {ngx + "limit-rps": "10"},
		"ratelimit-headers-test":    {ngx + "limit-rps": "10"},
		"ratelimit-both-test":       {ngx + "limit-rps": "10", ngx + "limit-rpm": "60"},
	} {
		site(t, ns, name, name+".nginx.local", ann, hostOf(be[0]))
	}
	p := harness.StartPortico(t, cp)
	base := "http://" + p.HTTPAddr
	c := p.Client()
	ready := fromAddr("127.0.0.30")
	runTraefikCases(t, c, ready, base, []traefikCase{
		{name: "ratelimit_suite_test.go TestRPSNormalRequest", host: "ratelimit-rps-test.nginx.local", path: "/", status: 200},
		{name: "ratelimit_suite_test.go TestRPMNormalRequest", host: "ratelimit-rpm-test.nginx.local", path: "/", status: 200},
		{name: "ratelimit_suite_test.go TestRPSOnSubpath", host: "ratelimit-subpath-test.nginx.local", path: "/some/path", status: 200},
		{name: "ratelimit_suite_test.go TestRPSPreservesHeaders", host: "ratelimit-headers-test.nginx.local", path: "/",
			header: []string{"X-Custom-Test", "ratelimit-test"}, status: 200, echoed: []string{"X-Custom-Test", "ratelimit-test"}},
		{name: "ratelimit_suite_test.go TestBothRPSAndRPM", host: "ratelimit-both-test.nginx.local", path: "/", status: 200},
	})

	// Sequential requests from one client, as upstream sends them: 10
	// against limit-rps 1, 30 against limit-rpm 1. ingress-nginx lets
	// limit+burst (1+5) through, plus what the loop's own duration refills,
	// and answers the rest 503; upstream asserts that a 503 comes.
	for _, tc := range []struct {
		name, host string
		n          int
		perSecond  float64
	}{
		{"ratelimit_suite_test.go TestRPSExceedLimit", "ratelimit-rps-exceed-test.nginx.local", 10, 1},
		{"ratelimit_suite_test.go TestRPMExceedLimit", "ratelimit-rpm-exceed-test.nginx.local", 30, 1.0 / 60},
	} {
		harness.Eventually(t, 10*time.Second, wantStatus(ready, base+"/", tc.host, 200))
		got := map[int]int{}
		start := time.Now()
		for i := 0; i < tc.n && time.Since(start) < 20*time.Second; i++ {
			st, _, err := traefikAsk(c, base, tc.host, "/")
			if err != nil {
				t.Fatalf("%s: request %d: %v", tc.name, i, err)
			}
			got[st]++
		}
		el := time.Since(start)
		t.Logf("%s: %d sequential requests in %v: %v", tc.name, tc.n, el.Round(time.Millisecond), got)
		lo, hi := 6, 6+int(el.Seconds()*tc.perSecond)+1
		if got[503] == 0 || got[200] < lo || got[200] > hi || got[200]+got[503] != tc.n {
			t.Errorf("%s: %v in %v, want 200s from %d to %d, the rest (at least one) 503", tc.name, got, el, lo, hi)
		}
	}
}

// TestNginxTraefikUpstreamHashBy ports traefik's
// e2e/upstreamhashby_suite_test.go: upstream-hash-by $request_uri keeps a
// URI on one endpoint (of three here; upstream's Deployment has one
// replica) and leaves requests otherwise untouched.
func TestNginxTraefikUpstreamHashBy(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "hb", 3)
	addrs := []string{hostOf(be[0]), hostOf(be[1]), hostOf(be[2])}
	site(t, ns, "upstream-hash-by-test", "upstream-hash-by-test.nginx.local", map[string]string{ngx + "upstream-hash-by": "$request_uri"}, addrs...)
	site(t, ns, "no-upstream-hash-by-test", "no-upstream-hash-by-test.nginx.local", nil, addrs...)
	p := harness.StartPortico(t, cp)
	base := "http://" + p.HTTPAddr
	c := p.Client()
	const hashBy = "upstream-hash-by-test.nginx.local"
	runTraefikCases(t, c, fromAddr("127.0.0.30"), base, []traefikCase{
		{name: "upstreamhashby_suite_test.go TestUpstreamHashByReturnsOK", host: hashBy, path: "/", status: 200},
		{name: "upstreamhashby_suite_test.go TestUpstreamHashByOnSubpath", host: hashBy, path: "/some/path", status: 200},
		{name: "upstreamhashby_suite_test.go TestUpstreamHashByPreservesHeaders", host: hashBy, path: "/",
			header: []string{"X-Custom-Test", "hash-by-value"}, status: 200, echoed: []string{"X-Custom-Test", "hash-by-value"}},
		{name: "upstreamhashby_suite_test.go TestNoUpstreamHashByReturnsOK", host: "no-upstream-hash-by-test.nginx.local", path: "/", status: 200},
	})

	// upstreamhashby_suite_test.go TestUpstreamHashByConsistentRouting:
	// five requests to /consistent-test, each 200, all from one backend.
	var backends []string
	for i := range 5 {
		st, e, err := traefikAsk(c, base, hashBy, "/consistent-test")
		if err != nil || st != 200 || e == nil {
			t.Fatalf("TestUpstreamHashByConsistentRouting request %d: %d %v", i, st, err)
		}
		backends = append(backends, e.Backend)
	}
	for i, b := range backends {
		if b != backends[0] {
			t.Errorf("TestUpstreamHashByConsistentRouting: request %d went to %s, request 0 to %s (all: %v)", i, b, backends[0], backends)
		}
	}
}

// TestNginxTraefikUpstreamVhost ports traefik's
// e2e/upstreamvhost_suite_test.go: upstream-vhost is the Host the backend
// sees, on every path, and changes no other header; without it the
// backend sees the client's Host.
func TestNginxTraefikUpstreamVhost(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "vh", 1)
	const custom = "custom.backend.internal"
	site(t, ns, "upstream-vhost-test", "upstream-vhost-test.nginx.local", map[string]string{ngx + "upstream-vhost": custom}, hostOf(be[0]))
	site(t, ns, "no-vhost-test", "no-vhost-test.nginx.local", nil, hostOf(be[0]))
	p := harness.StartPortico(t, cp)
	const vhost, noVhost = "upstream-vhost-test.nginx.local", "no-vhost-test.nginx.local"
	runTraefikCases(t, p.Client(), fromAddr("127.0.0.30"), "http://"+p.HTTPAddr, []traefikCase{
		{name: "upstreamvhost_suite_test.go TestUpstreamVhostOverridesHost", host: vhost, path: "/", status: 200, backendHost: custom},
		{name: "upstreamvhost_suite_test.go TestNoVhostUsesOriginalHost", host: noVhost, path: "/", status: 200, backendHost: noVhost},
		{name: "upstreamvhost_suite_test.go TestUpstreamVhostOnSubpath", host: vhost, path: "/some/path", status: 200, backendHost: custom},
		{name: "upstreamvhost_suite_test.go TestUpstreamVhostPreservesOtherHeaders", host: vhost, path: "/",
			header: []string{"X-Custom-Header", "test-value"}, status: 200, echoed: []string{"X-Custom-Header", "test-value"}},
	})
}
