package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawBackend is a loopback server that answers each request with bytes the
// test scripts: answer(conn number, request number on it, request) returns
// what to write and whether to close the connection after it.
type rawBackend struct {
	addr  string
	conns atomic.Int32
}

func newRawBackend(t *testing.T, answer func(conn, n int, req *http.Request) (string, bool)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var open sync.Map
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			id := int(b.conns.Add(1))
			open.Store(c, nil)
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					out, closeAfter := answer(id, n, req)
					if _, err := io.WriteString(c, out); err != nil || closeAfter {
						return
					}
				}
			})
		}
	})
	return b
}

func newTestH1(t *testing.T) *h1Transport {
	t.Helper()
	cfg := TransportConfig{}
	cfg.defaults()
	fb := NewTransport(cfg)
	tr := newH1Transport(cfg, fb.DialContext, fb)
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func get(t *testing.T, tr http.RoundTripper, method, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

const ok5 = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

func TestH1TransportResponses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		method    string
		answer    string
		closeConn bool
		wantBody  string
		wantCode  int
		wantConns int32 // after three requests
	}{
		{"content-length body, kept alive", "GET", ok5, false, "hello", 200, 1},
		{"chunked body with trailer, kept alive", "GET",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n", false, "abcde", 200, 1},
		{"no-body 204, kept alive", "GET", "HTTP/1.1 204 No Content\r\n\r\n", false, "", 204, 1},
		// A response with no body by rule that announces one ends its
		// connection: the announced body may still come (issue 16).
		{"no-body 304 with a length, not reused", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", false, "", 304, 3},
		{"no-body 204 chunked, not reused", "GET", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", false, "", 204, 3},
		{"HEAD with a length, not reused", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", false, "", 200, 3},
		{"HEAD with length 0, kept alive", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, "", 200, 1},
		{"HEAD without a length, kept alive", "HEAD", "HTTP/1.1 200 OK\r\nX-A: b\r\n\r\n", false, "", 200, 1},
		{"Connection: close, not reused", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", true, "hello", 200, 3},
		{"HTTP/1.0 without keep-alive, not reused", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", true, "hello", 200, 3},
		{"body until close, not reused", "GET", "HTTP/1.1 200 OK\r\n\r\nuntil close", true, "until close", 200, 3},
		{"interim 103 then 200", "GET", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + ok5, false, "hello", 200, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := newRawBackend(t, func(_, _ int, _ *http.Request) (string, bool) { return tc.answer, tc.closeConn })
			tr := newTestH1(t)
			for range 3 {
				resp, body, err := get(t, tr, tc.method, "http://"+be.addr+"/x")
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.wantCode || body != tc.wantBody {
					t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantCode, tc.wantBody)
				}
			}
			if n := be.conns.Load(); n != tc.wantConns {
				t.Errorf("connections: %d, want %d", n, tc.wantConns)
			}
			wantIdle := 1
			if tc.closeConn || tc.wantConns > 1 {
				wantIdle = 0
			}
			tr.mu.Lock()
			idle := len(tr.idle[be.addr])
			tr.mu.Unlock()
			if idle != wantIdle {
				t.Errorf("idle connections: %d, want %d", idle, wantIdle)
			}
		})
	}
}

func TestH1TransportBrokenResponses(t *testing.T) {
	t.Parallel()
	huge := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Big: "+strings.Repeat("a", 1000)+"\r\n", 1200) + "\r\n"
	for _, tc := range []struct {
		name    string
		answer  string
		bodyErr bool // headers arrive, the body fails
	}{
		{"malformed status line", "HTTP/1.1 abc OK\r\n\r\n", false},
		{"not HTTP at all", "SSH-2.0-OpenSSH\r\n\r\n", false},
		{"headers over 1 MiB", huge, false},
		{"closed before any byte", "", false},
		{"closed mid-headers", "HTTP/1.1 200 OK\r\nContent-Len", false},
		{"closed mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel", true},
		{"closed mid-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe", true},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", true},
		{"101 without an upgrade request", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := newRawBackend(t, func(_, _ int, _ *http.Request) (string, bool) { return tc.answer, true })
			tr := newTestH1(t)
			done := make(chan error, 1)
			go func() {
				_, _, err := get(t, tr, "GET", "http://"+be.addr+"/x")
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("no error")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("hung")
			}
			if n := len(tr.idle[be.addr]); n != 0 {
				t.Errorf("%d broken connections pooled", n)
			}
		})
	}
}

// A backend that closes kept-alive connections between requests (an idle
// timeout, a restart) must not fail requests: a reused connection that
// fails before any response byte is replaced.
func TestH1TransportStaleConnection(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			// Every connection answers once with keep-alive, then closes.
			be := newRawBackend(t, func(_, _ int, _ *http.Request) (string, bool) { return ok5, true })
			tr := newTestH1(t)
			for i := range 4 {
				if i > 0 {
					time.Sleep(20 * time.Millisecond) // let the FIN arrive
				}
				resp, body, err := get(t, tr, method, "http://"+be.addr+"/x")
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if resp.StatusCode != 200 || body != "hello" {
					t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
				}
			}
		})
	}
}

