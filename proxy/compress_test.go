package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"portico.dev/portico/router"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		ae   []string
		zstd bool
		want encoding
	}{
		{nil, true, encIdentity},
		{[]string{""}, true, encIdentity},
		{[]string{"gzip"}, true, encGzip},
		{[]string{"GZIP"}, true, encGzip},
		{[]string{"x-gzip"}, true, encGzip},
		{[]string{"deflate, br"}, true, encIdentity},
		{[]string{"gzip, deflate, br, zstd"}, true, encZstd},
		{[]string{"gzip, deflate, br, zstd"}, false, encGzip},
		{[]string{"zstd"}, false, encIdentity},
		{[]string{"gzip;q=1.0, zstd;q=0.5"}, true, encGzip},
		{[]string{"gzip;q=0.5, zstd;q=0.8"}, true, encZstd},
		{[]string{"gzip;q=0"}, true, encIdentity},
		{[]string{"gzip; q=0.000"}, true, encIdentity},
		{[]string{"gzip;q=0.001"}, true, encGzip},
		{[]string{"*"}, true, encZstd},
		{[]string{"*"}, false, encGzip},
		{[]string{"*;q=0"}, true, encIdentity},
		{[]string{"*, gzip;q=0"}, false, encIdentity},
		{[]string{"*, zstd;q=0"}, true, encGzip},
		{[]string{"gzip;q=2"}, true, encIdentity},   // malformed q: not acceptable
		{[]string{"gzip;q=abc"}, true, encIdentity}, // malformed q
		{[]string{"identity"}, true, encIdentity},
		{[]string{"br", "gzip"}, true, encGzip}, // several header lines
		{[]string{" gzip ; q=0.7 , zstd;q=0.7"}, true, encZstd},
		{[]string{"gzip;level=1;q=0.3"}, true, encGzip},
	}
	for _, tt := range tests {
		if got := negotiate(tt.ae, tt.zstd); got != tt.want {
			t.Errorf("negotiate(%q, zstd %v) = %d, want %d", tt.ae, tt.zstd, got, tt.want)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0.5, zstd", "*;q=0", "x-gzip;q=1.000", ";;,,q=", "zstd;q=0.9999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := negotiate([]string{s}, true)
		if enc > encZstd {
			t.Fatalf("negotiate(%q) = %d", s, enc)
		}
		if negotiate([]string{s}, false) == encZstd {
			t.Fatalf("zstd chosen though not offered: %q", s)
		}
		if q := qValue(s); q < 0 || q > 1000 {
			t.Fatalf("qValue(%q) = %d", s, q)
		}
	})
}

func testCompress() *router.Compress {
	return &router.Compress{Level: 1, MinLength: 256, Zstd: true,
		Types: map[string]bool{"text/css": true, "application/json": true, "text/event-stream": true}}
}

func decode(t *testing.T, enc string, body []byte) string {
	t.Helper()
	var r io.Reader
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		return string(body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", enc, err)
	}
	return string(b)
}

