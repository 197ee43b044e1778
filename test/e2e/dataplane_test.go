package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// serveInPod serves h on addr:8080 inside pod until the test ends.
func serveInPod(t *testing.T, pod *harness.Pod, addr netip.Addr, h http.Handler) {
	t.Helper()
	l, err := pod.Listen("tcp", net.JoinHostPort(addr.String(), "8080"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// TestWebSocketSurvivesTableSwaps keeps one WebSocket open through 100
// routing table swaps, each caused by an unrelated Ingress update and
// confirmed live before the next message.
func TestWebSocketSurvivesTableSwaps(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	pod, err := harness.NewPod(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	serveInPod(t, pod, pod.Addrs[0], websocket.Handler(func(ws *websocket.Conn) { _, _ = io.Copy(ws, ws) }))
	_, web := pods(t, "web", 1)
	site(t, ns, "ws", "ws.test", nil, pod.Addrs[0].String())
	site(t, ns, "other", "other.test", nil, hostOf(web[0]))
	// Each update moves the other Ingress's only path, so the new path
	// answering and the old one not proves the swap happened.
	harness.UpdateIngress(t, cp, ns, "other", func(ing *networkingv1.Ingress) {
		ing.Spec.Rules[0].HTTP.Paths[0] = harness.Path("/swap-0", prefix, "other", 80)
	})

	p := harness.StartPortico(t, cp, "--access-log=false")
	c := p.Client()
	base := "http://" + p.HTTPAddr
	harness.Eventually(t, 5*time.Second, wantBackend(c, base+"/swap-0", "other.test", "web-0"))

	raw, err := net.Dial("tcp", p.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cfg, err := websocket.NewConfig("ws://ws.test/echo", "http://ws.test/")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, raw)
	if err != nil {
		t.Fatalf("WebSocket handshake through Portico: %v", err)
	}
	echo := func(msg string) error {
		_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
		if err := websocket.Message.Send(ws, msg); err != nil {
			return fmt.Errorf("send %q: %w", msg, err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil {
			return fmt.Errorf("receive echo of %q: %w", msg, err)
		}
		if got != msg {
			return fmt.Errorf("echo %q, want %q", got, msg)
		}
		return nil
	}
	if err := echo("hello"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	swaps := harness.ConfirmedSwaps(t, cp, p, ns, "other", "other.test", "web-0", 100, 5*time.Second, func(i int) error {
		if err := echo(fmt.Sprintf("message after swap %d", i)); err != nil {
			return fmt.Errorf("the WebSocket broke: %w", err)
		}
		return nil
	})
	t.Logf("100 Ingress updates, %d table builds in %s; the WebSocket carried a message after each", swaps, time.Since(start).Round(time.Millisecond))
	if swaps < 100 {
		t.Errorf("only %d table builds for 100 confirmed updates", swaps)
	}
}

// TestGRPCThroughPortico calls a real gRPC server (h2c) through Portico,
// unary and server streaming, over h2c (--h2c) and over TLS (ALPN h2).
func TestGRPCThroughPortico(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	pod, err := harness.NewPod(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	l, err := pod.Listen("tcp", net.JoinHostPort(pod.Addrs[0].String(), "8080"))
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	site(t, ns, "grpc", "grpc.test", map[string]string{"portico.dev/backend-protocol": "grpc"}, pod.Addrs[0].String())

	p := harness.StartPortico(t, cp, "--h2c")
	for _, tc := range []struct {
		name  string
		addr  string
		creds credentials.TransportCredentials
	}{
		{"h2c", p.HTTPAddr, insecure.NewCredentials()},
		{"TLS", p.HTTPSAddr, credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, ServerName: "grpc.test"})}, //nolint:gosec // self-signed default certificate
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := grpc.NewClient("passthrough:///"+tc.addr, grpc.WithTransportCredentials(tc.creds), grpc.WithAuthority("grpc.test"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			client := healthpb.NewHealthClient(conn)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			// Unary; the route may take a moment to go live. A successful
			// call proves trailers work: gRPC sends grpc-status in trailers
			// after the message, and a call without them fails.
			var resp *healthpb.HealthCheckResponse
			harness.Eventually(t, 5*time.Second, func() error {
				resp, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "orders"})
				return err
			})
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("Check = %v, want SERVING", resp.GetStatus())
			}
			// An error status travels in trailers (here trailers-only).
			_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
			if status.Code(err) != codes.NotFound {
				t.Errorf("Check(unknown) = %v, want NotFound from the backend", err)
			}

			// Server streaming: the first status, then a change pushed later.
			stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "orders"})
			if err != nil {
				t.Fatal(err)
			}
			first, err := stream.Recv()
			if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("Watch first = %v, %v; want SERVING", first, err)
			}
			hs.SetServingStatus("orders", healthpb.HealthCheckResponse_NOT_SERVING)
			second, err := stream.Recv()
			if err != nil || second.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Fatalf("Watch second = %v, %v; want NOT_SERVING", second, err)
			}
			hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
		})
	}
}

