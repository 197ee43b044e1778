package h1

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Regression tests for the data-plane audit (issue 16).

// The header is frozen when the handler calls WriteHeader, as in net/http:
// changing the map afterwards cannot make the framing on the wire disagree
// with what the server enforces. (Failed before the fix: a Content-Length
// deleted after WriteHeader went out missing, or a changed one went out
// changed, while 5 bytes were enforced; the body then ran into the next
// response.)
func TestHeaderFrozenAtWriteHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(http.Header)
	}{
		{"Content-Length deleted", func(h http.Header) { delete(h, "Content-Length") }},
		{"Content-Length changed", func(h http.Header) { h.Set("Content-Length", "2") }},
		{"Transfer-Encoding added", func(h http.Header) { h.Set("Transfer-Encoding", "chunked") }},
		{"Connection close added", func(h http.Header) { h.Set("Connection", "close") }},
		{"header cleared", func(h http.Header) { clear(h) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "5")
				w.Header().Set("X-Before", "1")
				w.WriteHeader(http.StatusOK)
				tc.change(w.Header())
				w.Header().Set("X-After", "1")
				_, _ = io.WriteString(w, "hello")
			}))
			c := ts.dial(t)
			c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			r := c.read("GET")
			if r.wire.Get("Content-Length") != "5" || r.body != "hello" {
				t.Fatalf("wire Content-Length %q body %q, want 5 and hello", r.wire.Get("Content-Length"), r.body)
			}
			if r.wire.Get("X-Before") != "1" || r.wire.Get("X-After") != "" {
				t.Errorf("header sent is not the one at WriteHeader: %v", r.wire)
			}
			c.expectOpen()
		})
	}
}

// A Trailer declared after the first write (which sent the header, in
// effect) is too late, as in net/http: the small body keeps its length and
// the fields set afterwards go nowhere.
func TestTrailerDeclaredAfterWriteHeader(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "body")
		w.Header().Set("Trailer", "X-T")
		w.Header().Set("X-T", "v")
	}))
	c := ts.dial(t)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	r := c.read("GET")
	if r.body != "body" || r.wire.Get("Content-Length") != "4" || len(r.TransferEncoding) > 0 || len(r.Trailer) > 0 || r.wire.Get("Trailer") != "" {
		t.Fatalf("got body %q header %v trailers %v; want body with Content-Length 4 and nothing else", r.body, r.wire, r.Trailer)
	}
	c.expectOpen()
}

// A handler that leaves a goroutine reading the body (as a transport does
// when the backend answered first) must not let a client that stops
// sending hold the connection after the response: the read is bounded by
// the idle timeout. (Failed before the fix: finishing the request waited
// on that read forever.)
func TestStalledBodyReadElsewhereIsBounded(t *testing.T) {
	t.Parallel()
	reading := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		go func() {
			close(reading)
			_, _ = io.Copy(io.Discard, r.Body)
		}()
		<-reading
		time.Sleep(10 * time.Millisecond) // the goroutine is blocked in Read
		_, _ = io.WriteString(w, "early")
	}), func(s *Server) { s.IdleTimeout = 300 * time.Millisecond })
	c := ts.dial(t)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
	if r := c.read("POST"); r.body != "early" {
		t.Fatalf("body %q", r.body)
	}
	start := time.Now()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.closed(); err != nil {
		t.Fatalf("%v after %s", err, time.Since(start).Round(time.Millisecond))
	}
	waitNoConns(t, ts.Server)
}

// An error page h1 writes itself has a fixed body, the status text: it
// never repeats what the client sent. (Failed before the fix: a 400 said
// `Bad Request: malformed HTTP request "<script>..."`, the parser's error
// with the client's bytes in it.)
func TestRefusalBodyIsFixed(t *testing.T) {
	t.Parallel()
	const marker = "<script>M4RK3R</script>"
	big := strings.Repeat("a", 8<<10)
	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"request line without spaces", marker + "\r\n\r\n", 400},
		{"invalid method", "G" + marker + " / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"malformed version", "GET / HTTP/" + marker + "\r\nHost: x\r\n\r\n", 400},
		{"invalid URL escape", "GET /%zz" + marker + " HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"header line without a colon", "GET / HTTP/1.1\r\nHost: x\r\n" + marker + "\r\n\r\n", 400},
		{"invalid Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + marker + "\r\n\r\n", 400},
		{"malformed Host", "GET / HTTP/1.1\r\nHost: " + marker + "\r\n\r\n", 400},
		{"header too large", "GET /" + marker + " HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", 431},
		{"unknown Expect", "POST / HTTP/1.1\r\nHost: x\r\nExpect: " + marker + "\r\n\r\n", 417},
		{"unknown transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + marker + "\r\n\r\n", 501},
		{"HTTP/2.0 request line", "GET /" + marker + " HTTP/2.0\r\nHost: x\r\n\r\n", 505},
	}
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("handler ran for %q", r.RequestURI)
	}), func(s *Server) { s.MaxHeaderBytes = 1024 })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ts.dial(t)
			c.send(tt.req)
			r := c.read("GET")
			if r.StatusCode != tt.status || r.body != http.StatusText(tt.status) {
				t.Errorf("got %d %q, want %d %q", r.StatusCode, r.body, tt.status, http.StatusText(tt.status))
			}
			c.expectClosed()
		})
	}
}

