package proxy

import (
	"net"
	"net/http/httputil"
	"net/netip"
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
	if f.trusted(ip.Unmap()) {
		prior := in.Header["X-Forwarded-For"]
		xff := host
		if len(prior) > 0 {
			xff = joinXFF(prior) + ", " + host
		}
		h["X-Forwarded-For"] = []string{xff}
		h["X-Real-IP"] = []string{firstXFF(prior, host)}
		copyOr(h, in.Header, "X-Forwarded-Proto", scheme)
		copyOr(h, in.Header, "X-Forwarded-Host", in.Host)
		copyOr(h, in.Header, "X-Forwarded-Port", portOf(in.Host, scheme))
		return
	}
	h["X-Forwarded-For"] = []string{host}
	h["X-Real-IP"] = []string{host}
	h["X-Forwarded-Proto"] = []string{scheme}
	h["X-Forwarded-Host"] = []string{in.Host}
	h["X-Forwarded-Port"] = []string{portOf(in.Host, scheme)}
}

func copyOr(dst, src map[string][]string, key, def string) {
	if v := src[key]; len(v) > 0 {
		dst[key] = []string{v[0]}
		return
	}
	dst[key] = []string{def}
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
	if _, p, err := net.SplitHostPort(host); err == nil && p != "" {
		return p
	}
	if scheme == "https" {
		return "443"
	}
	return "80"
}
