package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"portico.dev/portico/router"
)

// errIntercepted ends an exchange whose answer goes to the default
// backend instead (modifyResponse to errorHandler); c.intercepted is the
// backend's status.
var errIntercepted = errors.New("answer intercepted for the default backend")

// intercepts reports whether the backend's answer with status code goes to
// the default backend (custom-http-errors); its body is then discarded.
func (c *call) intercepts(code int) bool {
	e := c.route.Options.ErrorPages
	if e == nil || !e.Intercept || !e.Catches(code) {
		return false
	}
	c.intercepted = code
	return true
}

// errorPage answers with the default backend's answer to the request as
// ingress-nginx's error locations send it: the client's method and
// headers (no body), path "/" with the client's query, and X-Code,
// X-Format, X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name,
// X-Service-Port, X-Request-ID, X-Forwarded-For. Without a default
// backend the answer is 404, as ingress-nginx's built-in one gives.
func (c *call) errorPage(e *router.ErrorPages, code int) {
	b := e.Backend
	if b == nil {
		c.fail(http.StatusNotFound, "404 page not found")
		return
	}
	ep := c.p.balancer.pick(b, router.RoundRobin, nil)
	if ep == nil {
		c.fail(http.StatusServiceUnavailable, "503 no ready endpoint")
		return
	}
	r := c.in
	proto := backendProtocol(b, router.HTTP)
	scheme := "http"
	if proto == router.HTTPS || proto == router.GRPCS {
		scheme = "https"
	}
	h := r.Header.Clone()
	for _, v := range h["Connection"] { // headers the client named hop-by-hop
		for f := range strings.SplitSeq(v, ",") {
			if f = textproto.TrimString(f); f != "" {
				delete(h, textproto.CanonicalMIMEHeaderKey(f))
			}
		}
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Content-Length", "Expect",
		// forwarded headers are Portico's, set below or not at all
		"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Real-Ip", "Forwarded"} {
		delete(h, k)
	}
	reqID := r.Header.Get("X-Request-Id")
	if reqID == "" {
		reqID = fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
	}
	ns, ing, _ := strings.Cut(c.route.Source, "/")
	svc, port := "", ""
	if c.backend != nil {
		svc, port = c.backend.Service, c.backend.Port
	}
	for k, v := range map[string]string{
		"X-Code": strconv.Itoa(code), "X-Format": r.Header.Get("Accept"), "X-Original-Uri": r.URL.RequestURI(),
		"X-Namespace": ns, "X-Ingress-Name": ing, "X-Service-Name": svc, "X-Service-Port": port,
		"X-Request-Id": reqID, "X-Forwarded-For": c.p.cfg.Forwarded.clientIP(r),
	} {
		h[k] = []string{v}
	}
	ctx, cancel := context.WithTimeout(r.Context(), orDefault(c.route.Options.ReadTimeout, c.p.cfg.Defaults.ReadTimeout))
	defer cancel()
	out := (&http.Request{
		Method: r.Method, URL: &url.URL{Scheme: scheme, Host: ep.addr, Path: "/", RawQuery: r.URL.RawQuery},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Host: r.Host, Body: http.NoBody,
	}).WithContext(ctx)
	ep.inflight.Add(1)
	defer ep.inflight.Add(-1)
	resp, err := c.p.backendTransport(b, proto).RoundTrip(out)
	if err != nil {
		c.p.cfg.Log.Debug("default backend failed", "backend", b.ID, "endpoint", ep.addr, "err", err)
		if isTimeout(err) {
			c.fail(http.StatusGatewayTimeout, http.StatusText(http.StatusGatewayTimeout))
		} else {
			c.fail(http.StatusBadGateway, http.StatusText(http.StatusBadGateway))
		}
		return
	}
	defer resp.Body.Close()
	dst := c.w.Header()
	for k, v := range resp.Header {
		switch k {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
			continue
		}
		if k == "Set-Cookie" {
			dst[k] = append(dst[k], v...) // next to the affinity cookie, never instead of it
			continue
		}
		dst[k] = v
	}
	c.status = resp.StatusCode
	c.w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(&c.w, resp.Body); err != nil {
		// A broken error page must not look complete to the client.
		panic(http.ErrAbortHandler)
	}
}
