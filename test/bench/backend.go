package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
)

// backendMain is the benchmark's upstream: static bodies, nothing else, so
// that its cost is the same whichever proxy is in front. It runs as its own
// process inside the backend network namespace, pinned to the load core.
func backendMain(args []string) {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	addr := fs.String("addr", "", "listen address")
	_ = fs.Parse(args)
	small := bytes.Repeat([]byte("a"), 1<<10)
	large := bytes.Repeat([]byte("b"), 64<<10)
	mux := http.NewServeMux()
	body := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(b)
		}
	}
	mux.Handle("/1k", body(small))
	mux.Handle("/64k", body(large))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}
