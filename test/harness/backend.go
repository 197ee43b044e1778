package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"portico.dev/portico/test/echo"
)

// Backend is an echo HTTP server standing in for an application pod. It
// speaks HTTP/1.1 and h2c (HTTP/2 without TLS, with prior knowledge) and
// answers as echo.Handler does (an Echo as JSON, header X-Backend: Name).
type Backend struct {
	Name     string
	Addr     string // ip:port
	URL      string // http://ip:port
	Requests atomic.Int64

	srv *http.Server
}

// Echo is what a Backend answers, so tests can check what the proxy sent.
type Echo = echo.Echo

// StartBackend serves on l until Close. l is typically from Pod.Listen.
func StartBackend(l net.Listener, name string) *Backend {
	b := &Backend{Name: name, Addr: l.Addr().String()}
	b.URL = "http://" + b.Addr
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	h := echo.Handler{Name: name}
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.Requests.Add(1)
			h.ServeHTTP(w, r)
		}),
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
