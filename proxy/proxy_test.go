package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portico.dev/portico/router"
)

func TestRetries(t *testing.T) {
	t.Parallel()
	var good atomic.Int64
	_, goodAddr := backend(t, "good", func(w http.ResponseWriter, r *http.Request) {
		good.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
	})
	dropper, dropped := dropAfterRequest(t)

	tests := []struct {
		name      string
		endpoints []string
		tries     int
		method    string
		body      string
		want      []int // statuses of consecutive requests
		wantGood  int64
		wantDrops int64
	}{
		{"GET to a refused endpoint is retried on another", []string{refusedAddr(t), goodAddr}, 0, "GET", "", []int{200, 200, 200, 200}, 4, 0},
		{"POST to a refused endpoint is retried: nothing was sent", []string{refusedAddr(t), goodAddr}, 0, "POST", "payload", []int{200, 200, 200, 200}, 4, 0},
		// Two of three Pods closed their listeners at once (a scale-down):
		// a refused connection does not use up a try, so the default 2 still
		// reaches the live one. Found by test/e2e's kubectl scale under load.
		{"refusals from two endpoints at once still reach the third", []string{refusedAddr(t), refusedAddr(t), goodAddr}, 0, "GET", "", []int{200, 200, 200}, 3, 0},
		{"refusals do not add tries once all endpoints were tried", []string{refusedAddr(t), refusedAddr(t)}, 0, "GET", "", []int{502}, 0, 0},
		{"one try means no retry", []string{refusedAddr(t)}, 1, "GET", "", []int{502}, 0, 0},
		{"one try means no retry, refused or not", []string{refusedAddr(t), goodAddr}, 1, "GET", "", []int{502}, 0, 0},
		{"GET whose connection dropped before an answer is retried", []string{dropper, goodAddr}, 0, "GET", "", []int{200, 200}, 2, 2},
		{"POST whose bytes reached a backend is never retried", []string{dropper, goodAddr}, 0, "POST", "payload", []int{502, 200, 502, 200}, 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good.Store(0)
			dropped.Store(0)
			f := newFixture(t, &router.Options{NextUpstreamTries: tc.tries}, Config{}, tc.endpoints...)
			for i, want := range tc.want {
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				resp, _ := f.do(t, tc.method, "/", body)
				if resp.StatusCode != want {
					t.Errorf("request %d: status %d, want %d", i, resp.StatusCode, want)
				}
			}
			if good.Load() != tc.wantGood || dropped.Load() != tc.wantDrops {
				t.Errorf("good backend got %d requests, dropper %d; want %d and %d", good.Load(), dropped.Load(), tc.wantGood, tc.wantDrops)
			}
		})
	}
}

// dropAfterRequest is a backend that reads a whole request (headers and
// the body its Content-Length announces) and closes without answering.
func dropAfterRequest(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int64
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				n.Add(1)
			}()
		}
	}()
	return l.Addr().String(), &n
}

func TestPassiveHealthSkipsRefusingEndpoint(t *testing.T) {
	t.Parallel()
	b := newBalancer(backoff{base: time.Hour})
	be := &router.Backend{ID: "b", Endpoints: []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}}
	bad := b.pick(be, router.RoundRobin, nil)
	b.failed(bad)
	for i := range 30 {
		if e := b.pick(be, router.RoundRobin, nil); e == bad {
			t.Fatalf("pick %d chose %s, which is in back-off", i, e.addr)
		}
	}
	// Kept across a table swap: a new Backend value, same address.
	be2 := &router.Backend{ID: "b", Endpoints: append([]string(nil), be.Endpoints...)}
	for range 30 {
		if e := b.pick(be2, router.LeastRequest, nil); e.addr == bad.addr {
			t.Fatalf("after a swap, %s in back-off was chosen", e.addr)
		}
	}
	// When everything is in back-off, one is still tried.
	for _, a := range be.Endpoints {
		b.failed(b.endpoint(a))
	}
	if b.pick(be, router.RoundRobin, nil) == nil {
		t.Fatal("all endpoints in back-off: got none, want one to try anyway")
	}
	b.succeeded(bad)
	if bad.downUntil.Load() != 0 {
		t.Error("success did not clear the back-off")
	}
}

func TestBackoffDoubles(t *testing.T) {
	t.Parallel()
	b := backoff{base: time.Second, max: 5 * time.Second}
	for fails, want := range map[int32]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 40: 5 * time.Second} {
		if got := b.after(fails); got != want {
			t.Errorf("after(%d) = %s, want %s", fails, got, want)
		}
	}
}

