package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"portico.dev/portico/h1"
	"portico.dev/portico/internal/testpki"
	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

// TestClientCert: ingress-nginx auth-tls-* over real TLS handshakes. The
// handshake of a host with client-certificate settings asks for a
// certificate (tlsstore), and each request is judged against its host's
// CA: 400 without one (or a redirect to the error page), 400 for one of
// another CA, 403 for a subject auth-tls-match-cn refuses, 421 for a
// Host other than the server name; the ssl-client-* headers go upstream
// and what the client sends under their names never does.
func TestClientCert(t *testing.T) {
	t.Parallel()
	ca, other := testpki.NewCA("clients"), testpki.NewCA("strangers")
	good := ca.Issue("client.example", testpki.Options{})
	stranger := other.Issue("stranger", testpki.Options{})
	expired := ca.Issue("expired", testpki.Options{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	roots := func() *router.ClientAuth { return &router.ClientAuth{Roots: certPool(ca), Depth: 1} }
	with := func(f func(*router.ClientAuth)) *router.ClientAuth { a := roots(); f(a); return a }
	_, addr := backend(t, "app", func(w http.ResponseWriter, r *http.Request) {
		for _, k := range sslClientHeaders {
			w.Header()["Seen-"+k] = r.Header[k]
		}
		w.Header()["Seen-Underscore"] = r.Header["Ssl_client_subject_dn"]
	})
	be := testBackend("app", addr)
	hosts := map[string]*router.ClientAuth{
		"on.test":     roots(),
		"opt.test":    with(func(a *router.ClientAuth) { a.Mode = router.ClientCertOptional }),
		"noca.test":   with(func(a *router.ClientAuth) { a.Mode = router.ClientCertOptionalNoCA; a.PassCert = true }),
		"cn.test":     with(func(a *router.ClientAuth) { a.MatchCN = regexp.MustCompile("CN=(other|client.example)") }),
		"nocn.test":   with(func(a *router.ClientAuth) { a.MatchCN = regexp.MustCompile("CN=notgonnamatch") }),
		"err.test":    with(func(a *router.ClientAuth) { a.ErrorPage = "https://login.test/mtls" }),
		"bad.test":    {Invalid: "Secret ns/ca not found"},
		"*.wild.test": roots(),
	}
	alias := hosts["on.test"] // server-alias: another host of the same settings
	var routes []router.Route
	names := map[string]*x509.CertPool{}
	for h, a := range hosts {
		routes = append(routes, router.Route{Host: h, Path: "/", Type: router.Prefix, Backend: be, Source: "ns/" + h,
			Options: &router.Options{ClientAuth: a}})
		names[h] = a.Roots
	}
	routes = append(routes, router.Route{Host: "alias.test", Path: "/", Type: router.Prefix, Backend: be, Source: "ns/on.test",
		Options: &router.Options{ClientAuth: alias}})
	names["alias.test"] = alias.Roots
	routes = append(routes, router.Route{Host: "open.test", Path: "/", Type: router.Prefix, Backend: be, Source: "ns/open", Options: &router.Options{}})
	table, conflicts := router.New(routes, nil)
	if len(conflicts) > 0 {
		t.Fatal(conflicts)
	}
	live := &router.Live{}
	live.Store(table)
	store, err := tlsstore.New(tlsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	store.SetClientCertHosts(names)
	p := New(Config{Table: live, Scheme: "https", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &h1.Server{Handler: p, HTTP2: &http.Server{Handler: p}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), TLSConfig: store.TLSConfig()}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	for _, tt := range []struct {
		name, sni, host string
		cert            *testpki.Leaf
		status          int
		verify          string // the ssl-client-verify the backend saw
		location        string
	}{
		{"required, none", "on.test", "on.test", nil, 400, "", ""},
		{"required, good", "on.test", "on.test", good, 200, "SUCCESS", ""},
		{"required, another CA", "on.test", "on.test", stranger, 400, "", ""},
		{"wildcard host, good", "a.wild.test", "a.wild.test", good, 200, "SUCCESS", ""},
		{"wildcard host, none", "a.wild.test", "a.wild.test", nil, 400, "", ""},
		{"optional, none", "opt.test", "opt.test", nil, 200, "NONE", ""},
		{"optional, good", "opt.test", "opt.test", good, 200, "SUCCESS", ""},
		{"optional, another CA", "opt.test", "opt.test", stranger, 400, "", ""},
		{"optional_no_ca, another CA", "noca.test", "noca.test", stranger, 200, "FAILED:unable to get local issuer certificate", ""},
		{"optional_no_ca, expired", "noca.test", "noca.test", expired, 400, "", ""}, // nginx lets only an unknown issuer through
		{"match-cn matches", "cn.test", "cn.test", good, 200, "SUCCESS", ""},
		{"match-cn does not match", "nocn.test", "nocn.test", good, 403, "", ""},
		{"error page", "err.test", "err.test", nil, 302, "", "https://login.test/mtls"},
		{"unusable settings", "bad.test", "bad.test", good, 403, "", ""},
		{"server name of another host", "open.test", "on.test", good, 421, "", ""},
		{"server name of another host with other settings", "opt.test", "on.test", good, 421, "", ""},
		{"server name of an alias of the host", "alias.test", "on.test", good, 200, "SUCCESS", ""},
		{"no server name", "", "on.test", good, 400, "", ""}, // no certificate was asked for
		{"host without settings", "open.test", "open.test", good, 200, "", ""},
	} {
		tc := &tls.Config{ServerName: tt.sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
		if tt.cert != nil {
			// Sent whatever CAs the server names (a Go client would keep
			// back one the names do not cover).
			leaf := tt.cert
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &leaf.TLSCert, nil }
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/x", nil)
		req.Host = tt.host
		req.Header.Set(hdrClientVerify, "SUCCESS") // forged: never upstream
		req.Header.Set(hdrClientDN, "CN=admin")
		req.Header["Ssl_client_subject_dn"] = []string{"CN=admin"}               // CGI servers read it as the same variable
		req.Header.Set("Connection", "ssl-client-verify, ssl-client-subject-dn") // must not remove Portico's
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.CloseIdleConnections()
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s: %d Location %q %q, want %d %q", tt.name, resp.StatusCode, resp.Header.Get("Location"), body, tt.status, tt.location)
			continue
		}
		if resp.StatusCode != 200 {
			continue
		}
		if got := resp.Header.Get("Seen-" + hdrClientVerify); got != tt.verify {
			t.Errorf("%s: upstream ssl-client-verify %q, want %q", tt.name, got, tt.verify)
		}
		if v := resp.Header.Get("Seen-Underscore"); v != "" {
			t.Errorf("%s: the underscore spelling went upstream: %q", tt.name, v)
		}
		dn := resp.Header.Get("Seen-" + hdrClientDN)
		switch {
		case tt.verify == "" && dn != "":
			t.Errorf("%s: the forged subject DN %q went upstream", tt.name, dn)
		case tt.cert != nil && tt.verify != "" && !strings.HasPrefix(dn, "CN="+tt.cert.Cert.Subject.CommonName+","):
			t.Errorf("%s: upstream subject DN %q", tt.name, dn)
		}
		cert := resp.Header.Get("Seen-" + hdrClientCert)
		if want := tt.sni == "noca.test"; want != strings.HasPrefix(cert, "-----BEGIN%20CERTIFICATE-----%0A") {
			t.Errorf("%s: upstream ssl-client-cert %.40q", tt.name, cert)
		}
	}
}

func certPool(cas ...*testpki.CA) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cas {
		p.AddCert(c.Cert)
	}
	return p
}

// TestClientCertCacheKeepsOnlyTrusted: certificates that fail are never
// remembered, so strangers cannot fill the cache or push out the verdicts
// of real clients; and the cache holds hashes, not certificates.
func TestClientCertCacheKeepsOnlyTrusted(t *testing.T) {
	t.Parallel()
	ca, other := testpki.NewCA("clients"), testpki.NewCA("strangers")
	a := &router.ClientAuth{Roots: certPool(ca), Depth: 1}
	var cc clientCertCache
	good := ca.Issue("good", testpki.Options{}).Cert
	if err := cc.verify(a, []*x509.Certificate{good}); err != nil {
		t.Fatal(err)
	}
	stranger := other.Issue("stranger", testpki.Options{}).Cert
	for range 2 * clientCertCacheSize {
		c := *stranger // a fresh object each time, as each connection parses its own
		if cc.verify(a, []*x509.Certificate{&c}) == nil {
			t.Fatal("a stranger's certificate verified")
		}
	}
	if len(cc.m) != 1 {
		t.Errorf("the cache holds %d verdicts, want the one trusted", len(cc.m))
	}
	c := *good
	if err := cc.verify(a, []*x509.Certificate{&c}); err != nil {
		t.Errorf("the trusted verdict was lost: %v", err)
	}
}
