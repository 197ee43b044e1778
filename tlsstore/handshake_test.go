package tlsstore

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
)

// serve accepts TLS connections on a loopback listener, answers each with
// one line, and returns the address. The line matters: a TLS 1.3 client
// only processes its session ticket when it reads after the handshake.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if conn.(*tls.Conn).Handshake() == nil {
					conn.Write([]byte("ok\n"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dial handshakes with addr, reads the server's line and returns the state.
func dial(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		return tls.ConnectionState{}, err
	}
	return conn.ConnectionState(), nil
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	root, inter, leaf := chain(t, "chain.example.com")
	chained, err := Parse(append(slices.Clone(leaf.certPEM), inter.certPEM...), leaf.keyPEM, leaf.cert.NotBefore)
	if err != nil {
		t.Fatal(err)
	}
	www, wild := mustCert(t, "www", "www.example.com"), mustCert(t, "wild", "*.example.com")
	s.Replace([]*Certificate{chained, www, wild})
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	for _, c := range []*Certificate{www, wild, s.Default()} {
		roots.AddCert(c.Cert.Leaf)
	}
	addr := serve(t, s.TLSConfig())

	tests := []struct {
		name, sni string
		wantSANs  []string
	}{
		{"exact", "www.example.com", []string{"www.example.com"}},
		{"wildcard", "app.example.com", []string{"*.example.com"}},
		{"chain verified through intermediate", "chain.example.com", []string{"chain.example.com"}},
		{"default", "portico-default", []string{"portico-default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			state, err := dial(addr, &tls.Config{ServerName: tt.sni, RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := state.PeerCertificates[0].DNSNames; !slices.Equal(got, tt.wantSANs) {
				t.Errorf("served SANs %q, want %q", got, tt.wantSANs)
			}
			if state.NegotiatedProtocol != "h2" {
				t.Errorf("ALPN = %q, want h2", state.NegotiatedProtocol)
			}
		})
	}
}

func TestHandshakeRefusesWeakClients(t *testing.T) {
	t.Parallel()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s.TLSConfig())
	tests := []struct {
		name string
		cfg  *tls.Config
	}{
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}},
		{"TLS 1.2 CBC suite", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}},
		{"TLS 1.2 without ECDHE", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.InsecureSkipVerify = true // the refusal is what is under test
			state, err := dial(addr, tt.cfg)
			switch {
			case err == nil:
				t.Errorf("handshake succeeded with version %x, suite %x", state.Version, state.CipherSuite)
			case !strings.Contains(err.Error(), "remote error"):
				t.Errorf("handshake failed on the client side, not refused by the server: %v", err)
			}
		})
	}
}

// TestSessionResumptionAcrossRotation checks that tickets outlive one key
// rotation but not ticketKeyHistory of them, through a cloned config as
// http.Server.ServeTLS would use.
func TestSessionResumptionAcrossRotation(t *testing.T) {
	t.Parallel()
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Parallel()
			s, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s.RotateTicketKeys(ctx, 0)
			addr := serve(t, s.TLSConfig().Clone())
			client := &tls.Config{
				ServerName:         "portico-default",
				InsecureSkipVerify: true,
				MinVersion:         version,
				MaxVersion:         version,
				ClientSessionCache: tls.NewLRUClientSessionCache(1),
			}
			steps := []struct {
				rotations  int
				wantResume bool
			}{
				{0, false}, // first contact
				{0, true},
				{1, true}, // still opened by the previous key
				{ticketKeyHistory, false},
			}
			for i, step := range steps {
				for range step.rotations {
					s.tickets.rotate()
				}
				state, err := dial(addr, client)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if state.DidResume != step.wantResume {
					t.Errorf("step %d after %d rotations: DidResume = %v, want %v", i, step.rotations, state.DidResume, step.wantResume)
				}
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	t.Parallel()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.TLSConfig(), s.TLSConfig()
	if a.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x", a.MinVersion)
	}
	a.CipherSuites[0], a.NextProtos[0] = 0, "changed"
	if b.CipherSuites[0] == 0 || b.NextProtos[0] != "h2" {
		t.Error("configs returned by TLSConfig share slices")
	}
	insecure := tls.InsecureCipherSuites()
	for _, id := range b.CipherSuites {
		if slices.ContainsFunc(insecure, func(c *tls.CipherSuite) bool { return c.ID == id }) {
			t.Errorf("insecure suite %s offered", tls.CipherSuiteName(id))
		}
	}
}

// TestClientCertHosts: handshakes of the names given to
// SetClientCertHosts, and of names under their wildcards, ask for a client
// certificate, without session tickets; others do not ask.
func TestClientCertHosts(t *testing.T) {
	t.Parallel()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.SetClientCertHosts(map[string]*x509.CertPool{"MTLS.test": nil, "*.wild.test": nil})
	addr := serve(t, s.TLSConfig())
	for _, tt := range []struct {
		sni  string
		asks bool
	}{{"mtls.test", true}, {"mtls.test.", true}, {"a.wild.test", true}, {"wild.test", false}, {"b.a.wild.test", false}, {"open.test", false}, {"", false}} {
		asked := false
		_, err := dial(addr, &tls.Config{ServerName: tt.sni, InsecureSkipVerify: true,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				asked = true
				return &tls.Certificate{}, nil // none: the handshake still completes
			}})
		if err != nil || asked != tt.asks {
			t.Errorf("SNI %q: asked %v (err %v), want %v", tt.sni, asked, err, tt.asks)
		}
	}
	s.SetClientCertHosts(nil)
	asked := false
	if _, err := dial(addr, &tls.Config{ServerName: "mtls.test", InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked = true
			return &tls.Certificate{}, nil
		}}); err != nil || asked {
		t.Errorf("after clearing: asked %v, err %v", asked, err)
	}
}