// dropper accepts connections on addr:8080 in pod, reads one request and
// closes without an answer: a backend that crashed mid-request.
func dropper(t *testing.T, pod *harness.Pod, addr netip.Addr) *atomic.Int64 {
	t.Helper()
	l, err := pod.Listen("tcp", net.JoinHostPort(addr.String(), "8080"))
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
	return &n
}

// TestRetriesAcrossEndpoints: a refused connection is retried on a healthy
// endpoint (nothing was sent, so for any method); a POST whose bytes
// reached a backend is never sent again.
func TestRetriesAcrossEndpoints(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	pod, err := harness.NewPod(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	good := listenBackend(t, pod, pod.Addrs[0], "good")
	refused := pod.Addrs[1].String() // nothing listens there
	drops := dropper(t, pod, pod.Addrs[2])
	site(t, ns, "flaky", "retry.test", nil, hostOf(good), refused)

	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	harness.Eventually(t, 5*time.Second, wantBackend(c, base+"/", "retry.test", "good"))

	send := func(method string) (int, error) {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("order=42")
		}
		req, _ := http.NewRequest(method, base+"/", body)
		req.Host = "retry.test"
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	t.Run("refused connections are retried on the healthy endpoint", func(t *testing.T) {
		for _, m := range []string{"GET", "POST"} {
			for i := range 10 {
				if st, err := send(m); err != nil || st != 200 {
					t.Errorf("%s #%d: %d, %v; want 200 (retried on good)", m, i, st, err)
				}
			}
		}
	})
	t.Run("a POST that reached a backend is not retried", func(t *testing.T) {
		harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "flaky", "flaky-1", 8080,
			harness.Endpoint{Addr: hostOf(good)}, harness.Endpoint{Addr: pod.Addrs[2].String()}))
		harness.Eventually(t, 5*time.Second, func() error {
			if drops.Load() == 0 {
				_, _ = send("GET")
				return fmt.Errorf("the dropper is not in the table yet")
			}
			return nil
		})
		dropsBefore, goodBefore := drops.Load(), good.Requests.Load()
		var got502, got200 int64
		for range 10 {
			st, err := send("POST")
			if err != nil {
				t.Fatal(err)
			}
			switch st {
			case 502:
				got502++
			case 200:
				got200++
			default:
				t.Errorf("POST: %d, want 200 or 502", st)
			}
		}
		if got502 == 0 || drops.Load()-dropsBefore != got502 || good.Requests.Load()-goodBefore != got200 {
			t.Errorf("%d answered 502 and %d 200; the dropper saw %d POSTs and good %d: want one backend per POST, no re-send",
				got502, got200, drops.Load()-dropsBefore, good.Requests.Load()-goodBefore)
		}
		for i := range 10 {
			if st, err := send("GET"); err != nil || st != 200 {
				t.Errorf("GET #%d: %d, %v; want 200 (idempotent, retried)", i, st, err)
			}
		}
	})
}

// TestClientAddressHeaders: forwarded headers are replaced for untrusted
// peers and appended to for --trusted-proxies; PROXY protocol gives the
// real client; hop-by-hop headers never reach the backend.
func TestClientAddressHeaders(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	site(t, ns, "echo", "ip.test", nil, hostOf(be[0]))

	get := func(t *testing.T, dial func() (net.Conn, error), hdr ...string) harness.Echo {
		t.Helper()
		conn, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		var b bytes.Buffer
		b.WriteString("GET /who HTTP/1.1\r\nHost: ip.test\r\nConnection: close\r\n")
		for i := 0; i+1 < len(hdr); i += 2 {
			b.WriteString(hdr[i] + ": " + hdr[i+1] + "\r\n")
		}
		b.WriteString("\r\n")
		if _, err := conn.Write(b.Bytes()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		e, err := harness.ParseEcho(body)
		if err != nil {
			t.Fatalf("%d: %v", resp.StatusCode, err)
		}
		return e
	}
	from := func(addr, local string) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
			return d.Dial("tcp", addr)
		}
	}
	spoof := []string{"X-Forwarded-For", "6.6.6.6", "X-Real-IP", "6.6.6.6", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.test"}

	p := harness.StartPortico(t, cp, "--trusted-proxies", "127.0.0.2/32")
	harness.Eventually(t, 5*time.Second, wantBackend(p.Client(), "http://"+p.HTTPAddr+"/", "ip.test", "echo-0"))
	t.Run("spoofed headers from an untrusted peer are replaced", func(t *testing.T) {
		e := get(t, from(p.HTTPAddr, "127.0.0.1"), spoof...)
		want := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Real-Ip": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "ip.test"}
		for k, v := range want {
			if got := strings.Join(e.Headers[k], ","); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	})
	t.Run("headers from a trusted proxy are appended to", func(t *testing.T) {
		e := get(t, from(p.HTTPAddr, "127.0.0.2"), spoof...)
		want := map[string]string{"X-Forwarded-For": "6.6.6.6, 127.0.0.2", "X-Real-Ip": "6.6.6.6", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.test"}
		for k, v := range want {
			if got := strings.Join(e.Headers[k], ","); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	})
	t.Run("hop-by-hop headers are removed", func(t *testing.T) {
		e := get(t, from(p.HTTPAddr, "127.0.0.1"), "Connection", "X-Secret", "X-Secret", "s3cr3t", "Keep-Alive", "timeout=9", "Proxy-Connection", "keep-alive", "X-Kept", "yes")
		for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Connection"} {
			if v, ok := e.Headers[h]; ok {
				t.Errorf("backend received hop-by-hop %s: %q", h, v)
			}
		}
		if e.Headers.Get("X-Kept") != "yes" || e.Host != "ip.test" {
			t.Errorf("end-to-end header or Host lost: host %q headers %v", e.Host, e.Headers)
		}
	})

	pp := harness.StartPortico(t, cp, "--proxy-protocol")
	withHeader := func(header string) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			conn, err := net.Dial("tcp", pp.HTTPAddr)
			if err == nil {
				_, err = io.WriteString(conn, header)
			}
			return conn, err
		}
	}
	t.Run("PROXY protocol v1 names the client", func(t *testing.T) {
		harness.Eventually(t, 5*time.Second, func() error {
			if e := get(t, withHeader("PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"), spoof...); e.Headers.Get("X-Forwarded-For") != "203.0.113.7" {
				return fmt.Errorf("X-Forwarded-For %q, want 203.0.113.7", e.Headers.Get("X-Forwarded-For"))
			}
			return nil
		})
	})
	t.Run("PROXY protocol v2 names the client", func(t *testing.T) {
		h := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
		h = append(h, 198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x40, 0, 80)
		if e := get(t, withHeader(string(h))); e.Headers.Get("X-Real-Ip") != "198.51.100.9" {
			t.Errorf("X-Real-IP %q, want 198.51.100.9", e.Headers.Get("X-Real-Ip"))
		}
	})
	t.Run("a connection without a PROXY header is closed", func(t *testing.T) {
		conn, err := net.Dial("tcp", pp.HTTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: ip.test\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
			t.Errorf("got %d, want the connection closed", resp.StatusCode)
		}
	})
}

