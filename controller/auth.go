package controller

import (
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"

	"portico.dev/portico/router"
)

// authAnnotations are ingress-nginx's external authentication (auth-url
// and its companions). An auth-url that cannot be used denies the
// Ingress's paths (503), as ingress-nginx denies the location: a typo must
// not serve a protected site without authentication.
var authAnnotations = []annotationGroup{
	{names: []string{"auth-url", "auth-method", "auth-signin", "auth-signin-redirect-param",
		"auth-response-headers", "auth-request-redirect", "auth-always-set-cookie"}, nginx: true, parse: parseExternalAuth},
}

// maxAuthURL bounds the length of auth-url and auth-signin.
const maxAuthURL = 2048

func parseExternalAuth(a annotations, o *ingressOptions, bad badFunc) {
	raw, ok := a.get("auth-url")
	if !ok {
		for _, n := range []string{"auth-method", "auth-signin", "auth-signin-redirect-param",
			"auth-response-headers", "auth-request-redirect", "auth-always-set-cookie"} {
			if _, set := a.get(n); set {
				bad(n, "needs auth-url")
			}
		}
		return
	}
	deny := func(name, why string) {
		bad(name, why+"; the Ingress's paths answer 503")
		o.route.Auth = &router.Auth{Deny: true}
	}
	ext := &router.ExternalAuth{}
	t, err := parseURLTemplate(raw)
	if err != nil {
		deny("auth-url", err.Error())
		return
	}
	ext.URL = t
	if m, ok := a.get("auth-method"); ok {
		m = strings.TrimSpace(m)
		if !validMethod(m) {
			deny("auth-method", "want an HTTP method such as GET or POST")
			return
		}
		ext.Method = m
	}
	if s, ok := a.get("auth-signin"); ok && s != "" {
		// ingress-nginx warns and leaves auth-signin out.
		if t, err := parseURLTemplate(s); err != nil {
			bad("auth-signin", err.Error())
		} else {
			ext.Signin = t
		}
	}
	ext.SigninParam = "rd"
	if p, ok := a.get("auth-signin-redirect-param"); ok && p != "" {
		if !validParam(p) {
			bad("auth-signin-redirect-param", "want letters, digits, '-' or '_'")
		} else {
			ext.SigninParam = p
		}
	}
	if h, ok := a.get("auth-response-headers"); ok {
		for _, n := range strings.Split(h, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if !httpguts.ValidHeaderFieldName(n) {
				deny("auth-response-headers", fmt.Sprintf("%q is not a header name", truncate(n, 40)))
				return
			}
			ext.ResponseHeaders = append(ext.ResponseHeaders, n)
		}
	}
	if r, ok := a.get("auth-request-redirect"); ok {
		if !httpguts.ValidHeaderFieldValue(r) || len(r) > maxAuthURL {
			bad("auth-request-redirect", "not a valid header value")
		} else {
			ext.RequestRedirect = r
		}
	}
	if b, ok := boolAnnotation(a, "auth-always-set-cookie", bad); ok {
		ext.AlwaysSetCookie = b
	}
	o.route.Auth = &router.Auth{External: ext}
}

// parseURLTemplate parses an http(s) URL in which nginx variables
// ($host, ${host}) stand for parts of the request; see router.URLVars. The
// variables are substituted when a request comes, never evaluated.
func parseURLTemplate(s string) (router.URLTemplate, error) {
	if len(s) > maxAuthURL {
		return nil, fmt.Errorf("longer than %d bytes", maxAuthURL)
	}
	var t router.URLTemplate
	var lit strings.Builder
	probe := strings.Builder{} // the URL with each variable as "x", to validate
	for i := 0; i < len(s); {
		if s[i] != '$' {
			lit.WriteByte(s[i])
			probe.WriteByte(s[i])
			i++
			continue
		}
		j, name := i+1, ""
		if j < len(s) && s[j] == '{' {
			k := strings.IndexByte(s[j:], '}')
			if k < 0 {
				return nil, fmt.Errorf("unclosed ${ at byte %d", i)
			}
			name, j = s[j+1:j+k], j+k+1
		} else {
			k := j
			for k < len(s) && (s[k] == '_' || 'a' <= s[k] && s[k] <= 'z' || 'A' <= s[k] && s[k] <= 'Z' || '0' <= s[k] && s[k] <= '9') {
				k++
			}
			name, j = s[j:k], k
		}
		v, ok := router.URLVars[name]
		if !ok {
			return nil, fmt.Errorf("unsupported variable $%s (known: $host, $scheme, $request_uri, $escaped_request_uri, $uri, $request_method, $args)", truncate(name, 32))
		}
		if lit.Len() > 0 {
			t = append(t, router.URLPart{Lit: lit.String()})
			lit.Reset()
		}
		t = append(t, router.URLPart{Var: v})
		probe.WriteString("x")
		i = j
	}
	if lit.Len() > 0 {
		t = append(t, router.URLPart{Lit: lit.String()})
	}
	u, err := url.Parse(probe.String())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("want an http:// or https:// URL with a host")
	}
	if h := u.Hostname(); strings.Contains(h, "..") || strings.HasPrefix(h, ".") || strings.HasPrefix(h, "-") {
		return nil, fmt.Errorf("invalid url host %q", truncate(h, 64))
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return nil, fmt.Errorf("contains white space")
	}
	return t, nil
}

func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

func validParam(p string) bool {
	if len(p) > 64 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