// Requests the fast path does not handle still work, through the fallback.
func TestH1TransportFallback(t *testing.T) {
	t.Parallel()
	be := newRawBackend(t, func(_, _ int, req *http.Request) (string, bool) { return ok5, false })
	tr := newTestH1(t)
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"body", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://"+be.addr+"/", strings.NewReader("data"))
			return r
		}},
		{"expect-continue", func() *http.Request {
			r, _ := http.NewRequest("PUT", "http://"+be.addr+"/", strings.NewReader("data"))
			r.Header.Set("Expect", "100-continue")
			return r
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			if tr.handles(req) {
				t.Fatal("handled by the fast path")
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "hello" {
				t.Errorf("body %q", b)
			}
		})
	}
	up, _ := http.NewRequest("GET", "http://"+be.addr+"/", nil)
	up.Header.Set("Connection", "Upgrade")
	up.Header.Set("Upgrade", "websocket")
	if tr.handles(up) {
		t.Error("upgrade handled by the fast path")
	}
}

func TestH1TransportEarlyCloseAndCancel(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	be := newRawBackend(t, func(_, _ int, req *http.Request) (string, bool) {
		if req.URL.Path == "/slow" {
			<-release
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false
	})
	t.Cleanup(func() { close(release) })
	tr := newTestH1(t)

	t.Run("body closed before its end: connection not reused", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+be.addr+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 3)
		_, _ = io.ReadFull(resp.Body, buf)
		resp.Body.Close()
		if n := len(tr.idle[be.addr]); n != 0 {
			t.Errorf("%d idle after early close", n)
		}
		if _, body, err := get(t, tr, "GET", "http://"+be.addr+"/"); err != nil || body != "0123456789" {
			t.Fatalf("next request: %q %v", body, err)
		}
		if n := len(tr.idle[be.addr]); n != 1 {
			t.Errorf("%d idle after a full read, want 1", n)
		}
	})
	t.Run("cancel while waiting for headers", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+be.addr+"/slow", nil)
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

func TestH1TransportForwardsInterimResponses(t *testing.T) {
	t.Parallel()
	be := newRawBackend(t, func(_, _ int, _ *http.Request) (string, bool) {
		return "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + ok5, false
	})
	tr := newTestH1(t)
	var got []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, h.Get("Link"))
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+be.addr+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 1 || got[0] != "</a.css>" {
		t.Errorf("interim responses %q", got)
	}
}

func TestH1TransportIdleLimitAndExpiry(t *testing.T) {
	t.Parallel()
	be := newRawBackend(t, func(_, _ int, _ *http.Request) (string, bool) { return ok5, false })
	cfg := TransportConfig{MaxIdleConnsPerHost: 2, IdleConnTimeout: 100 * time.Millisecond}
	cfg.defaults()
	fb := NewTransport(cfg)
	tr := newH1Transport(cfg, fb.DialContext, fb)
	t.Cleanup(tr.CloseIdleConnections)
	// Four responses open at once: four connections, two kept.
	var bodies []io.ReadCloser
	for range 4 {
		req, _ := http.NewRequest("GET", "http://"+be.addr+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
	}
	for _, b := range bodies {
		_, _ = io.Copy(io.Discard, b)
		b.Close()
	}
	tr.mu.Lock()
	n := len(tr.idle[be.addr])
	tr.mu.Unlock()
	if n != 2 {
		t.Errorf("idle %d, want 2", n)
	}
	time.Sleep(300 * time.Millisecond)
	tr.mu.Lock()
	n = len(tr.idle[be.addr])
	tr.mu.Unlock()
	if n != 0 {
		t.Errorf("idle %d after the idle timeout, want 0", n)
	}
}

// FuzzH1TransportResponse: whatever a backend sends, the transport returns
// an error or a response whose body ends; it never panics or hangs.
// FuzzH1TransportResponse answers a first request with arbitrary bytes
// and a second one, on whatever connection the transport picks, honestly.
// Nothing may hang, and nothing of the first answer may be read as the
// second response (the desync of issue 16: a body after a HEAD answer,
// bytes past a Content-Length, a second response).
func FuzzH1TransportResponse(f *testing.F) {
	for _, s := range []string{ok5, "HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.0 200 OK\r\n\r\nbody", "HTTP/1.1 999 X\r\nContent-Length: -1\r\n\r\n",
		// Shapes of the audit: more than announced, a body to HEAD or
		// after 204/304, a second response, a chunked body with junk.
		ok5 + evil,
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\nEVIL",
		"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + evil,
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nEVIL",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	var answer atomic.Value
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if req.Header.Get("X-Token") == "second" {
						_, _ = io.WriteString(c, tokenAnswer(req))
					} else {
						_, _ = io.WriteString(c, answer.Load().(string))
					}
				}
			}()
		}
	}()
	addr := ln.Addr().String()
	f.Fuzz(func(t *testing.T, a string, head bool) {
		answer.Store(a)
		cfg := TransportConfig{}
		cfg.defaults()
		tr := newH1Transport(cfg, (&net.Dialer{Timeout: time.Second}).DialContext, NewTransport(cfg))
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		method := "GET"
		if head {
			method = "HEAD"
		}
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+addr+"/", nil)
		if resp, err := tr.RoundTrip(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			t.Fatal("hung until the deadline")
		}
		req, _ = http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
		req.Header.Set("X-Token", "second")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("second request failed: %v", err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != "second" {
			t.Fatalf("second request got %d %q %v: bytes of the first answer were read as its response", resp.StatusCode, b, err)
		}
	})
}