// RFC 9112, section 5.2: obs-fold (a field line that starts with a space
// or tab continues the one before) may be refused with 400. net/http
// joins the lines; a proxy in front or a backend behind may not, and then
// they disagree on the field. (Failed before the fix: every folded input
// was served, the lines joined.)
func TestObsFoldRefused(t *testing.T) {
	t.Parallel()
	long := "X-Long: " + strings.Repeat("l", 6000) + "\r\n" // over the read buffer
	tests := []struct {
		name   string
		req    string // "|" splits it into writes
		status int
	}{
		{"space", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400},
		{"tab", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400},
		{"blank continuation", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n \r\n\r\n", 400},
		{"bare LF", "GET / HTTP/1.1\nHost: x\nX-A: a\n b\n\n", 400},
		{"Host", "GET / HTTP/1.1\r\nHost: a\r\n .example\r\n\r\n", 400},
		{"Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
		{"first field line", "GET / HTTP/1.1\r\n X-A: a\r\nHost: x\r\n\r\n", 400},
		{"in pieces", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n| b\r\n\r\n", 400},
		{"after a long field", "GET / HTTP/1.1\r\nHost: x\r\n" + long + "X-A: a\r\n b\r\n\r\n", 400},
		{"none", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a b\r\n\r\n", 200},
		{"none, in pieces", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n|X-B: b\r\n\r\n", 200},
		{"none, after a long field", "GET / HTTP/1.1\r\nHost: x\r\n" + long + "X-A: a\r\n\r\n", 200},
		{"space in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A:  a\r\n\r\n", 200},
	}
	var calls recorder
	ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) { calls.add(r.Header.Get("X-A")) }))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ts.dial(t)
			for i, part := range strings.Split(tt.req, "|") {
				if i > 0 {
					time.Sleep(20 * time.Millisecond) // the server reads the first part alone
				}
				c.send(part)
			}
			r := c.read("GET")
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.status)
			}
			if tt.status == 200 {
				c.expectOpen()
			} else {
				c.expectClosed()
			}
		})
	}
	t.Cleanup(func() {
		// Only the served requests reached the handler.
		for _, v := range calls.get() {
			if strings.Contains(v, "b") && v != "a b" {
				t.Errorf("handler saw a folded value %q", v)
			}
		}
	})
}

// RFC 9112, section 3.2: an HTTP/1.1 request needs one valid Host field,
// which may be empty, whatever the form of its target; with an
// absolute-form target, the target's authority is the host (section
// 3.2.2). (Failed before the fix: an absolute-form target without a Host
// field, or with an invalid one, was served: the check went by the
// target's authority; an empty Host was refused.)
func TestHostField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		req    string
		status int
		host   string // Request.Host, when served
	}{
		{"absolute-form without Host", "GET http://a.example/x HTTP/1.1\r\n\r\n", 400, ""},
		{"absolute-form with an invalid Host", "GET http://a.example/x HTTP/1.1\r\nHost: a\"b\r\n\r\n", 400, ""},
		{"absolute-form with another Host", "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n", 200, "a.example"},
		{"absolute-form with an empty Host", "GET http://a.example/x HTTP/1.1\r\nHost:\r\n\r\n", 200, "a.example"},
		{"absolute-form with a port", "GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", 200, "a.example:8080"},
		{"absolute-form without authority", "GET http:///x HTTP/1.1\r\nHost: b.example\r\n\r\n", 200, "b.example"},
		{"absolute-form on HTTP/1.0 without Host", "GET http://a.example/x HTTP/1.0\r\n\r\n", 200, "a.example"},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 200, ""},
		{"blank Host", "GET / HTTP/1.1\r\nHost:   \r\n\r\n", 200, ""},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, ""},
		{"missing Host on HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", 200, ""},
		{"CONNECT without Host", "CONNECT a.example:443 HTTP/1.1\r\n\r\n", 200, "a.example:443"},
		{"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a.example\r\n\r\n", 400, ""},
		{"IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200, "[::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var seen recorder
			ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen.add(r.Host + " " + strings.Join(r.Header["Host"], ",")) // no field: Request.Host is the host
			}))
			c := ts.dial(t)
			c.send(tt.req)
			r := c.read("GET")
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.status)
			}
			want := ""
			if tt.status == 200 {
				want = tt.host + " "
			}
			if got := seen.String(); got != want {
				t.Errorf("handler saw Host and field %q, want %q", got, want)
			}
		})
	}
}

