package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/internal/testpki"
	"portico.dev/portico/test/harness"
)

// TestNginxAuthTLS ports the HTTP-level assertions of ingress-nginx's
// test/e2e/annotations/authtls.go and of traefik's
// e2e/authtls_suite_test.go (their nginx side): a Secret holding the
// host's certificate and the client CA (ca.crt), as ingress-nginx's
// CreateIngressMASecret makes it, the same annotations, and the same
// status (and upstream ssl-client-* headers) with and without a client
// certificate, over real TLS handshakes.
func TestNginxAuthTLS(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	harness.Service(t, cp, ns, "echo", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "echo", "echo-1", 8080, endpoints(be...)...))

	serverCA, clientCA, otherCA := testpki.NewCA("server-ca"), testpki.NewCA("client-ca"), testpki.NewCA("unrelated-ca")
	client := clientCA.Issue("authtls", testpki.Options{})
	stranger := otherCA.Issue("authtls", testpki.Options{}) // same name, wrong CA
	const ngx = "nginx.ingress.kubernetes.io/"
	// secret is the host's certificate with the client CA, as
	// CreateIngressMASecret makes it.
	secret := func(host string) string {
		srv := serverCA.Issue(host, testpki.Options{DNSNames: []string{host}})
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: host}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": srv.PEM, "tls.key": srv.KeyPEM, "ca.crt": clientCA.PEM}}
		if _, err := cp.Client.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return host
	}
	ingress := func(host string, ann map[string]string) {
		ing := harness.IngressObject(ns, strings.ReplaceAll(host, ".", "-"), "portico", host, harness.Path("/", networkingv1.PathTypePrefix, "echo", 80))
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: secret(host)}}
		ing.Annotations = map[string]string{}
		for k, v := range ann {
			ing.Annotations[ngx+k] = strings.ReplaceAll(v, "$ns", ns)
		}
		harness.CreateIngress(t, cp, ing)
	}
	annotate := func(host string, ann map[string]string) {
		harness.UpdateIngress(t, cp, ns, strings.ReplaceAll(host, ".", "-"), func(ing *networkingv1.Ingress) {
			ing.Annotations = map[string]string{}
			for k, v := range ann {
				ing.Annotations[ngx+k] = strings.ReplaceAll(v, "$ns", ns)
			}
		})
	}
	p := harness.StartPortico(t, cp)
	errorURL := "http://" + p.HTTPAddr + "/error"

	type answer struct {
		status   int
		location string
		echo     harness.Echo
	}
	get := func(host string, cert *testpki.Leaf) (answer, error) {
		cfg := &tls.Config{ServerName: host, RootCAs: certPool(serverCA)}
		if cert != nil {
			// Sent whatever CAs the server names, as a misconfigured client
			// would (a Go client keeps back one the names do not cover).
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLSCert, nil }
		}
		c := p.TLSClient(cfg)
		defer c.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, "https://"+host+"/", nil)
		resp, err := c.Do(req)
		if err != nil {
			return answer{}, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		a := answer{status: resp.StatusCode, location: resp.Header.Get("Location")}
		if resp.StatusCode == http.StatusOK {
			if a.echo, err = harness.ParseEcho(body); err != nil {
				return a, err
			}
		}
		return a, nil
	}
	// expect waits until host answers status to a client with cert (nil:
	// none), then checks the Location; it returns the answer.
	expect := func(t *testing.T, host string, cert *testpki.Leaf, status int, location string) answer {
		t.Helper()
		var a answer
		harness.Eventually(t, 10*time.Second, func() error {
			var err error
			if a, err = get(host, cert); err != nil {
				return err
			}
			if a.status != status || a.location != location {
				return fmt.Errorf("%s (certificate %v): %d Location %q, want %d %q", host, cert != nil, a.status, a.location, status, location)
			}
			return nil
		})
		return a
	}

	// ingress-nginx: "should set sslClientCertificate, sslVerifyClient and
	// sslVerifyDepth with auth-tls-secret": without the annotation no
	// certificate is needed; with it, 400 without one and 200 with one.
	h := "authtls.foo.com"
	ingress(h, nil)
	expect(t, h, nil, 200, "")
	annotate(h, map[string]string{"auth-tls-secret": "$ns/" + h})
	expect(t, h, nil, 400, "")
	a := expect(t, h, client, 200, "")
	if v := a.echo.Headers.Get("Ssl-Client-Verify"); v != "SUCCESS" || !strings.HasPrefix(a.echo.Headers.Get("Ssl-Client-Subject-Dn"), "CN=authtls,") ||
		!strings.HasPrefix(a.echo.Headers.Get("Ssl-Client-Issuer-Dn"), "CN=client-ca,") || a.echo.Headers.Get("Ssl-Client-Cert") != "" {
		t.Errorf("upstream ssl-client-* headers: %v", a.echo.Headers)
	}

	// "should set valid auth-tls-secret, sslVerify to off, and
	// sslVerifyDepth to 2": no certificate needed.
	h = "off.authtls.foo.com"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "off", "auth-tls-verify-depth": "2"})
	expect(t, h, nil, 200, "")

	// "should 302 redirect to error page instead of 400 when
	// auth-tls-error-page is set".
	h = "errorpage.authtls.foo.com"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-error-page": errorURL})
	expect(t, h, client, 200, "")
	expect(t, h, nil, 302, errorURL)

	// "should pass URL-encoded certificate to upstream".
	h = "passcert.authtls.foo.com"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-pass-certificate-to-upstream": "true"})
	a = expect(t, h, client, 200, "")
	if v := a.echo.Headers.Get("Ssl-Client-Cert"); !strings.HasPrefix(v, "-----BEGIN%20CERTIFICATE-----%0A") {
		t.Errorf("upstream ssl-client-cert %.60q", v)
	}
	expect(t, h, nil, 400, "")

	// "should validate auth-tls-verify-client": on, then off.
	h = "verify.authtls.foo.com"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "on"})
	expect(t, h, client, 200, "")
	expect(t, h, nil, 400, "")
	annotate(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "off"})
	expect(t, h, nil, 200, "")
	expect(t, h, client, 200, "")

	// auth-tls-match-cn: no match 403, a match (or one of the
	// alternatives) 200, and an update takes effect.
	h = "nomatch.authtls.foo.com"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "on", "auth-tls-match-cn": "CN=notgonnamatch"})
	expect(t, h, client, 403, "")
	h = "match.authtls.foo.com"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "on", "auth-tls-match-cn": "CN=authtls"})
	expect(t, h, client, 200, "")
	h = "update.authtls.foo.com"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "on", "auth-tls-match-cn": "CN=notvalid"})
	expect(t, h, client, 403, "")
	annotate(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "on", "auth-tls-match-cn": "CN=authtls"})
	expect(t, h, client, 200, "")
	h = "options.authtls.foo.com"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "on", "auth-tls-match-cn": "CN=(itwillmatch|withthenextoption|authtls)"})
	expect(t, h, client, 200, "")

	// traefik: TestClientCertRequired, TestInvalidClientCert,
	// TestClientCertOptional, TestClientCertOff, TestPassCertToUpstream.
	h = "required.traefik.authtls.test"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "on"})
	expect(t, h, client, 200, "")
	expect(t, h, nil, 400, "")
	expect(t, h, stranger, 400, "")
	h = "optional.traefik.authtls.test"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "optional"})
	if a := expect(t, h, nil, 200, ""); a.echo.Headers.Get("Ssl-Client-Verify") != "NONE" {
		t.Errorf("optional without a certificate: ssl-client-verify %q", a.echo.Headers.Get("Ssl-Client-Verify"))
	}
	expect(t, h, client, 200, "")
	h = "off.traefik.authtls.test"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "off"})
	expect(t, h, nil, 200, "")
	expect(t, h, client, 200, "")
	h = "passcert.traefik.authtls.test"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/" + h, "auth-tls-verify-client": "on", "auth-tls-pass-certificate-to-upstream": "true"})
	if a := expect(t, h, client, 200, ""); a.echo.Headers.Get("Ssl-Client-Cert") == "" {
		t.Error("pass-certificate-to-upstream: no ssl-client-cert upstream")
	}

	// Portico: a Secret that does not exist refuses the host (403) with a
	// Warning naming it, and the other hosts keep working.
	h = "missing.authtls.test"
	ingress(h, map[string]string{"auth-tls-secret": "$ns/no-such-secret"})
	expect(t, h, client, 403, "")
	harness.Eventually(t, 10*time.Second, warningEventMatching(ns, "missing-authtls-test", "InvalidAnnotation", "no-such-secret.*not found"))
	expect(t, "authtls.foo.com", client, 200, "")

	// Portico: a path of the host that no rule matches goes to the default
	// backend (spec.defaultBackend) with the host's check, as nginx checks
	// per server.
	h = "defaultbackend.authtls.test"
	ing := harness.IngressObject(ns, "defaultbackend", "portico", h, harness.Path("/admin", networkingv1.PathTypePrefix, "echo", 80))
	ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "echo", Port: networkingv1.ServiceBackendPort{Number: 80}}}
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{h}, SecretName: secret(h)}}
	ing.Annotations = map[string]string{ngx + "auth-tls-secret": ns + "/" + h}
	harness.CreateIngress(t, cp, ing)
	expect(t, h, client, 200, "")
	expect(t, h, nil, 400, "")
}

func certPool(cas ...*testpki.CA) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cas {
		p.AddCert(c.Cert)
	}
	return p
}
