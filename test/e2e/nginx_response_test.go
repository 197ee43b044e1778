package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// TestNginxResponseRewrites: proxy-redirect-from/-to, proxy-cookie-domain
// and proxy-cookie-path rewrite what a real backend answers;
// enable-access-log "false" keeps an Ingress out of the access log.
// ingress-nginx's own tests of these (annotations/proxy.go "should set
// proxy_redirect to hello.com goodbye.com", "should setup proxy cookies";
// annotations/disableaccesslog.go) only check nginx.conf text; these are
// the HTTP-level behaviour that text configures.
func TestNginxResponseRewrites(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "resp", 1)
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, harness.Endpoint{Addr: hostOf(be[0])}))
	for name, ann := range map[string]map[string]string{
		"rewrite": {
			ngx + "proxy-redirect-from": "http://backend.internal/",
			ngx + "proxy-redirect-to":   "https://rewrite.resp.test/",
			ngx + "proxy-cookie-domain": "backend.internal rewrite.resp.test",
			ngx + "proxy-cookie-path":   "/internal/ /",
		},
		"plain":  nil,
		"nolog":  {ngx + "enable-access-log": "false"},
		"broken": {ngx + "proxy-redirect-from": "http://backend.internal/"}, // no -to: InvalidAnnotation, still served
	} {
		ing := harness.IngressObject(ns, name, "portico", name+".resp.test", harness.Path("/", prefix, "web", 80))
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	p := harness.StartPortico(t, cp)
	c := p.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := "http://" + p.HTTPAddr
	q := url.Values{"set-header": {
		"Location:http://backend.internal/login?next=/",
		"Refresh:3; url=http://backend.internal/done",
		"Set-Cookie:sid=1; Domain=backend.internal; Path=/internal/app; HttpOnly",
		"Set-Cookie:other=2; Domain=example.org; Path=/x",
	}}.Encode()
	get := func(host, path string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, nil
	}
	for _, tt := range []struct {
		host              string
		location, refresh string
		cookies           []string
	}{
		{"rewrite.resp.test", "https://rewrite.resp.test/login?next=/", "3; url=https://rewrite.resp.test/done",
			[]string{"sid=1; Domain=rewrite.resp.test; Path=/app; HttpOnly", "other=2; Domain=example.org; Path=/x"}},
		{"plain.resp.test", "http://backend.internal/login?next=/", "3; url=http://backend.internal/done",
			[]string{"sid=1; Domain=backend.internal; Path=/internal/app; HttpOnly", "other=2; Domain=example.org; Path=/x"}},
		{"broken.resp.test", "http://backend.internal/login?next=/", "3; url=http://backend.internal/done",
			[]string{"sid=1; Domain=backend.internal; Path=/internal/app; HttpOnly", "other=2; Domain=example.org; Path=/x"}},
	} {
		harness.Eventually(t, 10*time.Second, func() error {
			resp, err := get(tt.host, "/?"+q)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != tt.location || resp.Header.Get("Refresh") != tt.refresh ||
				!slices.Equal(resp.Header.Values("Set-Cookie"), tt.cookies) {
				return fmt.Errorf("%s: %d Location %q Refresh %q Set-Cookie %q; want 200 %q %q %q", tt.host, resp.StatusCode,
					resp.Header.Get("Location"), resp.Header.Get("Refresh"), resp.Header.Values("Set-Cookie"), tt.location, tt.refresh, tt.cookies)
			}
			return nil
		})
	}
	harness.Eventually(t, 10*time.Second, func() error {
		evs, err := eventsFor(ns, "broken")
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Reason == "InvalidAnnotation" && strings.Contains(e.Message, "proxy-redirect-to") {
				return nil
			}
		}
		return fmt.Errorf("no InvalidAnnotation event naming proxy-redirect-to: %v", evs)
	})

	// ingress-nginx annotations/disableaccesslog.go "disable-access-log set
	// access_log off": the request is served (200), and not logged.
	for _, host := range []string{"nolog.resp.test", "plain.resp.test"} {
		harness.Eventually(t, 10*time.Second, wantStatus(c, base+"/marker-"+host, host, 200))
	}
	harness.Eventually(t, 5*time.Second, func() error {
		log, err := os.ReadFile(p.LogPath)
		if err != nil {
			return err
		}
		if !strings.Contains(string(log), "/marker-plain.resp.test") {
			return fmt.Errorf("the logged Ingress's request is not in the access log yet")
		}
		if strings.Contains(string(log), "/marker-nolog.resp.test") {
			return fmt.Errorf("enable-access-log false: the request was logged")
		}
		return nil
	})
}