func TestBalancing(t *testing.T) {
	t.Parallel()
	eps := []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}
	t.Run("round-robin visits each in turn", func(t *testing.T) {
		b := newBalancer(backoff{})
		be := &router.Backend{ID: "rr", Endpoints: eps}
		seen := map[string]int{}
		for range 30 {
			seen[b.pick(be, router.RoundRobin, nil).addr]++
		}
		for _, a := range eps {
			if seen[a] != 10 {
				t.Errorf("%s picked %d times of 30, want 10: %v", a, seen[a], seen)
			}
		}
	})
	t.Run("least-request prefers the fewest in flight", func(t *testing.T) {
		b := newBalancer(backoff{})
		be := &router.Backend{ID: "lr", Endpoints: eps}
		b.endpoint(eps[0]).inflight.Store(5)
		b.endpoint(eps[1]).inflight.Store(1)
		b.endpoint(eps[2]).inflight.Store(3)
		for range 10 {
			if e := b.pick(be, router.LeastRequest, nil); e.addr != eps[1] {
				t.Fatalf("picked %s, want %s (1 in flight)", e.addr, eps[1])
			}
		}
		// In-flight counts are per address: a second backend sees them too.
		other := &router.Backend{ID: "other", Endpoints: []string{eps[0], eps[2]}}
		if e := b.pick(other, router.LeastRequest, nil); e.addr != eps[2] {
			t.Errorf("picked %s, want %s", e.addr, eps[2])
		}
	})
	t.Run("tried endpoints are excluded", func(t *testing.T) {
		b := newBalancer(backoff{})
		be := &router.Backend{ID: "x", Endpoints: eps[:2]}
		first := b.pick(be, router.RoundRobin, nil)
		second := b.pick(be, router.RoundRobin, []*endpoint{first})
		if second == nil || second == first {
			t.Fatalf("second pick %v, want the other endpoint", second)
		}
		if e := b.pick(be, router.RoundRobin, []*endpoint{first, second}); e != nil {
			t.Errorf("all tried: picked %s, want none", e.addr)
		}
	})
	t.Run("least-request over the proxy spreads concurrent requests", func(t *testing.T) {
		release := make(chan struct{})
		var slow, fast atomic.Int64
		_, slowAddr := backend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
			slow.Add(1)
			<-release
		})
		_, fastAddr := backend(t, "fast", func(w http.ResponseWriter, r *http.Request) { fast.Add(1) })
		f := newFixture(t, &router.Options{Balance: router.LeastRequest}, Config{}, slowAddr, fastAddr)
		// Park one request on the slow endpoint, then the rest must all
		// go to the fast one.
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := f.srv.Client().Get(f.srv.URL + "/")
			if err == nil {
				resp.Body.Close()
			}
		}()
		deadline := time.Now().Add(5 * time.Second)
		for slow.Load()+fast.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if fast.Load() == 1 { // the first went to fast; send another to park
			go func() { resp, err := f.srv.Client().Get(f.srv.URL + "/"); err2(resp, err) }()
			for slow.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		before := fast.Load()
		for range 10 {
			f.do(t, "GET", "/", nil)
		}
		close(release)
		<-done
		if got := fast.Load() - before; got != 10 {
			t.Errorf("fast endpoint got %d of 10 requests while slow had one in flight; want 10", got)
		}
	})
}

