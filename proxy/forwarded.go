package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
)

// Forwarded sets X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto,
// X-Forwarded-Port and X-Real-IP on upstream requests. Headers a client sent
// are kept (and X-Forwarded-For appended to) only when the client's address
// is in Trusted; otherwise they are replaced, so nobody can spoof a client
// IP by sending the header themselves.
type Forwarded struct {
	Trusted []netip.Prefix
}

func (f *Forwarded) trusted(ip netip.Addr) bool {
	for _, p := range f.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// peerTrusted reports whether r came from a trusted proxy.
func (f *Forwarded) peerTrusted(r *http.Request) bool {
	if len(f.Trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && f.trusted(ip.Unmap())
}

// forwardedHTTPS reports whether a trusted proxy says the client spoke
// HTTPS to it (X-Forwarded-Proto: https): a plain-HTTP request from a
// TLS-terminating load balancer must not be redirected to HTTPS, or it
// loops.
func (f *Forwarded) forwardedHTTPS(r *http.Request) bool {
	v := r.Header["X-Forwarded-Proto"]
	return len(v) > 0 && strings.EqualFold(v[0], "https") && f.peerTrusted(r)
}

// schemePort is the scheme and port the client used: the listener's, or
// what a trusted proxy says in X-Forwarded-Proto and X-Forwarded-Port.
func (f *Forwarded) schemePort(r *http.Request, scheme string, port int) (string, int) {
	proto, fport := r.Header["X-Forwarded-Proto"], r.Header["X-Forwarded-Port"]
	if (len(proto) == 0 && len(fport) == 0) || !f.peerTrusted(r) {
		return scheme, port
	}
	if len(proto) > 0 {
		switch p := strings.ToLower(proto[0]); p {
		case "http", "https":
			scheme = p
		}
	}
	if len(fport) > 0 {
		if n, err := strconv.Atoi(fport[0]); err == nil && n > 0 && n < 65536 {
			port = n
		}
	}
	return scheme, port
}

func (f *Forwarded) set(pr *httputil.ProxyRequest, scheme string) {
	in, h := pr.In, pr.Out.Header
	host, port, err := net.SplitHostPort(in.RemoteAddr)
	if err != nil {
		host = in.RemoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	// ReverseProxy has already removed X-Forwarded-{For,Host,Proto} from
	// the outgoing request (that is Rewrite's contract).
	_ = port
	// One backing array for the five values: one allocation, not five.
	vals := make([]string, 5)
	if f.trusted(ip.Unmap()) {
		prior := in.Header["X-Forwarded-For"]
		vals[0] = host
		if len(prior) > 0 {
			vals[0] = joinXFF(prior) + ", " + host
		}
		vals[1] = firstXFF(prior, host)
		vals[2] = firstOr(in.Header, "X-Forwarded-Proto", scheme)
		vals[3] = firstOr(in.Header, "X-Forwarded-Host", in.Host)
		vals[4] = firstOr(in.Header, "X-Forwarded-Port", "")
		if vals[4] == "" {
			vals[4] = portOf(in.Host, scheme)
		}
	} else {
		vals[0], vals[1], vals[2], vals[3], vals[4] = host, host, scheme, in.Host, portOf(in.Host, scheme)
	}
	h["X-Forwarded-For"] = vals[0:1:1]
	h["X-Real-Ip"] = vals[1:2:2] // canonical key: it replaces what a client sent
	h["X-Forwarded-Proto"] = vals[2:3:3]
	h["X-Forwarded-Host"] = vals[3:4:4]
	h["X-Forwarded-Port"] = vals[4:5:5]
}

func firstOr(src map[string][]string, key, def string) string {
	if v := src[key]; len(v) > 0 {
		return v[0]
	}
	return def
}

func joinXFF(vs []string) string {
	if len(vs) == 1 {
		return vs[0]
	}
	s := vs[0]
	for _, v := range vs[1:] {
		s += ", " + v
	}
	return s
}

// firstXFF is the original client as the trusted chain reports it.
func firstXFF(prior []string, fallback string) string {
	if len(prior) == 0 {
		return fallback
	}
	v := prior[0]
	for i := 0; i < len(v); i++ {
		if v[i] == ',' {
			v = v[:i]
			break
		}
	}
	for len(v) > 0 && v[0] == ' ' {
		v = v[1:]
	}
	for len(v) > 0 && v[len(v)-1] == ' ' {
		v = v[:len(v)-1]
	}
	if v == "" {
		return fallback
	}
	return v
}

// portOf is the port the client connected to, from Host or the scheme.
func portOf(host, scheme string) string {
	// Only split what has a port: SplitHostPort allocates its error.
	if i := strings.LastIndexByte(host, ':'); i >= 0 && i > strings.LastIndexByte(host, ']') {
		if _, p, err := net.SplitHostPort(host); err == nil && p != "" {
			return p
		}
	}
	if scheme == "https" {
		return "443"
	}
	return "80"
}
