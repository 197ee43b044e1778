package router

import (
	"crypto/tls"
	"crypto/x509"
)

// BackendTLS is how the proxy speaks TLS to a backend and checks the
// certificate it presents (Gateway API BackendTLSPolicy, plus the
// Gateway's spec.tls.backend client certificate). A Backend without it
// is spoken to as its Protocol says, unverified when that is TLS.
type BackendTLS struct {
	// Key identifies the configuration: two BackendTLS with the same Key
	// are the same configuration, so the proxy keeps one connection pool
	// per Key across table swaps. The translator derives it from the
	// contents (server name, CA bundle, SANs, client certificate).
	Key string
	// ServerName is sent as SNI and, without SANs, is the name the
	// certificate must be valid for.
	ServerName string
	// RootCAs are the trust anchors; nil means the system roots.
	RootCAs *x509.CertPool
	// SANs, when not empty, replace ServerName for authentication: the
	// certificate must carry at least one of them (DNS names in
	// certificate matching rules, URIs exactly).
	SANs []SAN
	// ClientCertificate, when set, is presented to the backend.
	ClientCertificate *tls.Certificate
	// SkipVerify: the backend's certificate is not checked (ingress-nginx
	// proxy-ssl-verify off); a client certificate is still presented.
	SkipVerify bool `json:",omitempty"`
	// NoSNI: ServerName is checked but not sent as SNI (ingress-nginx
	// proxy-ssl-server-name off).
	NoSNI bool `json:",omitempty"`
	// VerifyDepth, when above 0, is the longest chain accepted, counted
	// as OpenSSL does: 1 means the certificate is issued by a trust
	// anchor directly (ingress-nginx proxy-ssl-verify-depth).
	VerifyDepth int `json:",omitempty"`
	// MinVersion and MaxVersion bound the TLS version (tls.VersionTLS12,
	// ...); 0 for Portico's defaults (at least TLS 1.2).
	MinVersion, MaxVersion uint16 `json:",omitempty"`
	// Invalid, when not empty, says why the backend must not be used: its
	// policy names CA certificates that cannot be read, and the Gateway API
	// requires such connections to fail. The proxy answers 500.
	Invalid string
}

// SAN is one subject alternative name a backend certificate may carry.
type SAN struct {
	DNS string // a hostname, "*.example.com" allowed
	URI string // an absolute URI, e.g. "spiffe://example.com/id"
}
