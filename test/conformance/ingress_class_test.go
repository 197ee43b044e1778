package conformance

import (
	"encoding/json"
	"net/http"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// TestIngressClass ports features/ingress_class.feature: an Ingress naming
// a class that does not exist is nobody's, so Portico does not route it.
func TestIngressClass(t *testing.T) {
	e := newEnv(t, 8080, nil, "ingress-class-prefix", "marker")
	invalid := "some-invalid-class-name"
	e.ingress(t, "test-ingress-class", networkingv1.IngressSpec{
		IngressClassName: &invalid,
		Rules:            []networkingv1.IngressRule{rule("ingress-class", harness.Path("/", prefix, "ingress-class-prefix", 8080))},
	})
	// A marker Ingress of our class, created after it: once the marker
	// routes, the table was built with the invalid-class Ingress present.
	e.ingress(t, "marker", networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{rule("marker", harness.Path("/", prefix, "marker", 8080))},
	})
	waitRouted(t, e, "marker", "/", "marker")

	t.Run("An Ingress with an invalid ingress class should not send traffic to the matching backend service", func(t *testing.T) {
		// The suite's step is "The Ingress status should not contain the
		// IP address or FQDN" (status is written by the status issue); the
		// routing it stands for is checked directly.
		r, err := send(e.p.Client(), "GET", e.url("/"), "ingress-class")
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusNotFound || r.backend != "" {
			t.Errorf("GET http://ingress-class/ = %d from %q, want 404 from Portico", r.status, r.backend)
		}
		if n := e.backends["ingress-class-prefix"][0].Requests.Load(); n != 0 {
			t.Errorf("the invalid class's backend got %d requests", n)
		}
		// And the live table does not know it.
		resp, err := http.Get("http://" + e.p.MetricsAddr + "/debug/routes")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var table struct {
			Routes []struct{ Host, Source string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&table); err != nil {
			t.Fatal(err)
		}
		if len(table.Routes) != 1 || table.Routes[0].Host != "marker" {
			t.Errorf("live routes %+v, want only the marker's", table.Routes)
		}
	})
}
