package conformance

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// TestHostRules ports features/host_rules.feature: exact and wildcard
// hosts, over HTTP and HTTPS.
func TestHostRules(t *testing.T) {
	e := newEnv(t, 8080, nil, "wildcard-foo-com", "foo-bar-com")
	certPEM := e.tlsSecret(t, "conformance-tls", "foo.bar.com")
	e.ingress(t, "host-rules", networkingv1.IngressSpec{
		TLS: []networkingv1.IngressTLS{{Hosts: []string{"foo.bar.com"}, SecretName: "conformance-tls"}},
		Rules: []networkingv1.IngressRule{
			rule("*.foo.com", harness.Path("/", prefix, "wildcard-foo-com", 8080)),
			rule("foo.bar.com", harness.Path("/", prefix, "foo-bar-com", "http")), // the suite names this port
		},
	})
	// Skipped step: "The Ingress status shows the IP address or FQDN where
	// it is exposed" (status.loadBalancer is written by the status issue).
	waitRouted(t, e, "bar.foo.com", "/", "wildcard-foo-com")

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(certPEM) {
		t.Fatal("bad certificate PEM")
	}
	// The URL's host is the SNI name and the name verified: the client
	// trusts only the Secret's self-signed certificate.
	secure := e.p.TLSClient(&tls.Config{RootCAs: roots})
	plain := e.p.Client()
	httpsURL := "https://foo.bar.com/"

	t.Run("An Ingress with a host rule should send TLS traffic to the matching backend service", func(t *testing.T) {
		var r result
		harness.Eventually(t, 10*time.Second, func() (err error) { // the certificate may go live a moment after the route
			r, err = send(secure, "GET", httpsURL, "")
			return err
		})
		if r.status != http.StatusOK || r.backend != "foo-bar-com" || r.echo.Host != "foo.bar.com" {
			t.Errorf("got %d from %q with request host %q, want 200 from foo-bar-com, host foo.bar.com", r.status, r.backend, r.echo.Host)
		}
	})

	// The suite's client does not follow redirects and wants 200 over plain
	// HTTP. foo.bar.com has a TLS section, and Portico redirects plain HTTP
	// for such hosts by default (portico.dev/ssl-redirect, as ingress-nginx
	// does), so the scenario is checked twice: Portico's default, then the
	// scenario exactly as written with the redirect turned off.
	t.Run("An Ingress with a host rule should send traffic to the matching backend service (default: 308 to HTTPS, then served)", func(t *testing.T) {
		r, err := send(plain, "GET", e.url("/"), "foo.bar.com")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(e.p.HTTPSAddr)
		if want := "https://foo.bar.com:" + port + "/"; r.status != http.StatusPermanentRedirect || r.header.Get("Location") != want {
			t.Fatalf("plain HTTP to a TLS host: %d Location %q, want 308 to %s", r.status, r.header.Get("Location"), want)
		}
		r, err = send(secure, "GET", httpsURL, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK || r.backend != "foo-bar-com" || r.echo.Host != "foo.bar.com" {
			t.Errorf("got %d from %q with request host %q, want 200 from foo-bar-com, host foo.bar.com", r.status, r.backend, r.echo.Host)
		}
	})

	for _, tc := range []struct{ name, host, want string }{
		{"An Ingress with a host rule should not route traffic when hostname does not match", "subdomain.bar.com", ""},
		{"An Ingress with a wildcard host rule should send traffic to the matching backend service", "bar.foo.com", "wildcard-foo-com"},
		{"An Ingress with a wildcard host rule should not route traffic matching on more than a single dns label", "baz.bar.foo.com", ""},
		{"An Ingress with a wildcard host rule should not route traffic matching no dns label", "foo.com", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := send(plain, "GET", e.url("/"), tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if r.status != http.StatusNotFound || r.backend != "" {
					t.Errorf("GET http://%s/ = %d from %q, want 404 from Portico", tc.host, r.status, r.backend)
				}
				return
			}
			if r.status != http.StatusOK || r.backend != tc.want || r.echo.Host != tc.host {
				t.Errorf("GET http://%s/ = %d from %q (host %q), want 200 from %s", tc.host, r.status, r.backend, r.echo.Host, tc.want)
			}
		})
	}

	t.Run("An Ingress with a host rule should send traffic to the matching backend service (as written, portico.dev/ssl-redirect: false)", func(t *testing.T) {
		harness.UpdateIngress(t, cp, e.ns, "host-rules", func(ing *networkingv1.Ingress) {
			ing.Annotations = map[string]string{"portico.dev/ssl-redirect": "false"}
		})
		var r result
		harness.Eventually(t, 10*time.Second, func() (err error) {
			r, err = send(plain, "GET", e.url("/"), "foo.bar.com")
			if err == nil && r.status == http.StatusPermanentRedirect {
				err = errors.New("still redirected")
			}
			return err
		})
		if r.status != http.StatusOK || r.backend != "foo-bar-com" || r.echo.Host != "foo.bar.com" {
			t.Errorf("got %d from %q with request host %q, want 200 from foo-bar-com, host foo.bar.com", r.status, r.backend, r.echo.Host)
		}
	})
}