// The Expect field (RFC 9110, section 10.1.1): empty members expect
// nothing; 100-continue, however often, gets a 100 Continue when the body
// is read; any other member is a 417. (Failed before the fix: an empty
// Expect field was a 417, as was 100-continue sent twice.)
func TestExpectField(t *testing.T) {
	t.Parallel()
	const (
		none    = iota // the final response comes without a 100 Continue
		cont           // 100 Continue, then the final response
		refused        // 417
	)
	tests := []struct {
		name   string
		fields string
		want   int
	}{
		{"empty", "Expect:\r\n", none},
		{"blank", "Expect:   \r\n", none},
		{"empty members", "Expect: , ,\r\n", none},
		{"100-continue", "Expect: 100-continue\r\n", cont},
		{"upper case", "Expect: 100-CONTINUE\r\n", cont},
		{"twice in a list", "Expect: 100-continue, 100-continue\r\n", cont},
		{"in two fields", "Expect: 100-continue\r\nExpect: 100-continue\r\n", cont},
		{"with an empty field", "Expect:\r\nExpect: 100-continue\r\n", cont},
		{"other", "Expect: foo\r\n", refused},
		{"100-continue and other", "Expect: 100-continue, foo\r\n", refused},
		{"with a parameter", "Expect: 100-continue;a=b\r\n", refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				_, _ = w.Write(b)
			}))
			c := ts.dial(t)
			head := "POST / HTTP/1.1\r\nHost: x\r\n" + tt.fields + "Content-Length: 5\r\n\r\n"
			switch tt.want {
			case cont:
				c.send(head)
				if r := c.read("POST"); r.StatusCode != http.StatusContinue {
					t.Fatalf("got %d before the body, want 100", r.StatusCode)
				}
				c.send("hello")
			default:
				c.send(head + "hello")
			}
			r := c.read("POST")
			if tt.want == refused {
				if r.StatusCode != http.StatusExpectationFailed {
					t.Fatalf("got %d, want 417", r.StatusCode)
				}
				c.expectClosed()
				return
			}
			if r.StatusCode != 200 || r.body != "hello" {
				t.Fatalf("got %d %q, want 200 \"hello\"", r.StatusCode, r.body)
			}
			c.expectOpen()
		})
	}
}

// RFC 9112, section 2.2: a few empty lines before a request line are
// ignored, on a new connection and between requests (a client may end a
// body with an extra CRLF); more than four, or a bare CR, are a 400.
// (Failed before the fix: any empty line before a request line was a 400.)
func TestLeadingEmptyLines(t *testing.T) {
	t.Parallel()
	post := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
	tests := []struct {
		name   string
		req    string // "|" splits it into writes
		status []int  // of the responses before the GET /alive
	}{
		{"CRLF first", "\r\n" + get, []int{200}},
		{"two CRLFs first", "\r\n\r\n" + get, []int{200}},
		{"LF first", "\n" + get, []int{200}},
		{"four CRLFs", strings.Repeat("\r\n", 4) + get, []int{200}},
		{"CRLF after a body", post + "\r\n" + get, []int{200, 200}},
		{"two CRLFs after a body", post + "\r\n\r\n" + get, []int{200, 200}},
		{"CRLF after a GET", get + "\r\n" + get, []int{200, 200}},
		{"CRLF alone, request later", get + "\r\n|" + get, []int{200, 200}},
		{"CR alone, LF later", get + "\r|\n" + get, []int{200, 200}},
		{"five CRLFs", strings.Repeat("\r\n", 5) + get, []int{400}},
		{"bare CR", "\r" + get, []int{400}},
		{"bare CR after a GET", get + "\r" + get, []int{200, 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			c := ts.dial(t)
			for i, part := range strings.Split(tt.req, "|") {
				if i > 0 {
					time.Sleep(20 * time.Millisecond) // the server waits for it
				}
				c.send(part)
			}
			for i, want := range tt.status {
				if r := c.read("GET"); r.StatusCode != want {
					t.Fatalf("response %d: status %d, want %d", i, r.StatusCode, want)
				}
			}
			if tt.status[len(tt.status)-1] == 200 {
				c.expectOpen()
			} else {
				c.expectClosed()
			}
		})
	}
}

