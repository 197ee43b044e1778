package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/acmecache"
	"portico.dev/portico/test/harness"
)

// TestACME runs two Portico replicas against one API server and a real
// Pebble ACME server. Pebble validates at a fixed port that only replica A
// listens on, so an order started by replica B succeeds only if A answers
// B's challenge from the shared Secret cache.
func TestACME(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns, acmeNS := harness.Namespace(t, cp), harness.Namespace(t, cp)
	_, web := pods(t, "web", 1)
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(web...)...))
	const one, two = "one.acme.test", "two.acme.test"
	ing := tlsIngress(ns, "site", one, "", map[string]string{"portico.dev/acme": "true"})
	ing.Spec.Rules = append(ing.Spec.Rules, tlsIngress(ns, "", two, "", nil).Spec.Rules...)
	harness.CreateIngress(t, cp, ing)
	// A host without the annotation: ACME must never order for it.
	harness.CreateIngress(t, cp, tlsIngress(ns, "other", "other.acme.test", "", nil))

	httpPortA, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on tlsPort: autocert always tries TLS-ALPN-01 first;
	// failing it here makes every order go on with HTTP-01, the challenge
	// this test is about (an extra, failed order per host in Pebble's log).
	closedTLSPort, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pebble := harness.StartPebble(t, httpPortA, closedTLSPort)
	roots, err := pebble.Roots()
	if err != nil {
		t.Fatal(err)
	}
	acmeFlags := []string{"--acme-directory-url", pebble.DirectoryURL, "--acme-ca-file", pebble.CAFile,
		"--acme-email", "ops@acme.test", "--acme-namespace", acmeNS}
	a := harness.StartPortico(t, cp, append([]string{"--http-addr", "127.0.0.1:" + strconv.Itoa(httpPortA)}, acmeFlags...)...)
	a.HTTPAddr = "127.0.0.1:" + strconv.Itoa(httpPortA)
	b := harness.StartPortico(t, cp, acmeFlags...)

	// verified handshakes like a browser would: Pebble's root, the host's name.
	get := func(p *harness.Portico, host string) (*x509.Certificate, error) {
		conn, err := tls.DialWithDialer(&netDialer, "tcp", p.HTTPSAddr, &tls.Config{ServerName: host, RootCAs: roots})
		if err != nil {
			return nil, fmt.Errorf("%s via %s: %w", host, p.HTTPSAddr, err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0], nil
	}

	var first *x509.Certificate
	t.Run("a request to an annotated host through replica B gets a Pebble certificate; replica A answered the challenge", func(t *testing.T) {
		start := time.Now()
		leaf, err := get(b, one)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("first handshake (order, HTTP-01 via replica A, issuance) took %s", time.Since(start).Round(time.Millisecond))
		if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != one {
			t.Errorf("SANs %q, want [%s]", leaf.DNSNames, one)
		}
		if n := pebble.LogCount("Issued certificate"); n != 1 {
			t.Errorf("Pebble issued %d certificates, want 1", n)
		}
		first = leaf
	})
	if first == nil {
		t.FailNow()
	}

	t.Run("replica A serves the same certificate from the shared cache without a second order", func(t *testing.T) {
		orders, issued := pebble.LogCount("Added order"), pebble.LogCount("Issued certificate")
		leaf, err := get(a, one)
		if err != nil {
			t.Fatal(err)
		}
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Errorf("replica A serves serial %x, replica B %x", leaf.SerialNumber, first.SerialNumber)
		}
		c := a.TLSClient(&tls.Config{RootCAs: roots})
		harness.Eventually(t, time.Second, wantBackend(c, "https://"+one+"/x", "", "web-0"))
		if o, i := pebble.LogCount("Added order"), pebble.LogCount("Issued certificate"); o != orders || i != issued {
			t.Errorf("orders %d→%d, issued %d→%d: replica A ordered again", orders, o, issued, i)
		}
	})

	t.Run("first requests to both replicas at once order only once", func(t *testing.T) {
		issued := pebble.LogCount("Issued certificate")
		var wg sync.WaitGroup
		leaves := make([]*x509.Certificate, 2)
		errs := make([]error, 2)
		for i, p := range []*harness.Portico{a, b} {
			wg.Go(func() { leaves[i], errs[i] = get(p, two) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if leaves[0].SerialNumber.Cmp(leaves[1].SerialNumber) != 0 {
			t.Errorf("replicas serve different certificates for %s: %x and %x", two, leaves[0].SerialNumber, leaves[1].SerialNumber)
		}
		if n := pebble.LogCount("Issued certificate") - issued; n != 1 {
			t.Errorf("Pebble issued %d certificates for %s, want 1", n, two)
		}
	})

	t.Run("hosts without the annotation get the default certificate and no order", func(t *testing.T) {
		orders := pebble.LogCount("Added order")
		harness.Eventually(t, time.Second, wantSANs(b.HTTPSAddr, "other.acme.test", "portico-default"))
		harness.Eventually(t, time.Second, wantSANs(b.HTTPSAddr, "nobody.acme.test", "portico-default"))
		if n := pebble.LogCount("Added order"); n != orders {
			t.Errorf("%d orders for hosts that are not ACME hosts", n-orders)
		}
	})

	t.Run("plain HTTP to an ACME host redirects to HTTPS", func(t *testing.T) {
		harness.Eventually(t, time.Second, wantStatus(a.Client(), "http://"+a.HTTPAddr+"/x", one, 308))
	})

	t.Run("the shared cache holds the account key and both certificates as Secrets", func(t *testing.T) {
		for _, key := range []string{"acme_account+key", one, two} {
			s, err := cp.Client.CoreV1().Secrets(acmeNS).Get(context.Background(), acmecache.SecretName(key), metav1.GetOptions{})
			if err != nil {
				t.Errorf("cache entry %q: %v", key, err)
				continue
			}
			if s.Annotations[acmecache.AnnotationKey] != key {
				t.Errorf("Secret %s is annotated %q, want %q", s.Name, s.Annotations[acmecache.AnnotationKey], key)
			}
		}
	})
}

// TestACMETLSALPN checks the challenge autocert tries first, TLS-ALPN-01
// (RFC 8737), answered on replica A's HTTPS listener for an order replica B
// placed. HTTP-01 cannot pass here (nothing listens on Pebble's HTTP port),
// so one order and one certificate mean TLS-ALPN-01 worked first time.
func TestACMETLSALPN(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns, acmeNS := harness.Namespace(t, cp), harness.Namespace(t, cp)
	harness.Service(t, cp, ns, "web", 80)
	const host = "alpn.acme.test"
	harness.CreateIngress(t, cp, tlsIngress(ns, "site", host, "", map[string]string{"portico.dev/acme": "true"}))
	httpsPortA, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	closedHTTPPort, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pebble := harness.StartPebble(t, closedHTTPPort, httpsPortA)
	roots, err := pebble.Roots()
	if err != nil {
		t.Fatal(err)
	}
	acmeFlags := []string{"--acme-directory-url", pebble.DirectoryURL, "--acme-ca-file", pebble.CAFile, "--acme-namespace", acmeNS}
	harness.StartPortico(t, cp, append([]string{"--https-addr", "127.0.0.1:" + strconv.Itoa(httpsPortA)}, acmeFlags...)...)
	b := harness.StartPortico(t, cp, acmeFlags...)

	conn, err := tls.DialWithDialer(&netDialer, "tcp", b.HTTPSAddr, &tls.Config{ServerName: host, RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if o, i := pebble.LogCount("Added order"), pebble.LogCount("Issued certificate"); o != 1 || i != 1 {
		t.Errorf("Pebble: %d orders, %d certificates; want 1 and 1", o, i)
	}
}
