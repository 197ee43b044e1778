package reliability

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// streamBackend answers /stream with a response that never ends: it sends
// one line for each message pushed into msgs, flushing every line.
func streamBackend(t *testing.T, pod *harness.Pod, msgs <-chan string) {
	t.Helper()
	l, err := pod.Listen("tcp", net.JoinHostPort(pod.Addrs[0].String(), "8080"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Backend", "stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case m := <-msgs:
				fmt.Fprintf(w, "data: %s\n", m)
				w.(http.Flusher).Flush()
			}
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// TestHTTP2StreamSurvivesTableSwaps keeps one HTTP/2 stream (h2 over TLS,
// ALPN) open through 100 routing table swaps, each caused by an unrelated
// Ingress update and confirmed live before the next message is pushed down
// the stream. (TestWebSocketSurvivesTableSwaps in test/e2e does the same
// for a WebSocket.)
func TestHTTP2StreamSurvivesTableSwaps(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	pod, err := harness.NewPod(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	msgs := make(chan string)
	streamBackend(t, pod, msgs)
	_, web := pods(t, "web", 1)
	site(t, ns, "stream", "stream.test", nil, pod.Addrs[0].String())
	site(t, ns, "other", "other.test", nil, hostOf(web[0]))
	harness.UpdateIngress(t, cp, ns, "other", func(ing *networkingv1.Ingress) {
		ing.Spec.Rules[0].HTTP.Paths[0] = harness.Path("/swap-0", prefix, "other", 80)
	})

	p := harness.StartPortico(t, cp, "--watch-namespace", ns, "--access-log=false")
	c := p.Client()
	base := "http://" + p.HTTPAddr
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/swap-0", "other.test", "web-0"))

	// No client timeout: the stream is meant to outlive any.
	h2 := &http.Client{Transport: &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // Portico's generated default certificate
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, p.HTTPSAddr)
		},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var resp *http.Response
	harness.Eventually(t, 10*time.Second, func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://stream.test/stream", nil)
		r, err := h2.Do(req)
		if err != nil {
			return err
		}
		if r.StatusCode != http.StatusOK || r.Header.Get("X-Backend") != "stream" {
			r.Body.Close()
			return fmt.Errorf("stream: %d from %q", r.StatusCode, r.Header.Get("X-Backend"))
		}
		resp = r
		return nil
	})
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("client to Portico spoke %s, want HTTP/2", resp.Proto)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	push := func(m string) error {
		select {
		case msgs <- m:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("backend did not take %q: the stream's backend request is gone", m)
		}
		select {
		case got, ok := <-lines:
			if !ok {
				return fmt.Errorf("stream closed before %q", m)
			}
			if got != "data: "+m {
				return fmt.Errorf("got %q, want %q", got, "data: "+m)
			}
			return nil
		case <-time.After(5 * time.Second):
			return fmt.Errorf("%q did not arrive through the stream", m)
		}
	}
	if err := push("hello"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	swaps := harness.ConfirmedSwaps(t, cp, p, ns, "other", "other.test", "web-0", 100, 10*time.Second, func(i int) error {
		if err := push(fmt.Sprintf("after swap %d", i)); err != nil {
			return fmt.Errorf("the HTTP/2 stream broke: %w", err)
		}
		return nil
	})
	figure(t, "1 h2 stream over TLS, 100 confirmed Ingress updates, %d table builds in %s | a message after every swap, stream still open",
		swaps, time.Since(start).Round(time.Millisecond))
	if swaps < 100 {
		t.Errorf("only %d table builds for 100 confirmed updates", swaps)
	}
}
