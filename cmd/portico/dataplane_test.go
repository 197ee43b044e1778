package main

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestDataplaneFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    []netip.Prefix
		h2c     bool
		pp      bool
		log     bool
		wantErr string
	}{
		{"defaults", nil, nil, false, false, true, ""},
		{"all set", []string{"--h2c", "--proxy-protocol", "--access-log=false", "--trusted-proxies", "10.0.0.0/8, 192.168.1.7,2001:db8::/32"},
			[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("2001:db8::/32")}, true, true, false, ""},
		{"CIDR is masked", []string{"--trusted-proxies", "10.1.2.3/8"}, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false, false, true, ""},
		{"garbage", []string{"--trusted-proxies", "10.0.0.0/8,nope"}, nil, false, false, true, `--trusted-proxies: "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.dp.trustedProxies, tc.want) || c.dp.h2c != tc.h2c || c.dp.proxyProtocol != tc.pp || c.dp.accessLog != tc.log {
				t.Errorf("got %+v", c.dp)
			}
		})
	}
}

// TestServerAnswers431 proves the listeners' limit on header size: Go's
// server answers 431 itself once MaxHeaderBytes (plus its 4 KiB slack) is
// passed, before any handler runs.
func TestServerAnswers431(t *testing.T) {
	t.Parallel()
	var ran atomic.Bool
	srv := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran.Store(true) }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	for _, tc := range []struct {
		size int
		want int
	}{{1 << 10, 200}, {srv.MaxHeaderBytes + 8<<10, 431}} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", tc.size) + "\r\n\r\n"))
		}()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%d-byte header: %v", tc.size, err)
		}
		resp.Body.Close()
		c.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%d-byte header: status %d, want %d", tc.size, resp.StatusCode, tc.want)
		}
	}
	if !ran.Load() {
		t.Error("the small request never reached the handler")
	}
}
