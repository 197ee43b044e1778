package controller

import (
	"net"
	"net/url"
	"strings"

	"portico.dev/portico/router"
)

// mirrorAnnotations: ingress-nginx mirror-target, mirror-host and
// mirror-request-body. Every request of the Ingress's paths is copied to
// the target, whose answer is discarded.
var mirrorAnnotations = []annotationGroup{
	{names: []string{"mirror-target", "mirror-host", "mirror-request-body"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		target, ok := a.get("mirror-target")
		if !ok || target == "" {
			return // ingress-nginx: no target, no mirror (mirror-host and mirror-request-body alone do nothing)
		}
		m, why := parseMirrorTarget(target)
		if m == nil {
			bad("mirror-target", why)
			return
		}
		// ingress-nginx: anything but "off" is "on".
		if v, _ := a.get("mirror-request-body"); v == "off" {
			m.NoBody = true
		}
		if h, set := a.get("mirror-host"); set && h != "" {
			if !validHost(h) {
				bad("mirror-host", "want a DNS name, optionally with :port")
			} else {
				m.Host = strings.ToLower(h)
			}
		}
		o.filters.Mirrors = append(o.filters.Mirrors, router.Mirror{URL: m})
	}},
}

// requestURIVar is the one nginx variable a mirror-target may use, as the
// ingress-nginx documentation shows it ("https://test.env.com$request_uri").
const requestURIVar = "$request_uri"

// parseMirrorTarget reads an http(s) URL, optionally ending in
// $request_uri. Nothing of it is templated: the variable is the only one
// and is filled in by the proxy.
func parseMirrorTarget(s string) (*router.MirrorURL, string) {
	m := &router.MirrorURL{}
	base := s
	if b, ok := strings.CutSuffix(s, requestURIVar); ok {
		base, m.RequestURI = b, true
	}
	if strings.Contains(base, "$") {
		return nil, "the only variable a mirror target may use is $request_uri, at its end"
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return nil, `want an http or https URL without query, such as "https://test.env.com$request_uri"`
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	if !validHost(host) && net.ParseIP(host) == nil || strings.Contains(host, "%") {
		return nil, "the target's host is not a DNS name or IP address"
	}
	if !validHost("x:" + port) {
		return nil, "the target's port is not a number from 1 to 65535"
	}
	m.Scheme, m.Addr, m.Host = u.Scheme, net.JoinHostPort(host, port), strings.ToLower(host)
	if strings.Contains(host, ":") {
		m.Host = "[" + host + "]" // an IPv6 address
	}
	if m.RequestURI {
		m.Path = u.EscapedPath() // the request URI is appended as sent
	} else if m.Path = u.Path; m.Path == "" {
		m.Path = "/"
	}
	return m, ""
}