func err2(resp *http.Response, err error) {
	if err == nil {
		resp.Body.Close()
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	_, slow := backend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	_, ok := backend(t, "ok", nil)

	t.Run("read timeout answers 504", func(t *testing.T) {
		f := newFixture(t, &router.Options{ReadTimeout: 200 * time.Millisecond}, Config{}, slow)
		start := time.Now()
		resp, _ := f.do(t, "GET", "/", nil)
		if took := time.Since(start); resp.StatusCode != http.StatusGatewayTimeout || took > 2*time.Second {
			t.Errorf("status %d after %s, want 504 after about 200ms", resp.StatusCode, took)
		}
	})
	t.Run("send timeout answers 504", func(t *testing.T) {
		f := newFixture(t, &router.Options{SendTimeout: 200 * time.Millisecond}, Config{}, ok)
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = pw.Write([]byte("the start of a body that never ends")) }()
		start := time.Now()
		resp, _ := f.do(t, "POST", "/", pr)
		if took := time.Since(start); resp.StatusCode != http.StatusGatewayTimeout || took > 2*time.Second {
			t.Errorf("status %d after %s, want 504 after about 200ms", resp.StatusCode, took)
		}
	})
	t.Run("a route's connect timeout reaches the dialer", func(t *testing.T) {
		f := newFixture(t, &router.Options{ConnectTimeout: time.Nanosecond}, Config{}, ok)
		resp, _ := f.do(t, "GET", "/", nil)
		if resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("status %d, want 504 (dial timed out)", resp.StatusCode)
		}
	})
	t.Run("a body sent in time then a fast answer is fine", func(t *testing.T) {
		f := newFixture(t, &router.Options{SendTimeout: time.Second, ReadTimeout: time.Second}, Config{}, ok)
		for range 20 {
			resp, _ := f.do(t, "POST", "/", strings.NewReader("small"))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
		}
	})
	t.Run("timers never cut a streaming response", func(t *testing.T) {
		_, stream := backend(t, "stream", func(w http.ResponseWriter, r *http.Request) {
			for range 4 {
				_, _ = w.Write([]byte("tick\n"))
				http.NewResponseController(w).Flush()
				time.Sleep(150 * time.Millisecond)
			}
		})
		f := newFixture(t, &router.Options{ReadTimeout: 100 * time.Millisecond}, Config{}, stream)
		resp, body := f.do(t, "GET", "/", nil)
		if resp.StatusCode != 200 || strings.Count(body, "tick") != 4 {
			t.Errorf("status %d body %q, want 200 with 4 ticks", resp.StatusCode, body)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	// Counted by path, one per case: a request cut off may reach the
	// backend after its client got the answer.
	var mu sync.Mutex
	hits := make(map[string]int64)
	_, addr := backend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
	})
	f := newFixture(t, &router.Options{MaxBodyBytes: 1024}, Config{}, addr)
	big := strings.Repeat("x", 4096)
	tests := []struct {
		name     string
		body     io.Reader
		want     int
		wantHits int64
	}{
		{"declared length over the limit is refused before the backend", strings.NewReader(big), 413, 0},
		{"chunked body over the limit is cut", io.MultiReader(strings.NewReader(big)), 413, -1},
		{"body within the limit passes", strings.NewReader(big[:1024]), 200, 1},
		{"chunked body within the limit passes", io.MultiReader(strings.NewReader(big[:100])), 200, 1},
	}
	for i, tc := range tests {
		path := fmt.Sprintf("/%d", i)
		resp, _ := f.do(t, "POST", path, tc.body)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		mu.Lock()
		got := hits[path]
		mu.Unlock()
		if tc.wantHits >= 0 && got != tc.wantHits {
			t.Errorf("%s: backend saw %d requests, want %d", tc.name, got, tc.wantHits)
		}
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	_, addr := backend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"host": r.Host, "headers": r.Header})
	})
	type seen struct {
		Host    string
		Headers http.Header
	}
	get := func(t *testing.T, opts *router.Options, hdr ...string) seen {
		f := newFixture(t, opts, Config{}, addr)
		_, body := f.do(t, "GET", "/", nil, hdr...)
		var s seen
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatal(err, body)
		}
		return s
	}
	t.Run("hop-by-hop headers are removed", func(t *testing.T) {
		s := get(t, nil, "Connection", "X-Private", "X-Private", "secret", "Keep-Alive", "timeout=5",
			"Proxy-Connection", "keep-alive", "Te", "gzip", "Proxy-Authorization", "Basic eA==", "X-End", "kept")
		for _, h := range []string{"X-Private", "Keep-Alive", "Proxy-Connection", "Te", "Proxy-Authorization"} {
			if v, ok := s.Headers[h]; ok {
				t.Errorf("backend got hop-by-hop header %s: %q", h, v)
			}
		}
		if s.Headers.Get("X-End") != "kept" {
			t.Errorf("end-to-end header lost: %v", s.Headers)
		}
	})
	t.Run("Host passes through unchanged", func(t *testing.T) {
		f := newFixture(t, nil, Config{}, addr)
		req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
		req.Host = "app.example"
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s seen
		_ = json.NewDecoder(resp.Body).Decode(&s)
		if s.Host != "app.example" || s.Headers.Get("X-Forwarded-Host") != "app.example" {
			t.Errorf("backend saw Host %q, X-Forwarded-Host %q; want app.example for both", s.Host, s.Headers.Get("X-Forwarded-Host"))
		}
	})
	t.Run("forwarded headers from an untrusted client are replaced", func(t *testing.T) {
		s := get(t, nil, "X-Real-IP", "6.6.6.6", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Port", "1", "Forwarded", "for=6.6.6.6")
		if p := s.Headers.Get("X-Forwarded-Port"); p == "1" || p == "" {
			t.Errorf("X-Forwarded-Port = %q, want the listener's port", p)
		}
		for k, want := range map[string]string{"X-Real-Ip": "127.0.0.1", "X-Forwarded-For": "127.0.0.1", "Forwarded": ""} {
			if got := strings.Join(s.Headers[k], ","); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	})
	t.Run("upstream-host overrides Host", func(t *testing.T) {
		s := get(t, &router.Options{UpstreamHost: "internal.svc:8080"})
		if s.Host != "internal.svc:8080" {
			t.Errorf("backend saw Host %q, want internal.svc:8080", s.Host)
		}
	})
}

func TestStreamingIsNotBuffered(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	_, addr := backend(t, "sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: first\n\n"))
		http.NewResponseController(w).Flush()
		<-release
		_, _ = w.Write([]byte("data: second\n\n"))
	})
	f := newFixture(t, nil, Config{}, addr)
	resp, err := f.srv.Client().Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "data: first\n" {
			t.Errorf("first line %q", line)
		}
	case <-time.After(3 * time.Second):
		t.Error("first event did not arrive while the backend held the stream open: the proxy buffers")
	}
	close(release)
}

