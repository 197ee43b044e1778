package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// v2 builds a version 2 header.
func v2(cmd, fam byte, payload []byte) []byte {
	b := append([]byte(nil), v2Signature...)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	return append(b, payload...)
}

func v2Payload4(src, dst string, sport, dport uint16, tlv []byte) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	return append(b, tlv...)
}

func TestRead(t *testing.T) {
	t.Parallel()
	src6, dst6 := netip.MustParseAddr("2001:db8::1").As16(), netip.MustParseAddr("2001:db8::2").As16()
	p6 := append(append(src6[:], dst6[:]...), 0x30, 0x39, 0x01, 0xbb)
	tests := []struct {
		name    string
		in      string
		want    Header
		wantErr bool
		rest    string // what must remain for the application
	}{
		{"v1 TCP4", "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\nGET /", Header{Version: 1,
			Source: netip.MustParseAddrPort("203.0.113.7:56324"), Destination: netip.MustParseAddrPort("10.0.0.1:443")}, false, "GET /"},
		{"v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 12345 80\r\n", Header{Version: 1,
			Source: netip.MustParseAddrPort("[2001:db8::1]:12345"), Destination: netip.MustParseAddrPort("[2001:db8::2]:80")}, false, ""},
		{"v1 UNKNOWN", "PROXY UNKNOWN\r\nx", Header{Version: 1, Local: true}, false, "x"},
		{"v1 UNKNOWN with addresses", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", Header{Version: 1, Local: true}, false, ""},
		{"v1 family mismatch", "PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n", Header{}, true, ""},
		{"v1 bad port", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n", Header{}, true, ""},
		{"v1 leading zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n", Header{}, true, ""},
		{"v1 missing field", "PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n", Header{}, true, ""},
		{"v1 double space", "PROXY TCP4  1.2.3.4 5.6.7.8 1 80\r\n", Header{}, true, ""},
		{"v1 LF only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 80\n", Header{}, true, ""},
		{"v1 too long", "PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n", Header{}, true, ""},
		{"v1 truncated", "PROXY TCP4 1.2.3.4", Header{}, true, ""},
		{"v2 TCP4 with TLV", string(v2(1, 0x11, v2Payload4("198.51.100.9", "10.0.0.1", 40000, 443, []byte{0x04, 0x00, 0x01, 0xff}))) + "rest",
			Header{Version: 2, Source: netip.MustParseAddrPort("198.51.100.9:40000"), Destination: netip.MustParseAddrPort("10.0.0.1:443")}, false, "rest"},
		{"v2 TCP6", string(v2(1, 0x21, p6)), Header{Version: 2,
			Source: netip.MustParseAddrPort("[2001:db8::1]:12345"), Destination: netip.MustParseAddrPort("[2001:db8::2]:443")}, false, ""},
		{"v2 LOCAL", string(v2(0, 0x00, nil)) + "z", Header{Version: 2, Local: true}, false, "z"},
		{"v2 UNIX is treated as local", string(v2(1, 0x31, make([]byte, 216))), Header{Version: 2, Local: true}, false, ""},
		{"v2 short addresses", string(v2(1, 0x11, []byte{1, 2, 3})), Header{}, true, ""},
		{"v2 bad version", string(append(append([]byte(nil), v2Signature...), 0x11, 0x11, 0, 0)), Header{}, true, ""},
		{"v2 bad command", string(v2(7, 0x11, v2Payload4("1.1.1.1", "2.2.2.2", 1, 2, nil))), Header{}, true, ""},
		{"v2 oversized", string(v2(1, 0x11, make([]byte, 5000))), Header{}, true, ""},
		{"v2 truncated", string(v2(1, 0x11, v2Payload4("1.1.1.1", "2.2.2.2", 1, 2, nil)))[:20], Header{}, true, ""},
		{"plain HTTP is not PROXY", "GET / HTTP/1.1\r\n", Header{}, true, ""},
		{"almost v1", "PROXZ TCP4\r\n", Header{}, true, ""},
		{"empty", "", Header{}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := bufio.NewReader(strings.NewReader(tc.in))
			h, err := Read(r)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Read: %+v, %v; want error %v", h, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if h != tc.want {
				t.Errorf("got %+v, want %+v", h, tc.want)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != tc.rest {
				t.Errorf("left %q for the application, want %q", rest, tc.rest)
			}
		})
	}
}

// FuzzProxyProtocol checks that no input panics, that a header never
// needs bytes past its end, and that accepted v1 headers re-encode to what was read.
func FuzzProxyProtocol(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 12345 80\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(1, 0x11, v2Payload4("198.51.100.9", "10.0.0.1", 40000, 443, []byte{1, 0, 2, 'h', '2'})))
	f.Add(v2(0, 0, nil))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const tail = "TAIL"
		data := append(append([]byte(nil), in...), tail...)
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		h, err := Read(r)
		if err != nil {
			return
		}
		rest, _ := io.ReadAll(r)
		consumed := data[:len(data)-len(rest)]
		// Self-delimiting: the consumed bytes alone give the same header,
		// so nothing after the header was needed (or taken).
		h2, err := Read(bufio.NewReader(bytes.NewReader(consumed)))
		if err != nil || h2 != h {
			t.Fatalf("header %q read from %q alone gives %+v, %v; want %+v", consumed, data, h2, err, h)
		}
		if h.Version == 1 && !h.Local {
			proto := "TCP4"
			if h.Source.Addr().Is6() {
				proto = "TCP6"
			}
			enc := "PROXY " + proto + " " + h.Source.Addr().String() + " " + h.Destination.Addr().String() + " " +
				itoa(h.Source.Port()) + " " + itoa(h.Destination.Port()) + "\r\n"
			if enc != string(consumed) {
				t.Fatalf("accepted %q but it means %q", consumed, enc)
			}
		}
		if !h.Local && (!h.Source.IsValid() || !h.Destination.IsValid()) {
			t.Fatalf("accepted %q with invalid addresses %+v", consumed, h)
		}
	})
}

func itoa(p uint16) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[len("0.0.0.0:"):]
}

func TestListenerServesHTTPWithTheHeadersClient(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var bad []error
	pl := &Listener{Listener: ln, Timeout: time.Second, OnError: func(_ net.Addr, err error) { bad = append(bad, err) }}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RemoteAddr)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(pl) }()
	t.Cleanup(func() { _ = srv.Close() })

	send := func(prefix string) (string, error) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(c, prefix+"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if got, err := send("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n"); err != nil || got != "203.0.113.7:56324" {
		t.Errorf("v1: RemoteAddr %q, %v; want 203.0.113.7:56324", got, err)
	}
	if got, err := send(string(v2(1, 0x11, v2Payload4("198.51.100.9", "10.0.0.1", 40000, 443, nil)))); err != nil || got != "198.51.100.9:40000" {
		t.Errorf("v2: RemoteAddr %q, %v; want 198.51.100.9:40000", got, err)
	}
	if got, err := send(string(v2(0, 0, nil))); err != nil || !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("v2 LOCAL: RemoteAddr %q, %v; want the socket's peer", got, err)
	}
	if got, err := send(""); err == nil {
		t.Errorf("no header: got an answer %q; want the connection refused", got)
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
		t.Logf("no header: %v", err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}