func TestCompressEligibility(t *testing.T) {
	page := strings.Repeat("<p>hello, compressed world</p>\n", 64)
	tests := []struct {
		name    string
		method  string
		ae      string
		hdr     map[string]string // response headers
		status  int
		body    string
		chunked bool
		wantEnc string
		vary    bool
	}{
		{name: "html gzip", ae: "gzip", hdr: map[string]string{"Content-Type": "text/html"}, wantEnc: "gzip", vary: true},
		{name: "html zstd preferred", ae: "gzip, zstd", hdr: map[string]string{"Content-Type": "text/html; charset=utf-8"}, wantEnc: "zstd", vary: true},
		{name: "identity only", ae: "identity", hdr: map[string]string{"Content-Type": "text/html"}, vary: true},
		{name: "type not listed", ae: "gzip", hdr: map[string]string{"Content-Type": "image/png"}},
		{name: "no type", ae: "gzip", hdr: map[string]string{"Content-Type": ""}},
		{name: "already encoded", ae: "gzip", hdr: map[string]string{"Content-Type": "text/html", "Content-Encoding": "br"}},
		{name: "no-transform", ae: "gzip", hdr: map[string]string{"Content-Type": "text/html", "Cache-Control": "public, no-transform"}},
		{name: "too short", ae: "gzip", hdr: map[string]string{"Content-Type": "text/css"}, body: "a{}"},
		{name: "short but unknown length", ae: "gzip", hdr: map[string]string{"Content-Type": "text/css"}, body: "a{}", chunked: true,
			wantEnc: "gzip", vary: true},
		{name: "404 compressed", ae: "gzip", hdr: map[string]string{"Content-Type": "text/html"}, status: 404, wantEnc: "gzip", vary: true},
		{name: "500 not", ae: "gzip", hdr: map[string]string{"Content-Type": "text/html"}, status: 500},
		{name: "206 not", ae: "gzip", hdr: map[string]string{"Content-Type": "text/html", "Content-Range": "bytes 0-9/100"}, status: 206},
		{name: "HEAD not", method: http.MethodHead, ae: "gzip", hdr: map[string]string{"Content-Type": "text/html"}},
		{name: "existing vary kept", ae: "gzip", hdr: map[string]string{"Content-Type": "text/html", "Vary": "Origin"}, wantEnc: "gzip", vary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == "" {
				body = page
			}
			_, addr := backend(t, "b", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.hdr {
					w.Header().Set(k, v)
				}
				w.Header().Set("Etag", `"abc"`)
				if !tt.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				w.WriteHeader(max(tt.status, 200))
				if tt.chunked {
					w.(http.Flusher).Flush()
				}
				_, _ = io.WriteString(w, body)
			})
			f := newFixture(t, &router.Options{Compress: testCompress()}, Config{}, addr)
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			var hdr []string
			if tt.ae != "" {
				hdr = []string{"Accept-Encoding", tt.ae}
			}
			resp, got := f.do(t, method, "/", nil, hdr...)
			enc := resp.Header.Get("Content-Encoding")
			if tt.hdr["Content-Encoding"] == "" && enc != tt.wantEnc {
				t.Fatalf("Content-Encoding %q, want %q", enc, tt.wantEnc)
			}
			if hasToken(resp.Header.Values("Vary"), "Accept-Encoding") != tt.vary {
				t.Errorf("Vary %q, want Accept-Encoding: %v", resp.Header.Values("Vary"), tt.vary)
			}
			if tt.hdr["Vary"] != "" && !hasToken(resp.Header.Values("Vary"), "Origin") {
				t.Errorf("Vary %q lost Origin", resp.Header.Values("Vary"))
			}
			if tt.wantEnc == "" {
				if resp.Header.Get("Etag") != `"abc"` {
					t.Errorf("Etag %q", resp.Header.Get("Etag"))
				}
				return
			}
			if resp.Header.Get("Content-Length") != "" || resp.Header.Get("Etag") != `W/"abc"` {
				t.Errorf("Content-Length %q, Etag %q", resp.Header.Get("Content-Length"), resp.Header.Get("Etag"))
			}
			if d := decode(t, enc, []byte(got)); d != body {
				t.Errorf("decoded body %d bytes, want %d", len(d), len(body))
			}
			if tt.chunked == false && len(got) >= len(body) {
				t.Errorf("compressed %d bytes into %d", len(body), len(got))
			}
		})
	}
}

// TestCompressStreams: each upstream write reaches the client at once,
// compressed (server-sent events are not held back).
func TestCompressStreams(t *testing.T) {
	next := make(chan struct{})
	_, addr := backend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			_, _ = io.WriteString(w, "data: event "+strconv.Itoa(i)+"\n\n")
			w.(http.Flusher).Flush()
			<-next
		}
	})
	f := newFixture(t, &router.Options{Compress: testCompress()}, Config{}, addr)
	req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(zr)
	for i := range 3 {
		done := make(chan string, 1)
		go func() { l, _ := br.ReadString('\n'); _, _ = br.ReadString('\n'); done <- l }()
		select {
		case l := <-done:
			if l != "data: event "+strconv.Itoa(i)+"\n" {
				t.Fatalf("event %d: %q", i, l)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d held back", i)
		}
		next <- struct{}{}
	}
}

