// Package echo is the HTTP handler of Portico's test backends: it answers
// every request with what it received, as JSON, so tests can check what a
// proxy sent. It has no Kubernetes dependencies; test/harness serves it in
// network namespaces and test/cmd/portico-echo is the program a Pod runs.
package echo

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Echo is what the handler answers, so tests can check what the proxy sent.
type Echo struct {
	Backend    string      `json:"backend"`
	Addr       string      `json:"addr"`
	Host       string      `json:"host"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	RawPath    string      `json:"rawPath"`
	Query      string      `json:"query"`
	Proto      string      `json:"proto"`
	RemoteAddr string      `json:"remoteAddr"`
	BodyBytes  int64       `json:"bodyBytes"`
	Headers    http.Header `json:"headers"`
}

// Handler answers 200 with an Echo as JSON and header X-Backend: name,
// except:
//
//	/__status/NNN     answers status NNN (the body is still an Echo)
//	/__sleep?d=3s     waits d (or until the client goes away), then answers
//
// and, on any path, each query parameter set-header=Name:Value adds that
// header to the answer (for tests of what the proxy does to responses), and
// wait=3s waits as /__sleep does (traefik/whoami's knob, for suites written
// against it).
type Handler struct {
	Name string
}

var _ http.Handler = Handler{}

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	if strings.HasPrefix(r.URL.Path, "/__status/") {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/__status/"))
		if err != nil || code < 100 || code > 999 {
			http.Error(w, "bad status code", http.StatusBadRequest)
			return
		}
		status = code
	}
	wait, ok := r.URL.Query().Get("wait"), r.URL.Query().Has("wait")
	if r.URL.Path == "/__sleep" {
		wait, ok = r.URL.Query().Get("d"), true
	}
	if ok {
		d, err := time.ParseDuration(wait)
		if err != nil {
			http.Error(w, "bad duration: "+err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	n, _ := io.Copy(io.Discard, r.Body)
	var addr string
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		addr = a.String()
	}
	e := Echo{
		Backend:    h.Name,
		Addr:       addr,
		Host:       r.Host,
		Method:     r.Method,
		Path:       r.URL.Path,
		RawPath:    r.URL.RawPath,
		Query:      r.URL.RawQuery,
		Proto:      r.Proto,
		RemoteAddr: r.RemoteAddr,
		BodyBytes:  n,
		Headers:    r.Header,
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Backend", h.Name)
	for _, kv := range r.URL.Query()["set-header"] {
		if k, v, ok := strings.Cut(kv, ":"); ok {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e) // the client may have gone; nothing to do
}
