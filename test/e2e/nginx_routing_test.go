package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// wantEchoHost checks (for Eventually) that GET path with Host host gets
// 200 from a backend that saw that very Host (ingress-nginx's echo
// "host=<host>").
func wantEchoHost(c *http.Client, base, path, host string) func() error {
	return func() error {
		st, e, err := harness.GetEcho(c, base+path, host)
		if err != nil {
			return err
		}
		if st != http.StatusOK || e.Host != host {
			return fmt.Errorf("GET %s (Host %s) = %d, backend saw Host %q", path, host, st, e.Host)
		}
		return nil
	}
}

// TestNginxServerAlias ports ingress-nginx's annotations/alias.go and
// traefik's e2e/serveralias_suite_test.go: server-alias gives the host's
// routes to more names.
func TestNginxServerAlias(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "echo", 1)
	harness.Service(t, cp, ns, "echo", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "echo", "echo-1", 8080, endpoints(be...)...))
	prefix := networkingv1.PathTypePrefix
	ingress := func(name, host, path, alias string) {
		ing := harness.IngressObject(ns, name, "portico", host, harness.Path(path, prefix, "echo", 80))
		if alias != "" {
			ing.Annotations = map[string]string{ngx + "server-alias": alias}
		}
		harness.CreateIngress(t, cp, ing)
	}
	ingress("plain", "foo.plain.test", "/", "")
	ingress("alias", "foo.alias.test", "/", "bar.alias.test")
	ingress("app-a", "foo.two.test", "/app-a", "")
	ingress("app-b", "foo.two.test", "/app-b", "bar.two.test")
	ingress("multi", "multi.alias.test", "/", "alias1.multi.test, alias2.multi.test,*.wild.test")
	// An alias that is another Ingress's host stays that host's.
	ingress("taken", "foo.taken.test", "/", "foo.plain.test")

	p := harness.StartPortico(t, cp)
	c := p.Client()
	base := "http://" + p.HTTPAddr
	for _, tc := range []struct{ src, host, path string }{
		{`ingress-nginx annotations/alias.go "should return status code 200 for host 'foo' and 404 for 'bar'"`, "foo.plain.test", "/"},
		{`ingress-nginx annotations/alias.go "should return status code 200 for host 'foo' and 'bar'"`, "foo.alias.test", "/"},
		{`ingress-nginx annotations/alias.go "should return status code 200 for host 'foo' and 'bar'"`, "bar.alias.test", "/"},
		{`ingress-nginx annotations/alias.go "... defined in two ingresses, different path with one alias"`, "foo.two.test", "/app-a"},
		{`ingress-nginx annotations/alias.go "... defined in two ingresses, different path with one alias"`, "bar.two.test", "/app-a"},
		{"traefik e2e/serveralias_suite_test.go TestPrimaryHostServesNormally", "foo.alias.test", "/"},
		{"traefik e2e/serveralias_suite_test.go TestAliasHostServesContent", "bar.alias.test", "/"},
		{"traefik e2e/serveralias_suite_test.go TestAliasHostOnSubpath", "bar.alias.test", "/some/path"},
		{"traefik e2e/serveralias_suite_test.go TestMultipleAliases", "alias1.multi.test", "/"},
		{"traefik e2e/serveralias_suite_test.go TestMultipleAliases", "alias2.multi.test", "/"},
		{"Portico: a wildcard alias", "x.wild.test", "/"},
		{"Portico: the alias's own path", "bar.two.test", "/app-b"},
	} {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			t.Log(tc.src)
			harness.Eventually(t, 10*time.Second, wantEchoHost(c, base, tc.path, tc.host))
		})
	}
	for _, tc := range []struct{ src, host string }{
		// ingress-nginx annotations/alias.go "should return status code 200 for host 'foo' and 404 for 'bar'"
		{"alias.go", "bar.plain.test"},
		// traefik e2e/serveralias_suite_test.go TestNonAliasHostReturns404
		{"serveralias_suite_test.go", "unknown-alias.alias.test"},
	} {
		if err := wantStatus(c, base+"/", tc.host, http.StatusNotFound)(); err != nil {
			t.Errorf("%s: %v", tc.src, err)
		}
	}
	// The alias foo.plain.test of foo.taken.test is ignored, with a
	// Warning; foo.taken.test itself works.
	harness.Eventually(t, 10*time.Second, wantEchoHost(c, base, "/", "foo.taken.test"))
	wantEvent(t, ns, "taken", "Warning", "AliasConflict", `server-alias "foo.plain.test"`, "is a host of its own")
}
