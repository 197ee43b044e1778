package conformance

import (
	"net/http"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// TestDefaultBackend ports features/default_backend.feature: an Ingress
// with only spec.defaultBackend receives every request, whatever the
// method, host and path.
func TestDefaultBackend(t *testing.T) {
	e := newEnv(t, 8080, nil, "echo-service")
	backend := harness.ServiceBackend("echo-service", 8080)
	e.ingress(t, "default-backend", networkingv1.IngressSpec{DefaultBackend: &backend})
	// Skipped step: "The Ingress status shows the IP address or FQDN where
	// it is exposed" (status.loadBalancer is written by the status issue).
	waitRouted(t, e, "my-host", "/", "echo-service")

	c := e.p.Client()
	// Scenario Outline: An Ingress with no rules should send all requests to the default backend
	for _, row := range []struct{ method, host, path string }{
		{"GET", "my-host", ""},
		{"GET", "my-host", "sub-path"},
		{"POST", "some-host", ""},
		{"PUT", "", "resource"},
		{"DELETE", "some-host", "resource"},
		{"PATCH", "my-host", "resource"},
	} {
		t.Run(row.method+" http://"+row.host+"/"+row.path, func(t *testing.T) {
			r, err := send(c, row.method, e.url("/"+row.path), row.host)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != http.StatusOK || r.backend != "echo-service" {
				t.Fatalf("status %d from %q, want 200 from echo-service", r.status, r.backend)
			}
			if r.proto != "HTTP/1.1" {
				t.Errorf("response proto %q, want HTTP/1.1", r.proto)
			}
			// The suite also wants a Server header; its echo server sets
			// one, ours does not, and Portico passes backend headers
			// through unchanged, so that one check is left out.
			for _, h := range []string{"Content-Length", "Content-Type", "Date"} {
				if r.header.Get(h) == "" {
					t.Errorf("response lacks %s: %v", h, r.header)
				}
			}
			if r.echo.Method != row.method {
				t.Errorf("request method %q, want %q", r.echo.Method, row.method)
			}
			if r.echo.Path != "/"+row.path {
				t.Errorf("request path %q, want %q", r.echo.Path, "/"+row.path)
			}
			if r.echo.Proto != "HTTP/1.1" {
				t.Errorf("request proto %q, want HTTP/1.1", r.echo.Proto)
			}
			if ua := r.echo.Headers.Get("User-Agent"); ua != "Go-http-client/1.1" {
				t.Errorf("request User-Agent %q, want Go-http-client/1.1", ua)
			}
		})
	}
}
