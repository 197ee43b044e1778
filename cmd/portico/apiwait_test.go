package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A GET to an API server that is down waits for it and is answered soon
// after it listens again; a write fails at once.
func TestWaitForAPIServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down: connections are refused
	rt := newWaitForAPIServer(&http.Transport{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	post, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/w", strings.NewReader("x"))
	if _, err := rt.RoundTrip(post); err == nil || !dialFailed(err) {
		t.Fatalf("POST to a down server: %v, want the dial error at once", err)
	}

	const downFor = 1500 * time.Millisecond
	upAt := make(chan time.Time, 1)
	go func() {
		time.Sleep(downFor)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			upAt <- time.Time{}
			return
		}
		upAt <- time.Now()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
		t.Cleanup(func() { srv.Close() })
		_ = srv.Serve(ln)
	}()
	get, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/r", nil)
	resp, err := rt.RoundTrip(get)
	done := time.Now()
	if err != nil {
		t.Fatalf("GET across the outage: %v", err)
	}
	resp.Body.Close()
	up := <-upAt
	if up.IsZero() {
		t.Skip("the port was taken meanwhile") // another process bound it: nothing to learn
	}
	if lag := done.Sub(up); lag > 1100*time.Millisecond {
		t.Errorf("answered %v after the server was back; want within one poll (1 s)", lag)
	}

	// A context that ends stops the wait with the dial error.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln2.Addr().String()
	ln2.Close()
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	get2, _ := http.NewRequestWithContext(short, "GET", "http://"+dead+"/r", nil)
	if _, err := rt.RoundTrip(get2); err == nil {
		t.Fatal("GET to a server that stays down succeeded")
	}
}
