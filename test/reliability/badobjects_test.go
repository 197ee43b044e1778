package reliability

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"portico.dev/portico/test/harness"
	"portico.dev/portico/tlsstore"
)

// TestBadObjectsAffectOnlyThemselves applies one bad object after another
// while 4 connections load a good route. Each must yield a Warning Event on
// its Ingress naming the problem (or, where the API server's validation
// already refuses it, that refusal), the good route must never fail, and
// Portico must not panic. Portico watches every namespace here, so the
// cross-namespace cases are real.
func TestBadObjectsAffectOnlyThemselves(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns, otherNS := harness.Namespace(t, cp), harness.Namespace(t, cp)
	_, be := pods(t, "bo", 3)
	site(t, ns, "good", "good.bad-objects.test", nil, hostOf(be[0]))
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, harness.Endpoint{Addr: hostOf(be[1])}))
	harness.Service(t, cp, ns, "alt", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "alt", "alt-1", 8080, harness.Endpoint{Addr: hostOf(be[2])}))
	p := harness.StartPortico(t, cp, "--access-log=false")
	c := p.Client()
	base := "http://" + p.HTTPAddr
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "good.bad-objects.test", "bo-0"))
	ld := startLoad(target{addr: p.HTTPAddr, host: "good.bad-objects.test", path: "/", backend: "bo-0"}, 4, 5*time.Minute)
	defer ld.Stop(false)

	ctx := context.Background()
	ings := cp.Client.NetworkingV1().Ingresses(ns)
	// create submits an Ingress and returns the API server's verdict.
	create := func(ing *networkingv1.Ingress) error {
		_, err := ings.Create(ctx, ing, metav1.CreateOptions{})
		return err
	}
	mustCreate := func(t *testing.T, ing *networkingv1.Ingress) {
		t.Helper()
		if err := create(ing); err != nil {
			t.Fatalf("create Ingress %s: %v", ing.Name, err)
		}
	}
	ingress := func(name, host string, paths ...networkingv1.HTTPIngressPath) *networkingv1.Ingress {
		return harness.IngressObject(ns, name, "portico", host, paths...)
	}
	toWeb := func(path string) networkingv1.HTTPIngressPath { return harness.Path(path, prefix, "web", 80) }
	outcomes := map[string]string{}
	// refusedOr records whether the API server refused an object (err
	// non-nil, which must be a validation error) or accepted it, in which
	// case Portico must report it with reason.
	refusedOr := func(t *testing.T, name string, err error, reason string, parts ...string) {
		t.Helper()
		if err != nil {
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want a validation error or acceptance, got %v", err)
			}
			outcomes[t.Name()] = "refused by the API server (422 Invalid)"
			t.Logf("refused by the API server: %.200v", err)
			return
		}
		outcomes[t.Name()] = "Warning " + reason + ": " + wantEvent(t, ns, name, reason, parts...)
	}
	warn := func(t *testing.T, name, reason string, parts ...string) {
		t.Helper()
		outcomes[t.Name()] = "Warning " + reason + ": " + wantEvent(t, ns, name, reason, parts...)
	}
	secret := func(t *testing.T, namespace, name string, typ corev1.SecretType, crt, key []byte) {
		t.Helper()
		_, err := cp.Client.CoreV1().Secrets(namespace).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Type: typ,
			Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create Secret %s/%s: %v", namespace, name, err)
		}
	}
	pair := func(t *testing.T, nb, na time.Time, names ...string) ([]byte, []byte) {
		t.Helper()
		crt, key, err := tlsstore.SelfSigned(names, nb, na)
		if err != nil {
			t.Fatal(err)
		}
		return crt, key
	}
	now := time.Now()
	tlsIngress := func(name, host, secretName string) *networkingv1.Ingress {
		ing := ingress(name, host, toWeb("/"))
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: secretName}}
		return ing
	}

	t.Run("path without leading slash", func(t *testing.T) {
		p := toWeb("api")
		p.PathType = ptr.To(networkingv1.PathTypeImplementationSpecific)
		refusedOr(t, "relative", create(ingress("relative", "relative.bad-objects.test", p)), "InvalidPath", "must start with /")
	})
	t.Run("regex characters in an Exact path", func(t *testing.T) {
		err := create(ingress("regex", "regex.bad-objects.test", harness.Path("/api/[0-9]+", exact, "web", 80)))
		refusedOr(t, "regex", err, "RegexNotSupported", "/api/[0-9]+", "literally")
	})
	t.Run("resource backend", func(t *testing.T) {
		p := toWeb("/")
		p.Backend = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
			APIGroup: ptr.To("storage.example.com"), Kind: "Bucket", Name: "assets"}}
		mustCreate(t, ingress("resource", "resource.bad-objects.test", p))
		warn(t, "resource", "UnsupportedBackend", "Bucket")
	})
	t.Run("missing Service", func(t *testing.T) {
		mustCreate(t, ingress("no-service", "no-service.bad-objects.test", harness.Path("/", prefix, "missing", 80)))
		warn(t, "no-service", "ServiceNotFound", "missing")
	})
	t.Run("missing port name", func(t *testing.T) {
		mustCreate(t, ingress("no-port", "no-port.bad-objects.test", harness.Path("/", prefix, "web", "grpc")))
		warn(t, "no-port", "ServicePortNotFound", "grpc")
	})
	t.Run("Service with no endpoints answers 503 for its route only", func(t *testing.T) {
		harness.Service(t, cp, ns, "empty", 80)
		mustCreate(t, ingress("no-endpoints", "empty.bad-objects.test", harness.Path("/", prefix, "empty", 80)))
		warn(t, "no-endpoints", "NoEndpoints", "empty")
		harness.Eventually(t, 10*time.Second, wantStatus(c, base+"/", "empty.bad-objects.test", http.StatusServiceUnavailable))
	})
	t.Run("Secret with invalid PEM", func(t *testing.T) {
		secret(t, ns, "bad-pem", corev1.SecretTypeTLS, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), []byte("junk"))
		mustCreate(t, tlsIngress("bad-pem", "bad-pem.bad-objects.test", "bad-pem"))
		warn(t, "bad-pem", "InvalidCertificate", "bad-pem")
	})
	t.Run("key not matching the certificate", func(t *testing.T) {
		crt, _ := pair(t, now.Add(-time.Hour), now.Add(time.Hour), "mismatch.bad-objects.test")
		_, key := pair(t, now.Add(-time.Hour), now.Add(time.Hour), "mismatch.bad-objects.test")
		secret(t, ns, "mismatch", corev1.SecretTypeTLS, crt, key)
		mustCreate(t, tlsIngress("mismatch", "mismatch.bad-objects.test", "mismatch"))
		warn(t, "mismatch", "InvalidCertificate", "does not match")
	})
	t.Run("expired certificate", func(t *testing.T) {
		crt, key := pair(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour), "expired.bad-objects.test")
		secret(t, ns, "expired", corev1.SecretTypeTLS, crt, key)
		mustCreate(t, tlsIngress("expired", "expired.bad-objects.test", "expired"))
		warn(t, "expired", "InvalidCertificate", "expired")
	})
	t.Run("Secret of the wrong type", func(t *testing.T) {
		crt, key := pair(t, now.Add(-time.Hour), now.Add(time.Hour), "opaque.bad-objects.test")
		secret(t, ns, "opaque", corev1.SecretTypeOpaque, crt, key)
		mustCreate(t, tlsIngress("opaque", "opaque.bad-objects.test", "opaque"))
		warn(t, "opaque", "SecretNotFound", "of type kubernetes.io/tls")
	})
	t.Run("Secret in another namespace", func(t *testing.T) {
		crt, key := pair(t, now.Add(-time.Hour), now.Add(time.Hour), "theirs.bad-objects.test")
		secret(t, otherNS, "theirs", corev1.SecretTypeTLS, crt, key)
		// By namespace/name: refused by Portico (or the API server).
		err := create(tlsIngress("cross-ns", "theirs.bad-objects.test", otherNS+"/theirs"))
		refusedOr(t, "cross-ns", err, "CrossNamespaceSecret", otherNS+"/theirs")
		// By plain name: looked up in the Ingress's own namespace only.
		mustCreate(t, tlsIngress("same-name", "theirs2.bad-objects.test", "theirs"))
		wantEvent(t, ns, "same-name", "SecretNotFound", ns+"/theirs")
		// And the other tenant's certificate is never served for the host.
		for _, sni := range []string{"theirs.bad-objects.test", "theirs2.bad-objects.test"} {
			conn, err := tls.Dial("tcp", p.HTTPSAddr, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // inspecting the certificate
			if err != nil {
				t.Fatal(err)
			}
			leaf := conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			if leaf.VerifyHostname(sni) == nil {
				t.Errorf("SNI %s: served a certificate for it (%v): another namespace's Secret was used", sni, leaf.DNSNames)
			}
		}
	})
	t.Run("two Ingresses claim the same host and path: oldest wins", func(t *testing.T) {
		mustCreate(t, ingress("claim-old", "claim.bad-objects.test", toWeb("/")))
		time.Sleep(1100 * time.Millisecond) // creationTimestamp has 1 s resolution
		mustCreate(t, ingress("claim-new", "claim.bad-objects.test", harness.Path("/", prefix, "alt", 80)))
		warn(t, "claim-new", "RuleConflict", "claim.bad-objects.test", ns+"/claim-old")
		harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "claim.bad-objects.test", "bo-1"))
	})
	t.Run("10,000-character host", func(t *testing.T) {
		host := strings.Repeat("a", 10000) + ".test"
		refusedOr(t, "long-host", create(ingress("long-host", host, toWeb("/"))), "InvalidHost", "longer than 253")
	})
	t.Run("Ingress with 5,000 paths", func(t *testing.T) {
		var paths []networkingv1.HTTPIngressPath
		for i := range 5000 {
			paths = append(paths, toWeb(fmt.Sprintf("/p%d", i)))
		}
		start := time.Now()
		mustCreate(t, ingress("many-paths", "many.bad-objects.test", paths...))
		harness.Eventually(t, 30*time.Second, wantBackend(c, base+"/p4999/x", "many.bad-objects.test", "bo-1"))
		outcomes[t.Name()] = fmt.Sprintf("accepted; all 5,000 routes live %s after create", time.Since(start).Round(10*time.Millisecond))
	})
	t.Run("duplicate default backends", func(t *testing.T) {
		for _, name := range []string{"default-old", "default-new"} {
			ing := ingress(name, "")
			ing.Spec.DefaultBackend = ptr.To(harness.ServiceBackend("web", 80))
			mustCreate(t, ing)
			t.Cleanup(func() { _ = ings.Delete(ctx, name, metav1.DeleteOptions{}) })
			time.Sleep(1100 * time.Millisecond)
		}
		warn(t, "default-new", "DefaultBackendConflict", ns+"/default-old")
	})
	t.Run("invalid annotation values", func(t *testing.T) {
		ing := ingress("bad-annotations", "annotations.bad-objects.test", toWeb("/"))
		ing.Annotations = map[string]string{"portico.dev/proxy-read-timeout": "-5s", "portico.dev/proxy-connect-timeout": "banana"}
		mustCreate(t, ing)
		warn(t, "bad-annotations", "InvalidAnnotation", "proxy-read-timeout", `"-5s"`)
		warn(t, "bad-annotations", "InvalidAnnotation", "proxy-connect-timeout", `"banana"`)
		// The setting keeps its default; the route itself works.
		harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "annotations.bad-objects.test", "bo-1"))
	})

	res := ld.Stop(false)
	t.Logf("good route: %v", res)
	for name, o := range outcomes {
		t.Logf("outcome %s: %.160s", name, o)
	}
	figure(t, "16 bad objects, 4 conns on a good route for %s | %d requests, %d failed, %d conn errors | every case reported (Event or API refusal), no panic",
		res.Elapsed.Round(time.Second), res.OK+res.Failed+res.ConnErrs, res.Failed, res.ConnErrs)
	if res.Failed != 0 || res.ConnErrs != 0 {
		t.Errorf("the good route failed %d times (%d connection errors); first: %s", res.Failed, res.ConnErrs, res.First)
	}
	noPanic(t, p)
}