// When the connection is to close after a response because of the
// request's body, the response says so, where that is known before its
// head goes out: a body whose read failed (a malformed chunk), and a body
// the handler left whose rest cannot be drained (over 256 KiB, malformed,
// or not arriving), which is drained before the head of a response
// finished by the handler's return. (Failed before the fix: each such
// response went out without Connection: close, and then the connection
// closed.)
func TestCloseIsAnnounced(t *testing.T) {
	t.Parallel()
	const req = "POST /%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	big := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", maxDrain+1024, strings.Repeat("b", maxDrain+1024))
	tests := []struct {
		name  string
		path  string // read: the handler reads the body; one: one byte of it; else none
		body  string // "|" splits it into writes
		close bool
	}{
		{"malformed chunk, read", "read", "5\r\nhelloXX0\r\n\r\n", true},
		{"chunk size overflow, read", "read", "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n", true},
		{"bare LF in chunk, read", "read", "5\nhello\n0\n\n", true},
		{"malformed chunk, unread", "none", "5\r\nhelloXX0\r\n\r\n", true},
		{"over 256 KiB, unread", "none", big, true},
		{"over 256 KiB, one byte read", "one", big, true},
		{"body stops, unread", "none", "5\r\nhel", true},
		{"small, read", "read", "5\r\nhello\r\n0\r\n\r\n", false},
		{"small, unread", "none", "5\r\nhello\r\n0\r\n\r\n", false},
		{"small, one byte read", "one", "5\r\nhello\r\n0\r\n\r\n", false},
		{"small, unread, in pieces", "none", "5\r\nhel|lo\r\n0\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/read":
					_, _ = io.Copy(io.Discard, r.Body)
				case "/one":
					_, _ = r.Body.Read(make([]byte, 1))
				}
				_, _ = io.WriteString(w, "ok")
			}))
			c := ts.dial(t)
			c.send(fmt.Sprintf(req, tt.path))
			sent := make(chan struct{})
			go func() { // the server may not read it all
				defer close(sent)
				for i, part := range strings.Split(tt.body, "|") {
					if i > 0 {
						time.Sleep(20 * time.Millisecond)
					}
					if _, err := io.WriteString(c.c, part); err != nil {
						return
					}
				}
			}()
			r := c.read("POST")
			if got := r.wire.Get("Connection") == "close"; r.StatusCode != 200 || got != tt.close {
				t.Fatalf("status %d, Connection %q; want 200, close=%v", r.StatusCode, r.wire.Get("Connection"), tt.close)
			}
			if tt.close {
				c.expectClosed()
			} else {
				<-sent // the next request follows the body
				c.expectOpen()
			}
		})
	}
}

// A HEAD response has the Content-Length a GET would get (RFC 9110,
// section 9.3.2): the declared one, or that of a small body the handler
// wrote in full, as net/http computes it; none when nothing was written
// (a proxy's HEAD response from a backend that sent no length) or the
// body is too large to be known. (Failed before the fix: a small body
// written for a HEAD gave no Content-Length.)
func TestHeadContentLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, want string // want: the Content-Length, "" none
	}{
		{"/small", "5"},
		{"/declared", "11"},
		{"/nothing", ""},
		{"/large", ""},
		{"/flushed", ""},
		{"/trailer", ""},
	}
	ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			_, _ = io.WriteString(w, "hello")
		case "/declared":
			w.Header().Set("Content-Length", "11")
		case "/large":
			_, _ = io.WriteString(w, strings.Repeat("x", smallBody+1))
		case "/flushed":
			_, _ = io.WriteString(w, "hello")
			w.(http.Flusher).Flush()
		case "/trailer":
			w.Header().Set("Trailer", "X-T")
			_, _ = io.WriteString(w, "hello")
		}
	}))
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			c := ts.dial(t)
			c.send("HEAD " + tt.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			r := c.read("HEAD")
			if got := r.wire.Get("Content-Length"); r.StatusCode != 200 || got != tt.want || r.body != "" {
				t.Fatalf("status %d, Content-Length %q, body %q; want 200, %q, none", r.StatusCode, got, r.body, tt.want)
			}
			c.expectOpen()
		})
	}
}
