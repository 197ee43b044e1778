package deploy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"portico.dev/portico/test/harness"
	"portico.dev/portico/tlsstore"
)

var prefix = networkingv1.PathTypePrefix

// app is a user's application in its own namespace: echo backends, a
// Service "web" with their EndpointSlice, and an Ingress "site" for host
// (with TLS from the Secret "site-tls" when tls is set). host is
// "site.<namespace>.test": namespaces of earlier tests stay (they never
// finish deleting here), so hosts must not repeat.
type app struct {
	ns, host string
	backends []*harness.Backend
	cert     *x509.Certificate // served for host when tls
}

// newApp starts n backends in a fresh network namespace; extra addresses
// (deadAddrs) are added to the EndpointSlice with nothing listening on them.
func newApp(t *testing.T, tlsOn bool, n, deadAddrs int) *app {
	t.Helper()
	ns := harness.Namespace(t, cp)
	a := &app{ns: ns, host: "site." + ns + ".test"}
	host := a.host
	// Leave no Ingress of class portico behind for later tests.
	t.Cleanup(func() {
		_ = cp.Client.NetworkingV1().Ingresses(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{})
	})
	pod, err := harness.NewPod(n + deadAddrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	var eps []harness.Endpoint
	for i, addr := range pod.Addrs {
		eps = append(eps, harness.Endpoint{Addr: addr.String()})
		if i >= n {
			continue
		}
		l, err := pod.Listen("tcp", net.JoinHostPort(addr.String(), "8080"))
		if err != nil {
			t.Fatal(err)
		}
		b := harness.StartBackend(l, fmt.Sprintf("web-%d", i))
		t.Cleanup(b.Close)
		a.backends = append(a.backends, b)
	}
	harness.Service(t, cp, a.ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(a.ns, "web", "web-1", 8080, eps...))
	ing := harness.IngressObject(a.ns, "site", "portico", host, harness.Path("/", prefix, "web", 80))
	if tlsOn {
		now := time.Now()
		certPEM, keyPEM, err := tlsstore.SelfSigned([]string{host}, now.Add(-time.Hour), now.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		_, err = cp.Client.CoreV1().Secrets(a.ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "site-tls"},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		if a.cert, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			t.Fatal(err)
		}
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: "site-tls"}}
		// Plain HTTP stays routable for the test (no 308 redirect).
		ing.Annotations = map[string]string{"portico.dev/ssl-redirect": "false"}
	}
	harness.CreateIngress(t, cp, ing)
	return a
}

// wantRouted checks that GET url with Host host through c reaches a backend.
func wantRouted(c *http.Client, url, host string) func() error {
	return func() error {
		status, backend, _, err := harness.Get(c, url, host)
		if err != nil {
			return err
		}
		if status != http.StatusOK || !strings.HasPrefix(backend, "web-") {
			return fmt.Errorf("GET %s (Host %s): %d from %q, want 200 from a web backend", url, host, status, backend)
		}
		return nil
	}
}

// wantCertificate checks that a handshake with SNI host on addr gets want.
func wantCertificate(addr, host string, want *x509.Certificate) func() error {
	return func() error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
			&tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec // the test compares the certificate
		if err != nil {
			return err
		}
		defer conn.Close()
		got := conn.ConnectionState().PeerCertificates[0]
		if !got.Equal(want) {
			return fmt.Errorf("SNI %s: served %v (serial %s), want the Secret's (serial %s)", host, got.DNSNames, got.SerialNumber, want.SerialNumber)
		}
		return nil
	}
}

// wantStatus checks the Ingress's status.loadBalancer.ingress IPs.
func wantStatus(ns, name string, want ...string) func() error {
	return func() error {
		ing, err := cp.Client.NetworkingV1().Ingresses(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var got []string
		for _, a := range ing.Status.LoadBalancer.Ingress {
			got = append(got, a.IP+a.Hostname)
		}
		if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			return fmt.Errorf("Ingress %s/%s status %v, want %v", ns, name, got, want)
		}
		return nil
	}
}

// wantEvent checks for an Event of that type and reason on the Ingress.
func wantEvent(ns, ingress, typ, reason string) func() error {
	return func() error {
		sel := fields.Set{"involvedObject.kind": "Ingress", "involvedObject.name": ingress}.AsSelector().String()
		l, err := cp.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return err
		}
		for _, e := range l.Items {
			if e.Type == typ && e.Reason == reason {
				return nil
			}
		}
		return fmt.Errorf("no %s Event %s on Ingress %s/%s (%d Events)", typ, reason, ns, ingress, len(l.Items))
	}
}

// wantLeaseHolder checks the holder of Portico's election Lease.
func wantLeaseHolder(holder string) func() error {
	return func() error {
		l, err := cp.Client.CoordinationV1().Leases(porticoNamespace).Get(context.Background(), electionLeaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != holder {
			return fmt.Errorf("Lease %s/%s held by %v, want %s", porticoNamespace, electionLeaseName, l.Spec.HolderIdentity, holder)
		}
		return nil
	}
}

// forbiddenRequests is the API server's count of requests its authorizer
// refused (answered 403), from its own /metrics.
func forbiddenRequests(t *testing.T) float64 {
	t.Helper()
	raw, err := cp.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// RBAC alone answers "no opinion" to what it does not allow; the
		// request is then refused with 403.
		if strings.HasPrefix(line, "authorization_attempts_total{") &&
			(strings.Contains(line, `result="denied"`) || strings.Contains(line, `result="no-opinion"`)) {
			if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				n += v
			}
		}
	}
	return n
}

// logLinesContaining returns the lines of Portico's log that contain s
// (case-insensitive).
func logLinesContaining(t *testing.T, p *harness.Portico, s string) []string {
	t.Helper()
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(strings.ToLower(line), strings.ToLower(s)) {
			out = append(out, line)
		}
	}
	return out
}

// sample returns the value of one sample of a /metrics text, named as it
// is printed (e.g. `portico_ingresses{state="admitted"}`).
func sample(text, name string) (float64, bool) {
	for line := range strings.SplitSeq(text, "\n") {
		n, v, ok := strings.Cut(line, " ")
		if ok && n == name {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// wantSample checks one sample of Portico's /metrics.
func wantSample(p *harness.Portico, name string, want float64) error {
	text, err := p.Metrics()
	if err != nil {
		return err
	}
	got, ok := sample(text, name)
	if !ok {
		return fmt.Errorf("no sample %s in /metrics", name)
	}
	if got != want {
		return fmt.Errorf("%s = %v, want %v", name, got, want)
	}
	return nil
}
