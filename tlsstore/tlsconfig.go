package tlsstore

import "crypto/tls"

// modernCipherSuites are the TLS 1.2 suites Portico offers: ECDHE for
// forward secrecy and AEAD only (Mozilla's "intermediate" profile). TLS 1.3
// suites are not configurable in crypto/tls and are all AEAD already.
var modernCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns a new server config that picks certificates from s.
// Each call returns a fresh config, so callers may modify it.
//
// Session tickets are sealed with keys s owns (see [Store.RotateTicketKeys])
// through WrapSession/UnwrapSession rather than with keys set on the
// returned config, because http.Server.ServeTLS clones its TLSConfig and a
// clone would keep a stale copy of the keys forever.
//
// Handshakes of the names given to [Store.SetClientCertHosts] ask the
// client for a certificate (through GetConfigForClient, which a caller
// that sets its own replaces).
func (s *Store) TLSConfig() *tls.Config {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   append([]uint16(nil), modernCipherSuites...),
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: s.GetCertificate,
		WrapSession:    s.tickets.wrap,
		UnwrapSession:  s.tickets.unwrap,
	}
	cfg.GetConfigForClient = s.clientCertConfig(cfg)
	return cfg
}