func TestH2CBackendWithTrailers(t *testing.T) {
	t.Parallel()
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Grpc-Status")
		w.Header().Set("X-Proto", r.Proto)
		// Streamed, as gRPC does: no Content-Length, so an HTTP/1.1
		// client can get the trailers too (chunked).
		http.NewResponseController(w).Flush()
		_, _ = w.Write([]byte("body"))
		w.Header().Set("Grpc-Status", "0")
	}))
	be.Config.Protocols = &protos
	be.Start()
	t.Cleanup(be.Close)
	f := newFixture(t, &router.Options{Protocol: router.H2C}, Config{}, be.Listener.Addr().String())
	resp, body := f.do(t, "POST", "/", strings.NewReader("x"), "Te", "trailers")
	if resp.StatusCode != 200 || body != "body" || resp.Header.Get("X-Proto") != "HTTP/2.0" {
		t.Fatalf("status %d body %q proto %q; want 200, body, HTTP/2.0", resp.StatusCode, body, resp.Header.Get("X-Proto"))
	}
	if resp.Trailer.Get("Grpc-Status") != "0" {
		t.Errorf("trailer Grpc-Status = %q, want 0 (trailers: %v)", resp.Trailer.Get("Grpc-Status"), resp.Trailer)
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	_, addr := backend(t, "b", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) })
	f := newFixture(t, nil, Config{}, addr)
	f.do(t, "GET", "/a%22b/%C3%A9%FF", nil)
	lines := f.log.lines()
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1: %q", len(lines), lines)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not JSON: %v: %s", err, lines[0])
	}
	want := map[string]any{"client_ip": "127.0.0.1", "method": "GET", "path": "/a\"b/é\uFFFD", "status": 200.0, "bytes": 5.0,
		"upstream": addr, "attempts": 1.0, "namespace": "ns", "ingress": "ns/ing", "service": "svc:80", "proto": "HTTP/1.1"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %#v, want %#v (line %s)", k, rec[k], v, lines[0])
		}
	}
	for _, k := range []string{"time", "host", "duration", "upstream_duration"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("field %s missing: %s", k, lines[0])
		}
	}
}

func TestAccessLogStatusOfProxyAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, Config{}) // no endpoints
	f.do(t, "GET", "/", nil)
	if l := f.log.lines()[0]; !strings.Contains(l, `"status":503`) || strings.Contains(l, "upstream") {
		t.Errorf("line %s: want status 503 and no upstream", l)
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x1f\n\t", "é😀", "\xff\xfe", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); got != want && strings.ToValidUTF8(s, "") == s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
	})
}

func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, Config{})
	resp, _ := f.do(t, "GET", "/", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no endpoints: %d, want 503", resp.StatusCode)
	}
	live := &router.Live{}
	p := New(Config{Table: live, AccessLog: io.Discard})
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil).WithContext(context.Background()))
	if rec.Code != http.StatusNotFound {
		t.Errorf("no route: %d, want 404", rec.Code)
	}
	_ = fmt.Sprint()
}

// A client that closes its connection while its request waits for the
// backend ends the upstream exchange (the backend's request is cancelled)
// and is logged as 499. With h1 the client is watched only after
// clientWatchAfter of waiting.
func TestClientGoneEndsUpstreamExchange(t *testing.T) {
	t.Parallel()
	cancelled := make(chan struct{})
	_, slow := backend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(20 * time.Second):
		case <-r.Context().Done():
			close(cancelled)
		}
	})
	f := newFixture(t, &router.Options{ReadTimeout: 30 * time.Second}, Config{}, slow)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /wait HTTP/1.1\r\nHost: app.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(clientWatchAfter + 300*time.Millisecond) // past the watch's start
	conn.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend's request was not cancelled after the client left")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(f.log.lines(), "\n"), `"status":499`) {
		if time.Now().After(deadline) {
			t.Fatalf("access log %q, want a 499 line", f.log.lines())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
