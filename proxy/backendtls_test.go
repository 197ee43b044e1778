package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"portico.dev/portico/router"
)

// testCA is a certificate authority of a test's own.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue signs a leaf for cn with DNS and URI SANs, for servers or clients.
func (ca *testCA) issue(t testing.TB, cn string, client bool, dns []string, uris ...string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns,
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// tlsBackend serves TLS on loopback with cert and, when clients is set,
// requires client certificates from it. It answers with the server name
// it was asked for and the client certificate's common name.
func tlsBackend(t testing.TB, cert *tls.Certificate, clients *x509.CertPool) string {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-SNI", r.TLS.ServerName)
		if len(r.TLS.PeerCertificates) > 0 {
			w.Header().Set("X-Client", r.TLS.PeerCertificates[0].Subject.CommonName)
		}
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	s.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	if clients != nil {
		s.TLS.ClientCAs, s.TLS.ClientAuth = clients, tls.RequireAndVerifyClientCert
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

func exactRoute(path string, b *router.Backend) router.Route {
	return router.Route{Path: path, Type: router.Exact, Options: &router.Options{}, Source: "HTTPRoute ns/r",
		Backends: []router.WeightedBackend{{Backend: b, Weight: 1}}}
}

func tlsTestBackend(name, addr string, tl *router.BackendTLS) *router.Backend {
	b := testBackend(name, addr)
	b.TLS = tl
	return b
}

// TestBackendTLSPolicy sends requests over real sockets to TLS backends
// verified as their BackendTLSPolicy says: the right CA and name work
// (with the policy's hostname as SNI); a wrong CA, a missing SAN or a
// missing client certificate is refused with 502 while the route's other
// backends keep working; an unusable policy is 500.
func TestBackendTLSPolicy(t *testing.T) {
	ca, other, clientCA := newTestCA(t, "backend-ca"), newTestCA(t, "other-ca"), newTestCA(t, "client-ca")
	serving := ca.issue(t, "abc", false, []string{"abc.example.com", "*.wild.example.com"}, "spiffe://abc.example.com/test-identity")
	plainAddr := tlsBackend(t, serving, nil)
	mtlsAddr := tlsBackend(t, serving, clientCA.pool)
	clientCert := clientCA.issue(t, "portico-gateway", true, nil)
	_, httpAddr := backend(t, "plain-http", nil)

	verified := &router.BackendTLS{Key: "verified", ServerName: "abc.example.com", RootCAs: ca.pool}
	routes := []router.Route{
		exactRoute("/verified", tlsTestBackend("verified", plainAddr, verified)),
		exactRoute("/shared-config", tlsTestBackend("verified-too", plainAddr, verified)),
		exactRoute("/wrong-ca", tlsTestBackend("wrong-ca", plainAddr, &router.BackendTLS{Key: "wrong-ca", ServerName: "abc.example.com", RootCAs: other.pool})),
		exactRoute("/wrong-name", tlsTestBackend("wrong-name", plainAddr, &router.BackendTLS{Key: "wrong-name", ServerName: "mismatch.example.com", RootCAs: ca.pool})),
		exactRoute("/san-dns", tlsTestBackend("san-dns", plainAddr, &router.BackendTLS{Key: "san-dns", ServerName: "not-in-cert.example.com", RootCAs: ca.pool,
			SANs: []router.SAN{{DNS: "x.wild.example.com"}}})),
		exactRoute("/san-uri", tlsTestBackend("san-uri", plainAddr, &router.BackendTLS{Key: "san-uri", ServerName: "abc.example.com", RootCAs: ca.pool,
			SANs: []router.SAN{{URI: "spiffe://def.example.com/test-identity"}, {URI: "spiffe://abc.example.com/test-identity"}}})),
		exactRoute("/san-mismatch", tlsTestBackend("san-mismatch", plainAddr, &router.BackendTLS{Key: "san-mismatch", ServerName: "abc.example.com", RootCAs: ca.pool,
			SANs: []router.SAN{{DNS: "dce.example.com"}, {URI: "spiffe://def.example.com/test-identity"}}})),
		exactRoute("/san-wrong-ca", tlsTestBackend("san-wrong-ca", plainAddr, &router.BackendTLS{Key: "san-wrong-ca", ServerName: "abc.example.com", RootCAs: other.pool,
			SANs: []router.SAN{{DNS: "abc.example.com"}}})),
		exactRoute("/mtls", tlsTestBackend("mtls", mtlsAddr, &router.BackendTLS{Key: "mtls", ServerName: "abc.example.com", RootCAs: ca.pool, ClientCertificate: clientCert})),
		exactRoute("/mtls-without", tlsTestBackend("mtls-without", mtlsAddr, &router.BackendTLS{Key: "mtls-without", ServerName: "abc.example.com", RootCAs: ca.pool})),
		exactRoute("/invalid", tlsTestBackend("invalid", plainAddr, &router.BackendTLS{Invalid: "caCertificateRef ns/absent: ConfigMap not found"})),
		exactRoute("/http", testBackend("plain-http", httpAddr)),
	}
	f := newRouteFixture(t, Config{}, routes...)
	cases := []struct {
		path        string
		status      int
		sni, client string
	}{
		{"/verified", 200, "abc.example.com", ""},
		{"/shared-config", 200, "abc.example.com", ""},
		{"/wrong-ca", 502, "", ""},
		{"/wrong-name", 502, "", ""},
		{"/san-dns", 200, "not-in-cert.example.com", ""},
		{"/san-uri", 200, "abc.example.com", ""},
		{"/san-mismatch", 502, "", ""},
		{"/san-wrong-ca", 502, "", ""},
		{"/mtls", 200, "abc.example.com", "portico-gateway"},
		{"/mtls-without", 502, "", ""},
		{"/invalid", 500, "", ""},
		{"/http", 200, "", ""},
		{"/verified", 200, "abc.example.com", ""}, // unaffected by the failures before
	}
	for _, c := range cases {
		resp, body := f.do(t, "GET", c.path, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.path, resp.StatusCode, c.status, body)
			continue
		}
		if got := resp.Header.Get("X-SNI"); got != c.sni {
			t.Errorf("%s: backend saw SNI %q, want %q", c.path, got, c.sni)
		}
		if got := resp.Header.Get("X-Client"); got != c.client {
			t.Errorf("%s: backend saw client certificate %q, want %q", c.path, got, c.client)
		}
	}
	// One pool per configuration: /verified and /shared-config share one;
	// the invalid and plain backends have none.
	if n, want := f.proxy.cfg.Transports.tls.len(), 9; n != want {
		t.Errorf("%d TLS transports, want %d (one per configuration)", n, want)
	}
}

// TestBackendTLSPoolsDropUnused: a configuration nobody used for
// tlsPoolIdle loses its transport at the next sweep.
func TestBackendTLSPoolsDropUnused(t *testing.T) {
	ps := &tlsPools{}
	a := &router.BackendTLS{Key: "a", ServerName: "a.example"}
	b := &router.BackendTLS{Key: "b", ServerName: "b.example"}
	ta := ps.transport(a, router.HTTPS)
	if ps.transport(a, router.HTTPS) != ta {
		t.Fatal("a second request built another transport")
	}
	if ps.transport(a, router.GRPCS) == ta {
		t.Fatal("HTTP/2 shares the HTTP/1.1 transport")
	}
	ps.mu.Lock()
	for _, p := range ps.pools {
		p.lastUsed -= int64(tlsPoolIdle)
	}
	ps.lastSweep -= int64(tlsPoolSweepEvery)
	ps.mu.Unlock()
	ps.transport(b, router.HTTPS)
	if n := ps.len(); n != 1 {
		t.Fatalf("%d transports after the sweep, want 1 (b's)", n)
	}
}

// BenchmarkBackendTLSLookup: finding a TLS backend's transport on the
// request path costs no allocation.
func BenchmarkBackendTLSLookup(b *testing.B) {
	tr := NewTransports(TransportConfig{})
	be := &router.Backend{ID: "ns/s:443", TLS: &router.BackendTLS{Key: "k", ServerName: "s.example"}}
	tr.ForBackend(be, router.HTTPS)
	b.ReportAllocs()
	for b.Loop() {
		_ = tr.ForBackend(be, router.HTTPS)
	}
}

// intermediate is a CA issued by ca.
func (ca *testCA) intermediate(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// TestBackendTLSIngressSettings: the settings ingress-nginx's proxy-ssl-*
// annotations need (verification off, a name checked but not sent as SNI,
// a chain depth limit, TLS versions), over real sockets.
func TestBackendTLSIngressSettings(t *testing.T) {
	ca, other := newTestCA(t, "backend-ca"), newTestCA(t, "other-ca")
	direct := tlsBackend(t, ca.issue(t, "svc", false, []string{"svc.ns.svc"}), nil)
	inter := ca.intermediate(t, "backend-intermediate")
	leaf := inter.issue(t, "deep", false, []string{"deep.ns.svc"})
	leaf.Certificate = append(leaf.Certificate, inter.cert.Raw)
	deep := tlsBackend(t, leaf, nil)
	tls12 := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tls12.Config.ErrorLog = log.New(io.Discard, "", 0)
	tls12.TLS = &tls.Config{Certificates: []tls.Certificate{*ca.issue(t, "old", false, []string{"svc.ns.svc"})}, MaxVersion: tls.VersionTLS12}
	tls12.StartTLS()
	t.Cleanup(tls12.Close)
	old := tls12.Listener.Addr().String()

	bt := func(key string, tl router.BackendTLS) *router.BackendTLS { tl.Key = key; return &tl }
	routes := []router.Route{
		exactRoute("/skip-verify", tlsTestBackend("skip", direct, bt("skip", router.BackendTLS{ServerName: "wrong.example", RootCAs: other.pool, SkipVerify: true}))),
		exactRoute("/no-sni", tlsTestBackend("no-sni", direct, bt("no-sni", router.BackendTLS{ServerName: "svc.ns.svc", RootCAs: ca.pool, NoSNI: true}))),
		exactRoute("/no-sni-wrong-name", tlsTestBackend("no-sni-wrong", direct, bt("no-sni-wrong", router.BackendTLS{ServerName: "other.ns.svc", RootCAs: ca.pool, NoSNI: true}))),
		exactRoute("/no-sni-wrong-ca", tlsTestBackend("no-sni-wrong-ca", direct, bt("no-sni-wrong-ca", router.BackendTLS{ServerName: "svc.ns.svc", RootCAs: other.pool, NoSNI: true}))),
		exactRoute("/depth-1-direct", tlsTestBackend("d1", direct, bt("d1", router.BackendTLS{ServerName: "svc.ns.svc", RootCAs: ca.pool, VerifyDepth: 1}))),
		exactRoute("/depth-1-deep", tlsTestBackend("d1-deep", deep, bt("d1-deep", router.BackendTLS{ServerName: "deep.ns.svc", RootCAs: ca.pool, VerifyDepth: 1}))),
		exactRoute("/depth-2-deep", tlsTestBackend("d2-deep", deep, bt("d2-deep", router.BackendTLS{ServerName: "deep.ns.svc", RootCAs: ca.pool, VerifyDepth: 2}))),
		exactRoute("/tls13-only", tlsTestBackend("tls13", old, bt("tls13", router.BackendTLS{ServerName: "svc.ns.svc", RootCAs: ca.pool, MinVersion: tls.VersionTLS13}))),
		exactRoute("/tls12", tlsTestBackend("tls12", old, bt("tls12", router.BackendTLS{ServerName: "svc.ns.svc", RootCAs: ca.pool, MaxVersion: tls.VersionTLS12}))),
	}
	f := newRouteFixture(t, Config{}, routes...)
	for _, c := range []struct {
		path   string
		status int
		sni    string
	}{
		{"/skip-verify", 200, "wrong.example"},
		{"/no-sni", 200, ""},
		{"/no-sni-wrong-name", 502, ""},
		{"/no-sni-wrong-ca", 502, ""},
		{"/depth-1-direct", 200, "svc.ns.svc"},
		{"/depth-1-deep", 502, ""},
		{"/depth-2-deep", 200, "deep.ns.svc"},
		{"/tls13-only", 502, ""},
		{"/tls12", 200, ""},
	} {
		resp, body := f.do(t, "GET", c.path, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.path, resp.StatusCode, c.status, body)
			continue
		}
		if got := resp.Header.Get("X-SNI"); c.status == 200 && c.path != "/tls12" && got != c.sni {
			t.Errorf("%s: backend saw SNI %q, want %q", c.path, got, c.sni)
		}
	}
}
