package router

import "strings"

// Compress is response compression: ingress-nginx's use-gzip with
// gzip-level, gzip-min-length and gzip-types (the --nginx-configmap keys).
// A response is compressed when the client accepts an encoding, the
// response has none yet, its media type is one of Types and it is not
// known to be shorter than MinLength; the proxy checks the rest (status,
// method, Range, Cache-Control: no-transform).
type Compress struct {
	// Level is the gzip level, 1 (fastest) to 9 (smallest).
	Level int
	// MinLength: responses whose Content-Length is below it are sent as
	// they are; responses of unknown length are compressed.
	MinLength int64
	// Types are media types, lower case, without parameters; text/html
	// is always one (as in nginx). AnyType compresses every type ("*").
	Types   map[string]bool
	AnyType bool
	// Zstd offers zstd to clients that prefer it to gzip.
	Zstd bool
}

// Compressible reports whether a response with this Content-Type value
// is of a type to compress. A response without a type is not.
func (c *Compress) Compressible(contentType string) bool {
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(mt)
	if mt == "" {
		return false
	}
	if c.AnyType {
		return true
	}
	if strings.EqualFold(mt, "text/html") {
		return true
	}
	if c.Types[mt] {
		return true
	}
	for i := 0; i < len(mt); i++ {
		if 'A' <= mt[i] && mt[i] <= 'Z' {
			return c.Types[strings.ToLower(mt)]
		}
	}
	return false
}
