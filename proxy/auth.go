package proxy

import (
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"portico.dev/portico/router"
)

// Bounds of a call to an external auth service (auth-url): it must answer
// within these or the request gets 500.
const (
	authConnectTimeout = 5 * time.Second
	authReadTimeout    = 5 * time.Second // until the auth answer's headers
	authTotalTimeout   = 10 * time.Second
	authMaxBody        = 64 << 10 // drained to reuse the connection; never forwarded
)

// authClient is shared by every route: connections to auth services are
// pooled and kept alive. Redirects are not followed (nginx auth_request
// does not either; a 3xx is an error, 500).
var authClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: authConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   authConnectTimeout,
		ResponseHeaderTimeout: authReadTimeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	},
	Timeout:       authTotalTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// authHopHeaders are not copied from the request to the auth subrequest.
var authHopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", "Content-Length", "Expect"}

// auth enforces the route's Auth; false means the request was answered.
func (c *call) auth(a *router.Auth) bool {
	if a.Deny {
		c.fail(http.StatusServiceUnavailable, "503 service unavailable")
		return false
	}
	if a.External != nil {
		return c.externalAuth(a.External)
	}
	return true
}

// externalAuth asks the auth service, as nginx's auth_request does.
func (c *call) externalAuth(e *router.ExternalAuth) bool {
	r := c.in
	scheme := c.p.cfg.Scheme
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	vals := router.URLValues{Host: host, Scheme: scheme, RequestURI: uri, URI: c.path, Method: r.Method, Args: r.URL.RawQuery}
	method := e.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(r.Context(), method, e.URL.Expand(&vals), nil)
	if err != nil {
		c.fail(http.StatusInternalServerError, "500 internal server error")
		return false
	}
	h := r.Header.Clone()
	for _, k := range authHopHeaders {
		delete(h, k)
	}
	original := scheme + "://" + r.Host + uri
	ip := c.p.cfg.Forwarded.clientIP(r)
	h["X-Original-Url"] = []string{original}
	h["X-Original-Method"] = []string{r.Method}
	h["X-Forwarded-Host"] = []string{r.Host}
	h["X-Forwarded-Proto"] = []string{scheme}
	h["X-Forwarded-For"] = []string{ip}
	h["X-Real-Ip"] = []string{ip}
	rd := e.RequestRedirect
	if rd == "" {
		rd = uri
	}
	h["X-Auth-Request-Redirect"] = []string{rd}
	req.Header = h
	resp, err := authClient.Do(req)
	if err != nil {
		c.fail(http.StatusInternalServerError, "500 internal server error")
		return false
	}
	_, _ = io.CopyN(io.Discard, resp.Body, authMaxBody)
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		for _, n := range e.ResponseHeaders {
			k := textproto.CanonicalMIMEHeaderKey(n)
			if v := resp.Header.Values(k); len(v) > 0 {
				r.Header[k] = v
			} else {
				delete(r.Header, k) // the client may not set what the auth service vouches for
			}
		}
		if e.AlwaysSetCookie {
			if v := resp.Header.Values("Set-Cookie"); len(v) > 0 {
				c.w.Header()["Set-Cookie"] = v
			}
		}
		return true
	case code == http.StatusUnauthorized:
		if v := resp.Header.Values("Set-Cookie"); len(v) > 0 {
			c.w.Header()["Set-Cookie"] = v
		}
		if len(e.Signin) > 0 {
			c.w.Header()["Location"] = []string{signinURL(e.Signin.Expand(&vals), e.SigninParam, scheme+"://"+r.Host, uri)}
			c.status = http.StatusFound
			c.w.WriteHeader(http.StatusFound)
			return false
		}
		if v := resp.Header.Values("Www-Authenticate"); len(v) > 0 {
			c.w.Header()["Www-Authenticate"] = v
		}
		c.fail(http.StatusUnauthorized, "401 unauthorized")
	case code == http.StatusForbidden:
		c.fail(http.StatusForbidden, "403 forbidden")
	default:
		c.fail(http.StatusInternalServerError, "500 internal server error")
	}
	return false
}

// signinURL adds param=origin+escaped uri to the sign-in URL, unless it
// has that parameter already (ingress-nginx buildAuthSignURL and its
// $scheme://$http_host$escaped_request_uri).
func signinURL(signin, param, origin, uri string) string {
	if u, err := url.Parse(signin); err == nil && u.Query().Has(param) {
		return signin
	}
	sep := "?"
	if strings.Contains(signin, "?") {
		sep = "&"
	}
	return signin + sep + param + "=" + origin + url.QueryEscape(uri)
}
