// Command portico-echo is the program the test node agent (test/nodeagent)
// runs for Pods of image portico.dev/echo: an echo.Handler that names
// itself after its Pod, logs every request to standard output (kubectl logs
// shows them), and stops gracefully on SIGTERM.
//
// Environment: POD_NAME (the name it answers with; default the hostname),
// PORT (default 8080; it listens on every address of its network namespace).
// Besides echo.Handler's paths it serves:
//
//	/__ready          200 while ready, 503 after /__ready/fail (for readinessProbe.httpGet)
//	/__ready/fail     makes /__ready fail; /__ready/pass makes it pass again
//	/__exit/N         exits at once with code N (a crash, for restart tests)
//	/__env/NAME       the value of environment variable NAME
//	/__file/PATH      the contents of file /PATH (volumes as the program sees them)
//
// On SIGTERM it logs "SIGTERM", closes its listener, lets requests in flight
// finish (up to SHUTDOWN_TIMEOUT, default 30s) and logs "exiting" before it
// exits 0.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"portico.dev/portico/test/echo"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetOutput(os.Stdout)
	if err := run(); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run() error {
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	port := envOr("PORT", "8080")
	shutdownTimeout, err := time.ParseDuration(envOr("SHUTDOWN_TIMEOUT", "30s"))
	if err != nil {
		return fmt.Errorf("SHUTDOWN_TIMEOUT: %w", err)
	}
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           newServer(name),
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	log.Printf("%s listening on %s", name, l.Addr())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	select {
	case err := <-served:
		return err
	case sig := <-sigs:
		if sig == syscall.SIGTERM {
			log.Print("SIGTERM received, shutting down") // tests look for this line
		} else {
			log.Printf("%v received, shutting down", sig)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(ctx)
	log.Printf("exiting (shutdown: %v)", err)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// server wraps echo.Handler with request logging and the readiness and
// crash switches.
type server struct {
	echo     echo.Handler
	notReady atomic.Bool
}

func newServer(name string) *server { return &server{echo: echo.Handler{Name: name}} }

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := s.serve(w, r)
	log.Printf("%s %s %s%s from %s: %d", r.Proto, r.Method, r.Host, r.URL.RequestURI(), r.RemoteAddr, status)
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) int {
	switch p := r.URL.Path; {
	case p == "/__ready":
		if s.notReady.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return http.StatusServiceUnavailable
		}
		_, _ = fmt.Fprintln(w, "ready")
		return http.StatusOK
	case p == "/__ready/fail" || p == "/__ready/pass":
		s.notReady.Store(p == "/__ready/fail")
		_, _ = fmt.Fprintln(w, "ok")
		return http.StatusOK
	case strings.HasPrefix(p, "/__exit/"):
		code, err := strconv.Atoi(strings.TrimPrefix(p, "/__exit/"))
		if err != nil {
			http.Error(w, "bad exit code", http.StatusBadRequest)
			return http.StatusBadRequest
		}
		log.Printf("exiting with code %d as asked", code)
		os.Exit(code)
	case strings.HasPrefix(p, "/__env/"):
		_, _ = fmt.Fprint(w, os.Getenv(strings.TrimPrefix(p, "/__env/")))
		return http.StatusOK
	case strings.HasPrefix(p, "/__file/"):
		b, err := os.ReadFile(strings.TrimPrefix(p, "/__file"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return http.StatusNotFound
		}
		_, _ = w.Write(b)
		return http.StatusOK
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.echo.ServeHTTP(rec, r)
	return rec.status
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
