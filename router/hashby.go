package router

import (
	"net/http"
	"strings"
)

// HashBy is ingress-nginx upstream-hash-by: the endpoint is chosen by a
// consistent hash of a key built from parts of the request, so the same
// key keeps going to the same endpoint while the endpoints stay.
type HashBy struct {
	Parts []HashPart
	// SubsetSize, when above 0, hashes the key to a subset of that many
	// endpoints and picks one of them at random (ingress-nginx
	// upstream-hash-by-subset): the endpoints, in order, are cut into
	// ceil(n/SubsetSize) subsets, the last one filled up with the first
	// endpoints.
	SubsetSize int `json:",omitempty"`
}

// HashKind is what a HashPart reads.
type HashKind uint8

const (
	HashText       HashKind = iota // Name, as written
	HashRequestURI                 // $request_uri: the path and query as sent
	HashURI                        // $uri: the cleaned path
	HashHost                       // $host: the Host without port, lower case
	HashRemoteAddr                 // $remote_addr: the client address (as --trusted-proxies resolves it)
	HashArgs                       // $args, $query_string
	HashScheme                     // $scheme
	HashMethod                     // $request_method
	HashHeader                     // $http_<name>: Name is the canonical header name
	HashCookie                     // $cookie_<name>
	HashArg                        // $arg_<name>
)

// HashPart is one variable or text of an upstream-hash-by key.
type HashPart struct {
	Kind HashKind
	Name string
}

// Key builds the hash key of r; path is the cleaned path, clientIP the
// client's address.
func (h *HashBy) Key(r *http.Request, path, clientIP string) string {
	var b strings.Builder
	for _, p := range h.Parts {
		switch p.Kind {
		case HashText:
			b.WriteString(p.Name)
		case HashRequestURI:
			b.WriteString(r.RequestURI)
		case HashURI:
			b.WriteString(path)
		case HashHost:
			host := r.Host
			if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
				host = host[:i]
			}
			b.WriteString(strings.ToLower(host))
		case HashRemoteAddr:
			b.WriteString(clientIP)
		case HashArgs:
			b.WriteString(r.URL.RawQuery)
		case HashScheme:
			if r.TLS != nil {
				b.WriteString("https")
			} else {
				b.WriteString("http")
			}
		case HashMethod:
			b.WriteString(r.Method)
		case HashHeader:
			if vs := r.Header[p.Name]; len(vs) > 0 {
				b.WriteString(vs[0])
			}
		case HashCookie:
			if c, err := r.Cookie(p.Name); err == nil {
				b.WriteString(c.Value)
			}
		case HashArg:
			b.WriteString(r.URL.Query().Get(p.Name))
		}
	}
	return b.String()
}