// TestTimeoutsAndLimits: a slow backend gives 504 after the route's read
// timeout, a body over the route's limit 413, headers over the server's
// limit 431; and each request is one JSON access log line.
func TestTimeoutsAndLimits(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "slow", 1)
	site(t, ns, "limits", "limits.test", map[string]string{
		"portico.dev/proxy-read-timeout": "1s",
		"portico.dev/proxy-body-size":    "1k",
	}, hostOf(be[0]))

	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	harness.Eventually(t, 5*time.Second, wantBackend(c, base+"/", "limits.test", "slow-0"))

	do := func(method, path string, body io.Reader, hdr ...string) int {
		req, _ := http.NewRequest(method, base+path, body)
		req.Host = "limits.test"
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	t.Run("read timeout gives 504", func(t *testing.T) {
		start := time.Now()
		st := do("GET", "/__sleep?d=5s", nil)
		took := time.Since(start)
		t.Logf("504 after %s (read timeout 1s)", took.Round(time.Millisecond))
		if st != http.StatusGatewayTimeout || took < 900*time.Millisecond || took > 3*time.Second {
			t.Errorf("status %d after %s, want 504 after about 1s", st, took)
		}
		if st := do("GET", "/__sleep?d=100ms", nil); st != 200 {
			t.Errorf("a fast enough answer: %d, want 200", st)
		}
	})
	t.Run("oversized body gives 413", func(t *testing.T) {
		big := strings.Repeat("x", 2048)
		if st := do("POST", "/", strings.NewReader(big)); st != http.StatusRequestEntityTooLarge {
			t.Errorf("2 KiB with Content-Length: %d, want 413", st)
		}
		if st := do("POST", "/", io.MultiReader(strings.NewReader(big))); st != http.StatusRequestEntityTooLarge {
			t.Errorf("2 KiB chunked: %d, want 413", st)
		}
		if st := do("POST", "/", strings.NewReader(big[:1000])); st != 200 {
			t.Errorf("1000 bytes: %d, want 200", st)
		}
	})
	t.Run("oversized headers give 431", func(t *testing.T) {
		if st := do("GET", "/", nil, "X-Big", strings.Repeat("a", 100<<10)); st != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("100 KiB header: %d, want 431", st)
		}
	})
	t.Run("access log has one JSON line per request", func(t *testing.T) {
		var line map[string]any
		harness.Eventually(t, 5*time.Second, func() error {
			b, err := os.ReadFile(p.LogPath)
			if err != nil {
				return err
			}
			for l := range strings.SplitSeq(string(b), "\n") {
				if strings.Contains(l, `"client_ip"`) && strings.Contains(l, `"status":504`) {
					return json.Unmarshal([]byte(l), &line)
				}
			}
			return fmt.Errorf("no access log line for the 504")
		})
		for k, v := range map[string]any{"host": "limits.test", "path": "/__sleep", "method": "GET", "namespace": ns,
			"ingress": ns + "/limits", "service": "limits:80", "upstream": be[0].Addr, "client_ip": "127.0.0.1"} {
			if line[k] != v {
				t.Errorf("%s = %v, want %v (line %v)", k, line[k], v, line)
			}
		}
	})
}
