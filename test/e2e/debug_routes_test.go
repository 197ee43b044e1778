package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

type debugRoute struct {
	Host, Path, Type, Backend, Source string
	Endpoints                         int
}

type debugTable struct {
	Routes         []debugRoute
	DefaultBackend *debugRoute
}

type debugExplain struct {
	URL, Host, Path, HostLevel, HostRule, Reason string
	Route                                        *debugRoute
	Default                                      bool
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s %s", u, resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// TestDebugRoutes checks /debug/routes and "portico routes" against a
// running instance: the live table, live endpoint counts, and explanations
// that agree with where the proxy really sends the same URL.
func TestDebugRoutes(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, web := pods(t, "web", 3)
	_, admin := pods(t, "admin", 1)
	harness.Service(t, cp, ns, "web", 80)
	harness.Service(t, cp, ns, "admin", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(web[:2]...)...))
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "admin", "admin-1", 8080, endpoints(admin...)...))
	site := harness.IngressObject(ns, "site", "portico", "site.test", harness.Path("/", prefix, "web", 80))
	site.Spec.Rules = append(site.Spec.Rules, harness.IngressObject(ns, "", "", "*.site.test", harness.Path("/", prefix, "web", 80)).Spec.Rules...)
	harness.CreateIngress(t, cp, site)
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "admin", "portico", "site.test", harness.Path("/admin", exact, "admin", "http")))

	p := harness.StartPortico(t, cp, "--watch-namespace", ns, "--default-backend-service", ns+"/admin:80")
	c := p.Client()
	base := "http://" + p.HTTPAddr
	harness.Eventually(t, 5*time.Second, wantBackend(c, base+"/admin", "site.test", "admin-0"))
	debug := "http://" + p.MetricsAddr + "/debug/routes"

	t.Run("the live table as JSON", func(t *testing.T) {
		var got debugTable
		getJSON(t, debug, &got)
		want := []debugRoute{
			{Host: "*.site.test", Path: "/", Type: "Prefix", Backend: ns + "/web:80", Endpoints: 2, Source: ns + "/site"},
			{Host: "site.test", Path: "/", Type: "Prefix", Backend: ns + "/web:80", Endpoints: 2, Source: ns + "/site"},
			{Host: "site.test", Path: "/admin", Type: "Exact", Backend: ns + "/admin:http", Endpoints: 1, Source: ns + "/admin"},
		}
		if fmt.Sprint(got.Routes) != fmt.Sprint(want) {
			t.Errorf("routes:\n got %+v\nwant %+v", got.Routes, want)
		}
		if d := got.DefaultBackend; d == nil || d.Backend != ns+"/admin:80" || d.Source != "flag" || d.Endpoints != 1 {
			t.Errorf("default backend %+v", d)
		}
	})

	t.Run("endpoint counts follow the EndpointSlices", func(t *testing.T) {
		harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(web...)...))
		harness.Eventually(t, 5*time.Second, func() error {
			var got debugTable
			getJSON(t, debug, &got)
			if len(got.Routes) == 0 || got.Routes[0].Endpoints != 3 {
				return fmt.Errorf("routes %+v, want 3 web endpoints", got.Routes)
			}
			return nil
		})
	})

	t.Run("?url= explains, and agrees with the proxy", func(t *testing.T) {
		for _, tc := range []struct {
			url, level, hostRule, path, backend, reason string
			isDefault                                   bool
		}{
			{"http://site.test/public/%2e%2e/admin", "exact", "site.test", "/admin", ns + "/admin:http", "Exact path /admin", false},
			{"http://SITE.test:80/shop/", "exact", "site.test", "/shop/", ns + "/web:80", "Prefix path /", false},
			{"http://a.site.test/admin", "wildcard", "*.site.test", "/admin", ns + "/web:80", "wildcard *.site.test", false},
			{"http://b.a.site.test/", "none", "", "/", ns + "/admin:80", "default backend", true},
		} {
			t.Run(tc.url, func(t *testing.T) {
				var e debugExplain
				getJSON(t, debug+"?url="+url.QueryEscape(tc.url), &e)
				if e.HostLevel != tc.level || e.HostRule != tc.hostRule || e.Path != tc.path || e.Route == nil ||
					e.Route.Backend != tc.backend || e.Default != tc.isDefault || !strings.Contains(e.Reason, tc.reason) {
					t.Errorf("explained %+v route %+v", e, e.Route)
				}
				// The same URL through the proxy lands where the explanation says.
				u, _ := url.Parse(tc.url)
				status, _, body, err := harness.Get(c, base+u.RequestURI(), u.Host)
				if err != nil {
					t.Fatal(err)
				}
				echo, err := harness.ParseEcho(body)
				if err != nil || status != http.StatusOK {
					t.Fatalf("proxy: %d %v", status, err)
				}
				svc, _, _ := strings.Cut(echo.Backend, "-") // "web-1" is a pod of Service web
				if !strings.HasPrefix(tc.backend, ns+"/"+svc+":") || echo.Path != tc.path {
					t.Errorf("proxy sent it to %s with path %q; explanation said %s, %q", echo.Backend, echo.Path, tc.backend, tc.path)
				}
			})
		}
	})

	bin, err := harness.PorticoBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("portico routes prints the table", func(t *testing.T) {
		out, err := exec.Command(bin, "routes", "--metrics-addr", p.MetricsAddr).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, want := range []string{"HOST", "ENDPOINTS", "*.site.test", "/admin", "Exact", ns + "/admin:http", ns + "/site", "(default)", "flag"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("portico routes --url explains", func(t *testing.T) {
		out, err := exec.Command(bin, "routes", "--metrics-addr", p.MetricsAddr, "--url", "http://site.test/public/../admin").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, want := range []string{"PATH", "/admin", "(exact site.test)", ns + "/admin:http", "REASON", "Exact path /admin"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}
