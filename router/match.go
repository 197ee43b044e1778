package router

import (
	"encoding/binary"
	"net/http"
	"strings"
)

// maxHost bounds the host names we normalize on the stack; DNS names are at
// most 253 bytes, so anything longer cannot match a rule.
const maxHost = 255

// Match returns the route for a request by host and path alone, or nil when
// nothing (not even a default backend) applies: routes with Conditions never
// match. It is MatchRequest without a request.
func (t *Table) Match(host, path string) *Route { return t.MatchRequest(nil, host, path) }

// MatchRequest returns the route for a request, or nil when nothing (not
// even a default backend) applies. host is the request's Host (any case,
// with or without a port or a trailing dot); path must be clean (see
// CleanPath). req supplies the method, headers and query for routes with
// Conditions; it may be nil.
//
// Hosts are chosen first, most specific level that has rules: an exact host,
// then a wildcard (covering exactly one extra label, or with
// WildcardAnyDepth the longest matching suffix), then rules without a
// host. Within that host, Exact paths come first, then Regex paths, then
// Prefix paths, longest first; at each path the first candidate whose
// conditions hold wins, and when none does the next less specific path is
// tried. A request whose host matched but whose path did not goes to the
// default backend: it does not fall through to a less specific host, so a
// host's owner decides everything that host serves. With HostFallthrough
// it does: the next covering wildcard (longest first), then the rules
// without a host, are tried before the default backend.
//
// MatchRequest does not allocate, except to unescape a query parameter a
// condition names.
func (t *Table) MatchRequest(req *http.Request, host, path string) *Route {
	host, upper, ok := trimHost(host)
	if !ok {
		return t.matchAny(req, path)
	}
	if !upper {
		return match(t, req, host, path)
	}
	var buf [maxHost]byte
	return match(t, req, lowerInto(&buf, host), path)
}

// trimHost drops the port and one trailing dot from a Host and tells
// whether what is left has upper-case letters; ok is false when it is too
// long to be a DNS name (it can match no host rule). It runs on every
// request: the colon is found with the vectorised IndexByte (the last one,
// as "host:port" has one), the case eight bytes at a time.
func trimHost(host string) (h string, upper, ok bool) {
	if len(host) > 0 && host[0] == '[' { // IPv6 literal: "[::1]:80"
		host = stripPort(host)
	} else if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i+strings.LastIndexByte(host[i:], ':')]
	}
	if len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	return host, hasUpper(host), len(host) <= maxHost
}

// lowerInto lower-cases host (at most maxHost bytes) into buf.
func lowerInto(buf *[maxHost]byte, host string) []byte {
	n := copy(buf[:], host)
	for i := 0; i < n; i++ {
		if c := buf[i]; 'A' <= c && c <= 'Z' {
			buf[i] = c + ('a' - 'A')
		}
	}
	return buf[:n]
}

// match is MatchRequest for a lower-case host without a port, given as a
// string or as a lower-cased copy in a buffer; the map lookups with
// string(host) do not allocate. Without HostFallthrough the first host
// level that has rules decides (its paths or the default); with it, a
// level none of whose rules match passes the request on.
func match[H string | []byte](t *Table, req *http.Request, host H, path string) *Route {
	if ps := t.exact[string(host)]; ps != nil {
		if !t.hostFallthrough {
			return ps.match(req, path, ps.orDefault(t.def))
		}
		if r := ps.match(req, path, nil); r != nil {
			return r
		}
	}
	for i := 0; i < len(host); i++ {
		if host[i] != '.' {
			continue
		}
		if i > 0 {
			if ps := t.wildcard[string(host[i+1:])]; ps != nil {
				if !t.hostFallthrough {
					return ps.match(req, path, ps.orDefault(t.def))
				}
				if r := ps.match(req, path, nil); r != nil {
					return r
				}
			}
		}
		if !t.wildcardAnyDepth {
			break
		}
	}
	return t.matchAny(req, path)
}

func (t *Table) matchAny(req *http.Request, path string) *Route {
	if t.anyHost != nil {
		return t.anyHost.match(req, path, t.anyHost.orDefault(t.def))
	}
	return t.def
}

// first returns the first candidate whose conditions req meets.
func first(list []*Route, req *http.Request) *Route {
	for _, r := range list {
		if r.Conditions.matches(req) {
			return r
		}
	}
	return nil
}

func (ps *pathSet) match(req *http.Request, path string, def *Route) *Route {
	if len(path) <= ps.exactMaxLen {
		if r := first(ps.exact[path], req); r != nil {
			return r
		}
	}
	for _, r := range ps.regex {
		if r.PathRegex != nil && r.PathRegex.MatchString(path) && r.Conditions.matches(req) {
			return r
		}
	}
	if len(ps.prefix) == 0 {
		return def
	}
	// Try the path itself and then each shorter run of whole segments:
	// "/a/b/" tries "/a/b", "/a", "" (the root). Runs longer than the
	// deepest rule cannot match, so start at that depth: a map lookup is
	// most of the cost of a match.
	p := strings.TrimRight(path, "/")
	depth := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			if depth == ps.prefixDepth {
				p = p[:i]
				break
			}
			depth++
		}
	}
	for {
		if r := first(ps.prefix[p], req); r != nil {
			return r
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return def
		}
		p = p[:i]
	}
}

func stripPort(h string) string {
	if h == "" {
		return h
	}
	if h[0] == '[' { // IPv6 literal: "[::1]:80"
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[:i+1]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

// hasUpper reports whether s has an ASCII upper-case letter, eight bytes
// at a time: for a byte x below 0x80, x+0x3f has its high bit set when
// x >= 'A' and x+0x25 when x > 'Z'; bytes from 0x80 up are masked out.
func hasUpper(s string) bool {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64([]byte(s[i : i+8]))
		y := w &^ msb
		if (y+0x3f*lsb)&^(y+0x25*lsb)&^w&msb != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
