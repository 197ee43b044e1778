package main

import (
	"crypto/tls"
	"net"

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

// handshakeError counts a failed handshake on the HTTPS listener (the
// server logs it at debug level).
func (m *tlsMetrics) handshakeError(net.Addr, error) { m.errors.Inc() }
