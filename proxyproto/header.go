// Package proxyproto reads the PROXY protocol header (versions 1 and 2)
// that a TCP load balancer puts in front of a connection to tell the real
// client's address. Specification:
// https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// Header is what a PROXY header says about a connection.
type Header struct {
	Version int // 1 or 2
	// Local is true for "PROXY UNKNOWN" (v1) and the LOCAL command or an
	// unsupported address family (v2): the balancer's own connection, for
	// which the socket's peer address is the right one.
	Local       bool
	Source      netip.AddrPort
	Destination netip.AddrPort
}

var (
	v1Prefix = []byte("PROXY ")
	// v2Signature is the fixed 12-byte start of a version 2 header.
	v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")
	// ErrNotProxy: the connection does not start with a PROXY header.
	ErrNotProxy = errors.New("proxyproto: connection does not start with a PROXY protocol header")
)

const (
	v1MaxLen = 107 // the spec's worst case, CRLF included
	// v2MaxPayload bounds what is read for TLVs; the spec allows 64 KiB,
	// but nothing Portico reads needs more than the addresses.
	v2MaxPayload = 4096
)

// Read consumes exactly one PROXY header from r and returns it. It reads
// nothing past the header, so what follows stays in r for the application.
func Read(r *bufio.Reader) (Header, error) {
	first, err := r.Peek(1)
	if err != nil {
		return Header{}, err
	}
	switch first[0] {
	case 'P':
		return readV1(r)
	case '\r':
		return readV2(r)
	}
	return Header{}, ErrNotProxy
}

func readV1(r *bufio.Reader) (Header, error) {
	// Peek at most v1MaxLen bytes for the line, without over-reading.
	var line []byte
	for n := len(v1Prefix); ; n++ {
		if n > v1MaxLen {
			return Header{}, errors.New("proxyproto: v1 header longer than 107 bytes")
		}
		b, err := r.Peek(n)
		if err != nil {
			if len(b) < len(v1Prefix) && !bytes.HasPrefix(v1Prefix, b) {
				return Header{}, ErrNotProxy
			}
			return Header{}, fmt.Errorf("proxyproto: v1 header: %w", err)
		}
		if n == len(v1Prefix) && !bytes.Equal(b, v1Prefix) {
			return Header{}, ErrNotProxy
		}
		if b[n-1] == '\n' {
			if n < 2 || b[n-2] != '\r' {
				return Header{}, errors.New("proxyproto: v1 header line does not end in CRLF")
			}
			line = b[len(v1Prefix) : n-2]
			break
		}
	}
	h, err := parseV1(string(line))
	if err != nil {
		return Header{}, err
	}
	_, _ = r.Discard(len(v1Prefix) + len(line) + 2)
	return h, nil
}

// parseV1 reads "TCP4 SRC DST SPORT DPORT" or "UNKNOWN[ anything]".
func parseV1(line string) (Header, error) {
	h := Header{Version: 1}
	fields := splitSpaces(line)
	if len(fields) >= 1 && fields[0] == "UNKNOWN" {
		h.Local = true
		return h, nil
	}
	if len(fields) != 5 {
		return Header{}, fmt.Errorf("proxyproto: v1 header %q: want PROTO SRC DST SPORT DPORT", line)
	}
	var want6 bool
	switch fields[0] {
	case "TCP4":
	case "TCP6":
		want6 = true
	default:
		return Header{}, fmt.Errorf("proxyproto: v1 header: unknown protocol %q", fields[0])
	}
	src, err1 := parseV1Addr(fields[1], fields[3], want6)
	dst, err2 := parseV1Addr(fields[2], fields[4], want6)
	if err := errors.Join(err1, err2); err != nil {
		return Header{}, err
	}
	h.Source, h.Destination = src, dst
	return h, nil
}

func parseV1Addr(ip, port string, want6 bool) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" || a.Is4() == want6 {
		return netip.AddrPort{}, fmt.Errorf("proxyproto: v1 header: bad address %q", ip)
	}
	// Ports are decimal without sign or leading zeros, 0..65535.
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (len(port) > 1 && port[0] == '0') || port[0] == '+' {
		return netip.AddrPort{}, fmt.Errorf("proxyproto: v1 header: bad port %q", port)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// splitSpaces splits on single spaces, as the spec writes them; runs of
// spaces give empty fields and so a malformed header.
func splitSpaces(s string) []string {
	var out []string
	for {
		i := bytes.IndexByte([]byte(s), ' ')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

func readV2(r *bufio.Reader) (Header, error) {
	b, err := r.Peek(16)
	if err != nil {
		if !bytes.HasPrefix(v2Signature, b[:min(len(b), len(v2Signature))]) {
			return Header{}, ErrNotProxy
		}
		return Header{}, fmt.Errorf("proxyproto: v2 header: %w", err)
	}
	if !bytes.Equal(b[:12], v2Signature) {
		return Header{}, ErrNotProxy
	}
	verCmd, famProto := b[12], b[13]
	length := int(binary.BigEndian.Uint16(b[14:16]))
	if verCmd>>4 != 2 {
		return Header{}, fmt.Errorf("proxyproto: v2 header: version %d", verCmd>>4)
	}
	if length > v2MaxPayload {
		return Header{}, fmt.Errorf("proxyproto: v2 header: %d bytes of addresses and TLVs, at most %d accepted", length, v2MaxPayload)
	}
	full, err := r.Peek(16 + length)
	if err != nil {
		return Header{}, fmt.Errorf("proxyproto: v2 header: %w", err)
	}
	h, err := parseV2(verCmd&0xf, famProto, full[16:])
	if err != nil {
		return Header{}, err
	}
	_, _ = r.Discard(16 + length)
	return h, nil
}

func parseV2(cmd, famProto byte, payload []byte) (Header, error) {
	h := Header{Version: 2}
	switch cmd {
	case 0x0: // LOCAL: health checks and the like from the balancer itself
		h.Local = true
		return h, nil
	case 0x1: // PROXY
	default:
		return Header{}, fmt.Errorf("proxyproto: v2 header: unknown command %#x", cmd)
	}
	var n int
	switch famProto >> 4 {
	case 0x1: // AF_INET
		n = 4
	case 0x2: // AF_INET6
		n = 16
	default: // AF_UNSPEC, AF_UNIX: no IP to report
		h.Local = true
		return h, nil
	}
	if len(payload) < 2*n+4 {
		return Header{}, fmt.Errorf("proxyproto: v2 header: %d bytes of addresses, want at least %d", len(payload), 2*n+4)
	}
	src, _ := netip.AddrFromSlice(payload[:n])
	dst, _ := netip.AddrFromSlice(payload[n : 2*n])
	h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(payload[2*n:]))
	h.Destination = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(payload[2*n+2:]))
	return h, nil
}
