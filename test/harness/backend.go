package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Backend is an echo HTTP server standing in for an application pod. It
// speaks HTTP/1.1 and h2c (HTTP/2 without TLS, with prior knowledge).
//
// Every request is answered 200 with an Echo as JSON and header
// X-Backend: Name, except:
//
//	/__status/NNN     answers status NNN (the body is still an Echo)
//	/__sleep?d=3s     waits d (or until the client goes away), then answers
type Backend struct {
	Name     string
	Addr     string // ip:port
	URL      string // http://ip:port
	Requests atomic.Int64

	srv *http.Server
}

// Echo is what a Backend answers, so tests can check what the proxy sent.
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

// StartBackend serves on l until Close. l is typically from Pod.Listen.
func StartBackend(l net.Listener, name string) *Backend {
	b := &Backend{Name: name, Addr: l.Addr().String()}
	b.URL = "http://" + b.Addr
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	b.srv = &http.Server{
		Handler:           http.HandlerFunc(b.serve),
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = b.srv.Serve(l) }() // returns ErrServerClosed on Close
	return b
}

// Close stops the server and closes its listener and connections.
func (b *Backend) Close() {
	_ = b.srv.Close()
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	b.Requests.Add(1)
	status := http.StatusOK
	switch {
	case strings.HasPrefix(r.URL.Path, "/__status/"):
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/__status/"))
		if err != nil || code < 100 || code > 999 {
			http.Error(w, "bad status code", http.StatusBadRequest)
			return
		}
		status = code
	case r.URL.Path == "/__sleep":
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
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
	echo := Echo{
		Backend:    b.Name,
		Addr:       b.Addr,
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
	w.Header().Set("X-Backend", b.Name)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(echo) // the client may have gone; nothing to do
}

// Get sends GET url with Host header host ("" keeps the URL's host) and
// returns the status, the X-Backend header (empty when no Backend answered,
// e.g. a 404 from the proxy itself) and the body.
func Get(client *http.Client, url, host string) (status int, backendName string, body []byte, err error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, fmt.Errorf("GET %s (host %q): %w", url, host, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header.Get("X-Backend"), body, fmt.Errorf("GET %s (host %q): read body: %w", url, host, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Backend"), body, nil
}

// GetEcho is Get that also parses the body as an Echo; it fails when the
// answer did not come from a Backend.
func GetEcho(client *http.Client, url, host string) (int, Echo, error) {
	status, name, body, err := Get(client, url, host)
	if err != nil {
		return status, Echo{}, err
	}
	if name == "" {
		return status, Echo{}, fmt.Errorf("GET %s (host %q): %d without X-Backend (not from a backend): %.200s", url, host, status, body)
	}
	echo, err := ParseEcho(body)
	return status, echo, err
}

// ParseEcho decodes a Backend's answer.
func ParseEcho(body []byte) (Echo, error) {
	var e Echo
	if err := json.Unmarshal(body, &e); err != nil {
		return Echo{}, fmt.Errorf("parse echo: %w: %.200s", err, body)
	}
	if e.Backend == "" {
		return Echo{}, errors.New("parse echo: no backend name in body")
	}
	return e, nil
}
