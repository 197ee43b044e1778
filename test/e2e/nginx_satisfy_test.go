package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// TestNginxSatisfy: satisfy "any" lets one of the access list, basic auth
// and external auth grant a request; "all" (the default) needs each.
func TestNginxSatisfy(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "satisfy", 1)
	addr := hostOf(be[0])
	authAddr := startAuthServer(t)
	n := "nginx.ingress.kubernetes.io/"
	applyOpaqueSecret(t, ns, "basic-secret", map[string]string{"auth": "uname:" + shaOf("pwd") + "\n"})
	basic := map[string]string{n + "auth-type": "basic", n + "auth-secret": "basic-secret", n + "auth-realm": "test basic auth"}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[n+kv[i]] = kv[i+1]
		}
		return out
	}
	// The client is 127.0.0.1. ingress-nginx's host "auth" is
	// auth.satisfy.test here: hosts are shared by every test's Portico.
	site(t, ns, "auth", "auth.satisfy.test", with(basic, "auth-url", "http://"+authAddr+"/auth", "auth-signin", "http://$host/auth/start", "satisfy", "any"), addr)
	site(t, ns, "any-in", "any-in.satisfy.test", with(basic, "whitelist-source-range", "127.0.0.0/8", "satisfy", "any"), addr)
	site(t, ns, "any-out", "any-out.satisfy.test", with(basic, "whitelist-source-range", "192.0.2.0/24", "satisfy", "any"), addr)
	site(t, ns, "all-in", "all-in.satisfy.test", with(basic, "whitelist-source-range", "127.0.0.0/8"), addr)
	site(t, ns, "all-out", "all-out.satisfy.test", with(basic, "whitelist-source-range", "192.0.2.0/24", "satisfy", "all"), addr)
	p := harness.StartPortico(t, cp)
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + p.HTTPAddr
	for _, tt := range []struct {
		src, host, query string
		creds            bool
		status           int
		location         string
	}{
		{src: `ingress-nginx annotations/satisfy.go "should allow multiple auth with satisfy any" (with basic auth cred)`,
			host: "auth.satisfy.test", creds: true, status: 200},
		{src: `ingress-nginx annotations/satisfy.go "should allow multiple auth with satisfy any" (reroute to signin)`,
			host: "auth.satisfy.test", query: "a=b&c=d", status: 302,
			location: "http://auth.satisfy.test/auth/start?rd=http://auth.satisfy.test" + url.QueryEscape("/?a=b&c=d")},
		{src: "Portico: any, address allowed, no credentials", host: "any-in.satisfy.test", status: 200},
		{src: "Portico: any, address refused, credentials", host: "any-out.satisfy.test", creds: true, status: 200},
		{src: "Portico: any, address refused, no credentials", host: "any-out.satisfy.test", status: 401},
		{src: "Portico: all, address allowed, no credentials", host: "all-in.satisfy.test", status: 401},
		{src: "Portico: all, address allowed, credentials", host: "all-in.satisfy.test", creds: true, status: 200},
		{src: "Portico: all, address refused, credentials", host: "all-out.satisfy.test", creds: true, status: 403},
	} {
		harness.Eventually(t, 10*time.Second, func() error {
			u := base + "/"
			if tt.query != "" {
				u += "?" + tt.query
			}
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Host = tt.host
			if tt.creds {
				req.SetBasicAuth("uname", "pwd")
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || (tt.location != "" && resp.Header.Get("Location") != tt.location) {
				return fmt.Errorf("%s: %d Location %q, want %d %q", tt.src, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
			return nil
		})
	}
}
