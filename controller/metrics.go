package controller

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics is valid
// and records nothing.
type Metrics struct {
	builds    *prometheus.CounterVec
	lastBuild prometheus.Gauge
	duration  prometheus.Histogram
	ingresses *prometheus.GaugeVec
	invalid   prometheus.Gauge
	expiry    *prometheus.GaugeVec
}

// NewMetrics registers the controller's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_config_builds_total",
			Help: "Routing table builds, by result: success, partial (some Ingress had problems), error (last good table kept).",
		}, []string{"result"}),
		lastBuild: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_config_last_build_timestamp_seconds",
			Help: "Unix time of the last routing table build.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "portico_config_build_duration_seconds",
			Help:    "Time to compile the cluster state into a routing table.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
		}),
		ingresses: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portico_ingresses",
			Help: "Ingresses of Portico's class, by state: admitted (at least one route live) or rejected (nothing usable).",
		}, []string{"state"}),
		invalid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_tls_invalid_secrets",
			Help: "TLS Secrets referenced by Ingresses whose data cannot be used (bad PEM, key mismatch, expired, wrong type).",
		}),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portico_tls_certificate_expiry_timestamp_seconds",
			Help: "Unix time at which the certificate served from a Secret expires.",
		}, []string{"namespace", "secret"}),
	}
	for _, r := range []string{"success", "partial", "error"} {
		m.builds.WithLabelValues(r)
	}
	reg.MustRegister(m.builds, m.lastBuild, m.duration, m.ingresses, m.invalid, m.expiry)
	return m
}

func (m *Metrics) observeBuild(result string, start time.Time) {
	if m == nil {
		return
	}
	m.builds.WithLabelValues(result).Inc()
	m.lastBuild.Set(float64(time.Now().UnixNano()) / 1e9)
	m.duration.Observe(time.Since(start).Seconds())
}

func (m *Metrics) observeIngresses(admitted, rejected int) {
	if m == nil {
		return
	}
	m.ingresses.WithLabelValues("admitted").Set(float64(admitted))
	m.ingresses.WithLabelValues("rejected").Set(float64(rejected))
}

func (m *Metrics) observeCertificates(res Result) {
	if m == nil {
		return
	}
	m.invalid.Set(float64(res.InvalidSecrets))
	// Reset so Secrets that are gone stop being reported.
	m.expiry.Reset()
	certs := res.Certificates
	if res.DefaultCertificate != nil {
		certs = append(certs[:len(certs):len(certs)], res.DefaultCertificate)
	}
	for _, c := range certs {
		ns, name, _ := strings.Cut(c.Source, "/")
		m.expiry.WithLabelValues(ns, name).Set(float64(c.NotAfter.Unix()))
	}
}
