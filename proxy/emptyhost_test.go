package proxy

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"portico.dev/portico/router"
)

// An HTTP/1.1 request with an empty Host field is valid (RFC 9112,
// section 3.2: the target has no authority) and h1 serves it; it matches
// no host rule, so it goes to the default backend, and nothing on the
// way (match, forwarded headers, access log, upstream request) trips on
// the empty host.
func TestEmptyHostGoesToDefaultBackend(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 4)
	mk := func(name string) string {
		_, addr := backend(t, name, func(w http.ResponseWriter, r *http.Request) {
			seen <- name + " " + r.Header.Get("X-Forwarded-Host")
			_, _ = io.WriteString(w, name)
		})
		return addr
	}
	routes := []router.Route{{
		Host: "a.example", Path: "/", Type: router.Prefix, Options: &router.Options{}, Source: "ns/a",
		Backend: &router.Backend{ID: "ns/a:80", Namespace: "ns", Service: "a", Port: "80", Endpoints: []string{mk("a")}},
	}}
	def := &router.Route{Path: "/", Type: router.Prefix, Options: &router.Options{}, Source: "flag",
		Backend: &router.Backend{ID: "ns/def:80", Namespace: "ns", Service: "def", Port: "80", Endpoints: []string{mk("default")}}}
	table, _ := router.New(routes, def)
	live := &router.Live{}
	live.Store(table)
	log := &lockedBuffer{}
	tr := NewTransports(TransportConfig{})
	t.Cleanup(tr.CloseIdleConnections)
	p := New(Config{Table: live, Transports: tr, AccessLog: log, Scheme: "http",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := newH1Server(t, p)

	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for _, host := range []string{"", "a.example", ""} {
		if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		want := "default"
		if host != "" {
			want = "a"
		}
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("Host %q: %d %q, want 200 %q", host, resp.StatusCode, b, want)
		}
		if got := <-seen; got != want+" "+host {
			t.Errorf("Host %q: backend saw %q (name, X-Forwarded-Host), want %q", host, got, want+" "+host)
		}
	}
	if lines := log.lines(); len(lines) != 3 || !strings.Contains(lines[0], `"host":""`) {
		t.Errorf("access log: %q", lines)
	}
}
