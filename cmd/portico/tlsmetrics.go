package main

import (
	"bytes"
	"crypto/tls"
	"log"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// tlsMetrics counts TLS handshakes on the HTTPS listener.
type tlsMetrics struct {
	handshakes prometheus.Counter
	errors     prometheus.Counter
}

func newTLSMetrics(reg prometheus.Registerer) *tlsMetrics {
	m := &tlsMetrics{
		handshakes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portico_tls_handshakes_total",
			Help: "TLS handshakes completed on the HTTPS listener (full and resumed).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portico_tls_handshake_errors_total",
			Help: "TLS handshakes that failed on the HTTPS listener (bad client hello, no shared version or cipher, timeout).",
		}),
	}
	reg.MustRegister(m.handshakes, m.errors)
	return m
}

// instrument counts completed handshakes: crypto/tls calls VerifyConnection
// on the server after every successful handshake, resumed ones included.
func (m *tlsMetrics) instrument(cfg *tls.Config) *tls.Config {
	prev := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		m.handshakes.Inc()
		if prev != nil {
			return prev(cs)
		}
		return nil
	}
	return cfg
}

// errorLog is the HTTPS server's ErrorLog. net/http reports each failed
// handshake there ("http: TLS handshake error from ..."), the only place it
// does, so that line is counted; everything goes on to the debug log.
func (m *tlsMetrics) errorLog(h slog.Handler) *log.Logger {
	next := slog.NewLogLogger(h, slog.LevelDebug).Writer()
	return log.New(writerFunc(func(p []byte) (int, error) {
		if bytes.Contains(p, []byte("TLS handshake error")) {
			m.errors.Inc()
		}
		return next.Write(p)
	}), "", 0)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
