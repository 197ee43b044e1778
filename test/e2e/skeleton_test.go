package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

const prefix, exact = networkingv1.PathTypePrefix, networkingv1.PathTypeExact

// TestWalkingSkeleton is the first slice end to end: Ingress -> table ->
// proxy -> EndpointSlice endpoints, and every kind of change to them.
func TestWalkingSkeleton(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, web := pods(t, "web", 3)
	_, api := pods(t, "api", 1)
	harness.Service(t, cp, ns, "web", 80)
	harness.Service(t, cp, ns, "api", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(web[0])...))
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "api", "api-1", 8080, endpoints(api...)...))
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "site", "portico", "site.test",
		harness.Path("/app", prefix, "web", 80)))

	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr

	t.Run("routes to the Service's endpoint", func(t *testing.T) {
		harness.Eventually(t, 5*time.Second, wantBackend(c, base+"/app/x", "site.test", "web-0"))
		harness.Eventually(t, time.Second, wantStatus(c, base+"/other", "site.test", http.StatusNotFound))
		harness.Eventually(t, time.Second, wantStatus(c, base+"/app", "unknown.test", http.StatusNotFound))
	})

	t.Run("a change to path and backend is live within 1s", func(t *testing.T) {
		harness.UpdateIngress(t, cp, ns, "site", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules[0].HTTP.Paths[0] = harness.Path("/v2", prefix, "api", "http")
		})
		took := harness.Eventually(t, 5*time.Second, wantBackend(c, base+"/v2", "site.test", "api-0"))
		t.Logf("update observed after %s", took)
		if took > time.Second {
			t.Errorf("update took %s to go live, want within 1s", took)
		}
		harness.Eventually(t, time.Second, wantStatus(c, base+"/app", "site.test", http.StatusNotFound))
		harness.UpdateIngress(t, cp, ns, "site", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules[0].HTTP.Paths[0] = harness.Path("/app", prefix, "web", 80)
		})
		harness.Eventually(t, 5*time.Second, wantBackend(c, base+"/app", "site.test", "web-0"))
	})

	t.Run("scaling to 3 ready endpoints spreads requests over all 3", func(t *testing.T) {
		harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(web...)...))
		harness.Eventually(t, 5*time.Second, func() error {
			seen := map[string]int{}
			for range 30 {
				_, b, _, err := harness.Get(c, base+"/app", "site.test")
				if err != nil {
					return err
				}
				seen[b]++
			}
			if len(seen) != 3 {
				return fmt.Errorf("30 requests reached %v, want all of web-0..2", seen)
			}
			return nil
		})
	})

	t.Run("a not-ready endpoint gets no traffic", func(t *testing.T) {
		eps := endpoints(web...)
		eps[1].NotReady = true
		harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, eps...))
		// Wait for the change, then count.
		harness.Eventually(t, 5*time.Second, func() error {
			before := web[1].Requests.Load()
			for range 10 {
				if _, _, _, err := harness.Get(c, base+"/app", "site.test"); err != nil {
					return err
				}
			}
			if web[1].Requests.Load() != before {
				return fmt.Errorf("web-1 still gets traffic")
			}
			return nil
		})
		before := web[1].Requests.Load()
		seen := map[string]int{}
		for range 40 {
			_, b, _, err := harness.Get(c, base+"/app", "site.test")
			if err != nil {
				t.Fatal(err)
			}
			seen[b]++
		}
		if web[1].Requests.Load() != before || seen["web-0"] == 0 || seen["web-2"] == 0 {
			t.Errorf("distribution %v; not-ready web-1 must get none, the others some", seen)
		}
	})

	t.Run("an Ingress of another class is ignored", func(t *testing.T) {
		harness.CreateIngress(t, cp, harness.IngressObject(ns, "theirs", "someone-else", "theirs.test",
			harness.Path("/", prefix, "web", 80)))
		// A marker Ingress created after it proves the table was rebuilt.
		harness.CreateIngress(t, cp, harness.IngressObject(ns, "marker", "portico", "marker.test",
			harness.Path("/", prefix, "api", 80)))
		harness.Eventually(t, 5*time.Second, wantBackend(c, base+"/", "marker.test", "api-0"))
		if err := wantStatus(c, base+"/", "theirs.test", http.StatusNotFound)(); err != nil {
			t.Error(err)
		}
	})

	t.Run("deleting the Ingress gives 404", func(t *testing.T) {
		err := cp.Client.NetworkingV1().Ingresses(ns).Delete(context.Background(), "site", metav1.DeleteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 5*time.Second, wantStatus(c, base+"/app", "site.test", http.StatusNotFound))
	})
}
