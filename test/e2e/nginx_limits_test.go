package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// fromAddr is a client whose connections come from local (a loopback
// address: the client IP Portico sees).
func fromAddr(local string) *http.Client {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 64,
	}}
}

func clientStatus(t *testing.T, c *http.Client, url, host, xff string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestNginxAccessLists: allow and deny lists by the client address
// --trusted-proxies resolves: the peer, or the X-Forwarded-For client of
// a trusted proxy (127.0.0.2).
func TestNginxAccessLists(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	n := "nginx.ingress.kubernetes.io/"
	site(t, ns, "deny", "deny.test", map[string]string{n + "denylist-source-range": "18.0.0.0/8, 56.0.0.1"}, hostOf(be[0]))
	site(t, ns, "both", "both.test", map[string]string{n + "denylist-source-range": "18.1.0.0/16, 56.0.0.0/8",
		n + "whitelist-source-range": "18.0.0.0/8, 55.0.0.0/8"}, hostOf(be[0]))
	site(t, ns, "direct", "direct.test", map[string]string{n + "allowlist-source-range": "127.0.0.10, ::1/128"}, hostOf(be[0]))
	site(t, ns, "broken", "broken.test", map[string]string{n + "allowlist-source-range": "127.0.0.0/8, nonsense"}, hostOf(be[0]))

	p := harness.StartPortico(t, cp, "--trusted-proxies", "127.0.0.2/32")
	url := "http://" + p.HTTPAddr + "/"
	harness.Eventually(t, 10*time.Second, wantStatus(p.Client(), url, "broken.test", 503))
	proxy, other, allowed := fromAddr("127.0.0.2"), fromAddr("127.0.0.11"), fromAddr("127.0.0.10")
	for _, tc := range []struct {
		src       string
		c         *http.Client
		host, xff string
		want      int
	}{
		// ingress-nginx annotations/ipdenylist.go "only deny explicitly denied IPs, allow all others"
		{"ipdenylist.go deny 1", proxy, "deny.test", "18.0.0.1", 403},
		{"ipdenylist.go deny 2", proxy, "deny.test", "56.0.0.1", 403},
		{"ipdenylist.go deny 3", proxy, "deny.test", "56.0.0.2", 200},
		// ingress-nginx annotations/ipdenylist.go "only allow explicitly allowed IPs, deny all others"
		{"ipdenylist.go both 1", proxy, "both.test", "18.1.0.1", 403},
		{"ipdenylist.go both 2", proxy, "both.test", "10.10.10.10", 403},
		{"ipdenylist.go both 3", proxy, "both.test", "18.4.0.1", 200},
		{"ipdenylist.go both 4", proxy, "both.test", "55.55.55.55", 200},
		// Portico: an untrusted peer's X-Forwarded-For is ignored.
		{"spoofed XFF from an untrusted peer", other, "deny.test", "18.0.0.1", 200},
		{"spoofed XFF cannot join an allowlist", other, "both.test", "55.55.55.55", 403},
		// Direct clients, no proxy.
		{"direct allowed", allowed, "direct.test", "", 200},
		{"direct refused", other, "direct.test", "", 403},
		{"trusted proxy for an allowed client", proxy, "direct.test", "127.0.0.10", 200},
		// An allowlist that does not parse refuses everybody.
		{"invalid allowlist fails closed", allowed, "broken.test", "", 503},
	} {
		if got := clientStatus(t, tc.c, url, tc.host, tc.xff); got != tc.want {
			t.Errorf("%s: Host %s X-Forwarded-For %q: %d, want %d", tc.src, tc.host, tc.xff, got, tc.want)
		}
	}
}

// TestNginxLimitConnections: 20 parallel slow requests against
// limit-connections 8: 8 are served, 12 get 503; a second client address
// has its own 8.
func TestNginxLimitConnections(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	site(t, ns, "conns", "conns.test", map[string]string{"nginx.ingress.kubernetes.io/limit-connections": "8"}, hostOf(be[0]))
	p := harness.StartPortico(t, cp, "--trusted-proxies", "127.0.0.2/32")
	url := "http://" + p.HTTPAddr + "/__sleep?d=2s"
	harness.Eventually(t, 10*time.Second, wantStatus(p.Client(), "http://"+p.HTTPAddr+"/", "conns.test", 200))

	// ingress-nginx annotations/limitconnections.go "should limit-connections"
	burst := func(c *http.Client, xff string) map[int]int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		got := map[int]int{}
		for range 20 {
			wg.Go(func() {
				st := clientStatus(t, c, url, "conns.test", xff)
				mu.Lock()
				got[st]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return got
	}
	var wg sync.WaitGroup
	var a, b, viaProxy map[int]int
	wg.Go(func() { a = burst(fromAddr("127.0.0.21"), "") })
	wg.Go(func() { b = burst(fromAddr("127.0.0.22"), "") })
	wg.Go(func() { viaProxy = burst(fromAddr("127.0.0.2"), "203.0.113.9") })
	wg.Wait()
	t.Logf("limit-connections 8, 20 parallel 2s requests per client: %v, %v, via proxy %v", a, b, viaProxy)
	for name, got := range map[string]map[int]int{"127.0.0.21": a, "127.0.0.22": b, "203.0.113.9 via a trusted proxy": viaProxy} {
		if got[200] != 8 || got[503] != 12 {
			t.Errorf("client %s: statuses %v, want 8×200 and 12×503", name, got)
		}
	}
}

// TestNginxLimitRPS: with limit-rps 5, a burst of 40 requests from one
// client gets 5×multiplier+1 answers 200 (nginx limit_req burst nodelay),
// give or take the tokens the burst's own duration refills.
func TestNginxLimitRPS(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	for m := 1; m <= 5; m++ {
		site(t, ns, fmt.Sprintf("rps%d", m), fmt.Sprintf("rps%d.test", m), map[string]string{
			"nginx.ingress.kubernetes.io/limit-rps":              "5",
			"nginx.ingress.kubernetes.io/limit-burst-multiplier": fmt.Sprint(m),
		}, hostOf(be[0]))
	}
	p := harness.StartPortico(t, cp)
	url := "http://" + p.HTTPAddr + "/"
	for m := 1; m <= 5; m++ {
		harness.Eventually(t, 10*time.Second, wantStatus(fromAddr("127.0.0.30"), url, fmt.Sprintf("rps%d.test", m), 200))
	}
	for m := 1; m <= 5; m++ {
		c := fromAddr(fmt.Sprintf("127.0.0.%d", 40+m))
		host := fmt.Sprintf("rps%d.test", m)
		start := time.Now()
		var mu sync.Mutex
		var wg sync.WaitGroup
		got := map[int]int{}
		for range 40 {
			wg.Go(func() {
				st := clientStatus(t, c, url, host, "")
				mu.Lock()
				got[st]++
				mu.Unlock()
			})
		}
		wg.Wait()
		el := time.Since(start)
		t.Logf("limit-rps 5, multiplier %d: 40 parallel requests in %v: %v", m, el.Round(time.Millisecond), got)
		lo, hi := 5*m+1, 5*m+1+int(el.Seconds()*5)+1
		if got[200] < lo || got[200] > hi || got[200]+got[503] != 40 {
			t.Errorf("multiplier %d: %v in %v, want 200s from %d to %d, the rest 503", m, got, el, lo, hi)
		}
	}
}