// writeRequest must say what net/http's Request.Write says, as a server
// parses it: same method, target, Host, fields and framing.
func TestWriteRequestMatchesRequestWrite(t *testing.T) {
	mk := func(method, target, host string, hdr http.Header, closing bool) *http.Request {
		r, err := http.NewRequest(method, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Host = host
		for k, vv := range hdr {
			r.Header[k] = vv
		}
		r.Header["User-Agent"] = []string{""} // as ReverseProxy does when the client sent none
		if ua := hdr["User-Agent"]; ua != nil {
			r.Header["User-Agent"] = ua
		}
		r.Close = closing
		return r
	}
	cases := []struct {
		name string
		req  *http.Request
	}{
		{"get", mk("GET", "http://10.0.0.1:8080/a/b?x=1&y=%20", "app.example", http.Header{"Accept": {"*/*"}, "X-Forwarded-For": {"1.2.3.4"}}, false)},
		{"head", mk("HEAD", "http://10.0.0.1/", "app.example", nil, false)},
		{"post without body", mk("POST", "http://10.0.0.1/form", "app.example", nil, false)},
		{"delete", mk("DELETE", "http://10.0.0.1/x", "app.example", nil, false)},
		{"user agent and repeated fields", mk("GET", "http://10.0.0.1/", "app.example", http.Header{"User-Agent": {"curl/8"}, "Cookie": {"a=1", "b=2"}}, false)},
		{"escaped path", mk("GET", "http://10.0.0.1/a%2Fb/c%20d", "app.example", nil, false)},
		{"empty query", mk("GET", "http://10.0.0.1/p?", "app.example", nil, false)},
		{"close", mk("GET", "http://10.0.0.1/", "app.example", nil, true)},
		{"framing fields dropped", mk("GET", "http://10.0.0.1/", "app.example", http.Header{"Content-Length": {"5"}, "Transfer-Encoding": {"chunked"}}, false)},
		{"value with line break", mk("GET", "http://10.0.0.1/", "app.example", http.Header{"X-Evil": {"a\r\nX-Injected: 1"}}, false)},
	}
	parse := func(t *testing.T, b []byte) *http.Request {
		t.Helper()
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(b))))
		if err != nil {
			t.Fatalf("parse %q: %v", b, err)
		}
		return r
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ours, std strings.Builder
			bw := bufio.NewWriter(&ours)
			if err := writeRequest(bw, tc.req); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			if err := tc.req.Write(&std); err != nil {
				t.Fatal(err)
			}
			got, want := parse(t, []byte(ours.String())), parse(t, []byte(std.String()))
			if got.Method != want.Method || got.RequestURI != want.RequestURI || got.Host != want.Host ||
				got.ContentLength != want.ContentLength || got.Close != want.Close {
				t.Errorf("ours %q\nstd  %q", ours.String(), std.String())
			}
			if len(got.Header) != len(want.Header) {
				t.Errorf("fields: ours %v, std %v", got.Header, want.Header)
			}
			for k, v := range want.Header {
				if strings.Join(got.Header[k], "|") != strings.Join(v, "|") {
					t.Errorf("%s: ours %q, std %q", k, got.Header[k], v)
				}
			}
			if _, injected := got.Header["X-Injected"]; injected {
				t.Error("a line break in a value split the request")
			}
		})
	}
	bad := mk("GET", "http://10.0.0.1/", "app.example", nil, false)
	bad.Host = "a b"
	if err := writeRequest(bufio.NewWriter(io.Discard), bad); err == nil {
		t.Error("invalid Host accepted")
	}
}
