package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

type watcher interface {
	WatchClient(gone func()) bool
	StopWatching()
}

func TestWatchClient(t *testing.T) {
	t.Run("a client that closes is noticed while the handler waits", func(t *testing.T) {
		gone := make(chan struct{})
		handled := make(chan bool, 1)
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !w.(watcher).WatchClient(func() { close(gone) }) {
				handled <- false
				return
			}
			select {
			case <-gone:
				handled <- true
			case <-time.After(5 * time.Second):
				handled <- false
			}
		}))
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		time.Sleep(100 * time.Millisecond)
		conn.Close()
		if !<-handled {
			t.Fatal("the handler did not learn that the client left")
		}
		waitNoConns(t, ts.Server)
	})

	t.Run("a pipelined request is not mistaken for a close and is served after", func(t *testing.T) {
		fired := make(chan struct{}, 2)
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/first" {
				if !w.(watcher).WatchClient(func() { fired <- struct{}{} }) {
					t.Error("watch refused")
				}
				time.Sleep(200 * time.Millisecond) // the read-ahead takes the next request's bytes
				w.(watcher).StopWatching()
			}
			_, _ = io.WriteString(w, r.URL.Path)
		}))
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n")
		br := bufio.NewReader(conn)
		for _, want := range []string{"/first", "/second"} {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", want, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != want {
				t.Errorf("body %q, want %q", b, want)
			}
		}
		if len(fired) != 0 {
			t.Error("gone was called for a client that stayed")
		}
	})

	t.Run("the connection serves on after a watch the server stops", func(t *testing.T) {
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.(watcher).WatchClient(func() { t.Error("gone called") })
			_, _ = io.WriteString(w, "ok") // the server stops the watch after the handler
		}))
		c := ts.dial(t)
		for range 3 {
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp := c.read("GET"); resp.StatusCode != 200 || resp.body != "ok" {
				t.Fatalf("status %d body %q", resp.StatusCode, resp.body)
			}
		}
	})

	t.Run("requests with a body are not watched", func(t *testing.T) {
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if w.(watcher).WatchClient(func() {}) {
				t.Error("a request with a body was watched")
			}
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		c := ts.dial(t)
		c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
		if resp := c.read("POST"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})

	t.Run("hijacking stops the watch and keeps what it read", func(t *testing.T) {
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.(watcher).WatchClient(func() { t.Error("gone called") })
			time.Sleep(100 * time.Millisecond)
			conn, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			line, _ := brw.ReadString('\n')
			_, _ = io.WriteString(conn, "echo:"+line)
		}))
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\n\r\nafter\n")
		b, _ := io.ReadAll(conn)
		if !strings.Contains(string(b), "echo:after") {
			t.Errorf("got %q, want the bytes sent after the request", b)
		}
	})
}