// TestCompressOffNoAllocs: a route without compression pays nothing in
// modifyResponse.
func TestCompressOffNoAllocs(t *testing.T) {
	c := &call{route: &router.Route{Options: &router.Options{}}}
	resp := &http.Response{Header: http.Header{"Content-Type": {"text/html"}}, StatusCode: 200}
	if n := testing.AllocsPerRun(100, func() { _ = c.modifyResponse(resp) }); n != 0 {
		t.Errorf("modifyResponse without compression: %v allocs", n)
	}
}

func benchCompress(b *testing.B, ae string) {
	page := bytes.Repeat([]byte("<div class=\"row\"><span>Portico benchmark text, somewhat repetitive.</span></div>\n"), 16<<10/80)
	cp := testCompress()
	in := &http.Request{Method: "GET", Header: http.Header{"Accept-Encoding": {ae}}}
	c := &call{in: in, route: &router.Route{Options: &router.Options{Compress: cp}}}
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		resp := &http.Response{StatusCode: 200, ContentLength: int64(len(page)),
			Header: http.Header{"Content-Type": {"text/html"}}, Body: io.NopCloser(bytes.NewReader(page))}
		c.compress(cp, resp)
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}

func BenchmarkCompressGzip(b *testing.B) { benchCompress(b, "gzip") }
func BenchmarkCompressZstd(b *testing.B) { benchCompress(b, "zstd") }

// TestCompressBody: the reader gives the whole stream whatever the
// upstream's read sizes, passes upstream errors on, and can be reused.
func TestCompressBody(t *testing.T) {
	text := strings.Repeat("portico compresses streams; ", 40000) // ~1 MiB
	var cb compressBody
	for _, enc := range []encoding{encGzip, encZstd, encGzip} {
		for _, tc := range []struct {
			name string
			src  io.Reader
			want string
		}{
			{"large", strings.NewReader(text), text},
			{"small reads", iotest.HalfReader(strings.NewReader(text[:5000])), text[:5000]},
		} {
			cb.start(io.NopCloser(tc.src), enc, 6)
			got, err := io.ReadAll(&cb)
			if err != nil {
				t.Fatal(err)
			}
			cb.Close()
			name := map[encoding]string{encGzip: "gzip", encZstd: "zstd"}[enc]
			if d := decode(t, name, got); d != tc.want {
				t.Errorf("%s %s: decoded %d bytes, want %d", name, tc.name, len(d), len(tc.want))
			}
		}
	}
	boom := errors.New("upstream reset")
	cb.start(io.NopCloser(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom))), encGzip, 1)
	if _, err := io.ReadAll(&cb); !errors.Is(err, boom) {
		t.Errorf("error %v, want %v", err, boom)
	}
	cb.Close()
	if err := cb.Close(); err != nil { // a second Close is harmless
		t.Error(err)
	}
}

// At most maxLiveEncoders responses are compressed at once (each holds an
// encoder of about a megabyte while it streams); past it they go out
// uncompressed, still with Vary, and an encoder is released when its
// response ends (found in review).
func TestCompressBounded(t *testing.T) {
	body := strings.Repeat("bounded ", 1000)
	_, addr := backend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, body)
	})
	f := newFixture(t, &router.Options{Compress: testCompress()}, Config{}, addr)
	get := func() string {
		resp, _ := f.do(t, "GET", "/", nil, "Accept-Encoding", "gzip")
		if resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Vary %q", resp.Header.Get("Vary"))
		}
		return resp.Header.Get("Content-Encoding")
	}
	before := liveEncoders.used.Load()
	if ce := get(); ce != "gzip" || liveEncoders.used.Load() != before {
		t.Fatalf("Content-Encoding %q, encoders in use %d then %d", ce, before, liveEncoders.used.Load())
	}
	liveEncoders.used.Add(maxLiveEncoders)
	ce := get()
	liveEncoders.used.Add(-maxLiveEncoders)
	if ce != "" {
		t.Errorf("at the bound: Content-Encoding %q, want none", ce)
	}
}
