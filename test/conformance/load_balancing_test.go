package conformance

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// TestLoadBalancing ports features/load_balancing.feature: with the
// backend scaled to 10 endpoints, 100 requests all succeed and reach all
// 10 pods. The suite has had two manifests for it (spec.defaultBackend,
// and later a host rule); both are run.
func TestLoadBalancing(t *testing.T) {
	e := newEnv(t, 8080, map[string]int{"echo-service": 10}, "echo-service")
	backend := harness.ServiceBackend("echo-service", 8080)
	e.ingress(t, "load-balancing", networkingv1.IngressSpec{DefaultBackend: &backend})
	e.ingress(t, "path-rules", networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
		rule("load-balancing", harness.Path("/", prefix, "echo-service", 8080)),
	}})
	// Skipped step: "The Ingress status shows the IP address or FQDN where
	// it is exposed" (status.loadBalancer is written by the status issue).
	// "The backend deployment is scaled to 10": the EndpointSlice already
	// lists 10 ready endpoints.
	c := e.p.Client()
	harness.Eventually(t, 10*time.Second, func() error {
		r, err := send(c, "GET", e.url("/"), "load-balancing")
		if err == nil && (r.status != http.StatusOK || !strings.HasPrefix(r.backend, "echo-service-")) {
			err = fmt.Errorf("status %d from %q, want 200 from echo-service", r.status, r.backend)
		}
		return err
	})
	for _, host := range []string{"anything.example", "load-balancing"} { // default backend, then the host rule
		t.Run(fmt.Sprintf("An Ingress should send all requests to the backend (http://%s)", host), func(t *testing.T) {
			pods := map[string]int{}
			for range 100 {
				r, err := send(c, "GET", e.url("/"), host)
				if err != nil {
					t.Fatal(err)
				}
				if r.status != http.StatusOK {
					t.Fatalf("status %d, want 200", r.status)
				}
				pods[r.echo.Addr]++ // the pod's IP address, as the suite counts
			}
			if len(pods) != 10 {
				t.Errorf("100 requests reached %d pods (%v), want 10", len(pods), pods)
			}
		})
	}
}
