package controller

import (
	"strings"
	"testing"

	"portico.dev/portico/router"
)

func TestExternalAuthAnnotations(t *testing.T) {
	const p = "nginx.ingress.kubernetes.io/"
	for _, c := range []struct {
		name string
		ann  map[string]string
		want func(*router.Auth) bool
		prob string // substring of a problem, "" for none
	}{
		{"plain", map[string]string{p + "auth-url": "http://auth.ns.svc/oauth2/auth"},
			func(a *router.Auth) bool {
				e := a.External
				return e != nil && e.URL.Expand(&router.URLValues{}) == "http://auth.ns.svc/oauth2/auth" && e.SigninParam == "rd" && e.Method == ""
			}, ""},
		{"variables", map[string]string{p + "auth-url": "https://$host/auth?rd=$escaped_request_uri&s=${scheme}"},
			func(a *router.Auth) bool {
				got := a.External.URL.Expand(&router.URLValues{Host: "h", Scheme: "https", RequestURI: "/a?b=c"})
				return got == "https://h/auth?rd=%2Fa%3Fb%3Dc&s=https"
			}, ""},
		{"all", map[string]string{p + "auth-url": "http://a/", p + "auth-method": "POST", p + "auth-signin": "https://s/start?x=$request_uri",
			p + "auth-signin-redirect-param": "next", p + "auth-response-headers": "X-User, X-Email,", p + "auth-request-redirect": "/home",
			p + "auth-always-set-cookie": "true"},
			func(a *router.Auth) bool {
				e := a.External
				return e.Method == "POST" && e.Signin.Expand(&router.URLValues{RequestURI: "/r"}) == "https://s/start?x=/r" && e.SigninParam == "next" &&
					strings.Join(e.ResponseHeaders, ",") == "X-User,X-Email" && e.RequestRedirect == "/home" && e.AlwaysSetCookie
			}, ""},
		{"unknown variable denies", map[string]string{p + "auth-url": "http://a/$remote_addr"}, func(a *router.Auth) bool { return a.Deny }, "unsupported variable $remote_addr"},
		{"not a url denies", map[string]string{p + "auth-url": "auth.svc/auth"}, func(a *router.Auth) bool { return a.Deny }, "want an http://"},
		// ingress-nginx annotations/auth.go "should add error to the config"
		{"invalid host denies", map[string]string{p + "auth-url": "https://invalid..auth.url"}, func(a *router.Auth) bool { return a.Deny }, "invalid url host"},
		{"ftp denies", map[string]string{p + "auth-url": "ftp://a/"}, func(a *router.Auth) bool { return a.Deny }, "want an http://"},
		{"unclosed", map[string]string{p + "auth-url": "http://a/${host"}, func(a *router.Auth) bool { return a.Deny }, "unclosed"},
		{"bad method denies", map[string]string{p + "auth-url": "http://a/", p + "auth-method": "GE T"}, func(a *router.Auth) bool { return a.Deny }, "auth-method"},
		{"bad header denies", map[string]string{p + "auth-url": "http://a/", p + "auth-response-headers": "X-Ok, Bad Header"}, func(a *router.Auth) bool { return a.Deny }, "auth-response-headers"},
		{"bad signin is left out", map[string]string{p + "auth-url": "http://a/", p + "auth-signin": "nope"},
			func(a *router.Auth) bool { return a.External != nil && a.External.Signin == nil }, "auth-signin"},
		{"bad param keeps rd", map[string]string{p + "auth-url": "http://a/", p + "auth-signin-redirect-param": "a=b"},
			func(a *router.Auth) bool { return a.External.SigninParam == "rd" }, "auth-signin-redirect-param"},
		{"bad bool", map[string]string{p + "auth-url": "http://a/", p + "auth-always-set-cookie": "yes"},
			func(a *router.Auth) bool { return !a.External.AlwaysSetCookie }, "auth-always-set-cookie"},
		{"companion without url", map[string]string{p + "auth-signin": "https://s/"}, func(a *router.Auth) bool { return a == nil }, "needs auth-url"},
		{"portico prefix", map[string]string{"portico.dev/auth-url": "http://a/"}, func(a *router.Auth) bool { return a.External != nil }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, probs := parseAnnotations(c.ann)
			if !c.want(o.route.Auth) {
				t.Errorf("auth = %+v", o.route.Auth)
			}
			var msgs []string
			for _, p := range probs {
				msgs = append(msgs, p.msg)
			}
			all := strings.Join(msgs, "\n")
			if c.prob == "" && len(probs) > 0 || c.prob != "" && !strings.Contains(all, c.prob) {
				t.Errorf("problems %q, want %q", all, c.prob)
			}
		})
	}
}

func FuzzParseURLTemplate(f *testing.F) {
	for _, s := range []string{"http://a/", "https://$host/x?$escaped_request_uri", "http://a/${", "http://$nope", "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseURLTemplate(s)
		if err != nil {
			return
		}
		_ = tm.Expand(&router.URLValues{Host: "h", RequestURI: "/"})
	})
}
