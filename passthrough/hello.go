// Package passthrough routes TLS connections by the server name of their
// ClientHello without terminating them: the raw stream is spliced to a
// backend endpoint that holds its own certificate (ingress-nginx
// ssl-passthrough). It imports nothing of Kubernetes.
package passthrough

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
)

// maxHello bounds the ClientHello Portico buffers before it decides. A
// ClientHello is one handshake message; with post-quantum key shares it
// is a few KiB, far below this.
const maxHello = 16 << 10

// Errors ReadClientHello returns.
var (
	ErrNotTLS   = errors.New("not a TLS handshake")
	ErrTooLarge = errors.New("ClientHello too large")
	ErrBadHello = errors.New("malformed ClientHello")
)

// ReadClientHello reads TLS records from r until it holds the whole
// ClientHello (which may span records) and returns the bytes read, to be
// replayed to whoever handles the connection, and the server name of its
// SNI extension ("" when there is none). It reads nothing past the
// records of the ClientHello. Errors: ErrNotTLS when the first bytes are
// not a TLS handshake record, ErrTooLarge, ErrBadHello, or the reader's.
func ReadClientHello(r io.Reader) (raw []byte, serverName string, err error) {
	var hs []byte // the handshake bytes, reassembled from the records
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return raw, "", err
		}
		raw = append(raw, hdr[:]...)
		if hdr[0] != 0x16 || hdr[1] != 3 { // handshake record, TLS 1.x
			return raw, "", ErrNotTLS
		}
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		if n == 0 || len(hs)+n > maxHello {
			return raw, "", ErrTooLarge
		}
		start := len(raw)
		raw = append(raw, make([]byte, n)...)
		if _, err := io.ReadFull(r, raw[start:]); err != nil {
			return raw[:start], "", err
		}
		hs = append(hs, raw[start:]...)
		if len(hs) < 4 {
			continue
		}
		if hs[0] != 1 { // client_hello
			return raw, "", ErrNotTLS
		}
		msgLen := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
		if msgLen > maxHello {
			return raw, "", ErrTooLarge
		}
		if len(hs) >= 4+msgLen {
			name, err := serverNameOf(hs[4 : 4+msgLen])
			return raw, name, err
		}
	}
}

// serverNameOf parses a ClientHello body (RFC 8446 §4.1.2) for its
// server_name extension (RFC 6066 §3): the host_name entry, lower-cased,
// without a trailing dot.
func serverNameOf(b []byte) (string, error) {
	p := parser(b)
	if !p.skip(2+32) || !p.skipVec(1) || !p.skipVec(2) || !p.skipVec(1) { // version, random, session id, suites, compression
		return "", ErrBadHello
	}
	if len(p) == 0 {
		return "", nil // no extensions
	}
	exts, ok := p.vec(2)
	if !ok {
		return "", ErrBadHello
	}
	for len(exts) > 0 {
		typ, ok1 := exts.u16()
		body, ok2 := exts.vec(2)
		if !ok1 || !ok2 {
			return "", ErrBadHello
		}
		if typ != 0 { // server_name
			continue
		}
		list, ok := body.vec(2)
		if !ok {
			return "", ErrBadHello
		}
		for len(list) > 0 {
			kind, ok1 := list.u8()
			name, ok2 := list.vec(2)
			if !ok1 || !ok2 {
				return "", ErrBadHello
			}
			if kind == 0 { // host_name
				if len(name) == 0 || len(name) > 253+1 || !validHost(name) {
					return "", ErrBadHello
				}
				return strings.TrimSuffix(strings.ToLower(string(name)), "."), nil
			}
		}
		return "", nil
	}
	return "", nil
}

// validHost accepts the bytes of a DNS name: letters, digits, '-', '_',
// '.', no empty label (one trailing dot aside); anything else cannot be
// a route's host.
func validHost(b []byte) bool {
	if b[0] == '.' || bytes.Contains(b, []byte("..")) {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// parser reads big-endian fields off a byte slice.
type parser []byte

func (p *parser) skip(n int) bool {
	if len(*p) < n {
		return false
	}
	*p = (*p)[n:]
	return true
}

func (p *parser) u8() (byte, bool) {
	if len(*p) < 1 {
		return 0, false
	}
	v := (*p)[0]
	*p = (*p)[1:]
	return v, true
}

func (p *parser) u16() (uint16, bool) {
	if len(*p) < 2 {
		return 0, false
	}
	v := binary.BigEndian.Uint16(*p)
	*p = (*p)[2:]
	return v, true
}

// vec reads a vector with an lenBytes-byte length.
func (p *parser) vec(lenBytes int) (parser, bool) {
	if len(*p) < lenBytes {
		return nil, false
	}
	n := 0
	for i := range lenBytes {
		n = n<<8 | int((*p)[i])
	}
	*p = (*p)[lenBytes:]
	if len(*p) < n {
		return nil, false
	}
	v := (*p)[:n]
	*p = (*p)[n:]
	return v, true
}

func (p *parser) skipVec(lenBytes int) bool {
	_, ok := p.vec(lenBytes)
	return ok
}
