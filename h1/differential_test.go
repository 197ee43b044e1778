package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDifferential serves each input of diffCorpus, a raw byte sequence
// from one client followed by a plain GET /follow, by h1 and by net/http's
// server with the same handler, and compares what came back: the status
// and framing of each response, whether it announced a close, what the
// handler saw of each request (or that it did not run), and whether
// /follow was answered (the connection stayed usable).
//
// Every difference is a bug to fix or is listed in deliberateDiffs with
// its reason, and a listed input must still differ, so the list says
// what is true. The same list is in docs/dataplane.md.
//
// The bodies of the servers' own refusals (4xx/5xx without the handler)
// are not compared, nor their framing: both end them with the close,
// and h1's text never repeats what the client sent (net/http's 400s do
// for some errors). Their status, and that the connection ends, are.
func TestDifferential(t *testing.T) {
	t.Parallel()
	// One log per server: a client port may be in use towards both.
	seenH1 := &seenLog{byConn: make(map[string][]seenRequest)}
	seenStd := &seenLog{byConn: make(map[string][]seenRequest)}

	portico := startServer(t, diffHandler(seenH1), func(s *Server) {
		s.MaxHeaderBytes = diffMaxHeader
		s.ReadHeaderTimeout, s.IdleTimeout = 2*time.Second, 2*time.Second
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	std := &http.Server{Handler: diffHandler(seenStd), MaxHeaderBytes: diffMaxHeader,
		ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second,
		DisableGeneralOptionsHandler: true, // OPTIONS * goes to the handler, as in h1
		ErrorLog:                     log.New(io.Discard, "", 0)}
	go func() { _ = std.Serve(ln) }()
	t.Cleanup(func() { _ = std.Close() })

	names := make(map[string]bool)
	for _, c := range diffCorpus {
		if names[c.name] {
			t.Fatalf("corpus name %q twice", c.name)
		}
		names[c.name] = true
	}
	for name := range deliberateDiffs {
		if !names[name] {
			t.Errorf("deliberateDiffs names %q, which is not in the corpus", name)
		}
	}

	// All exchanges at once, not one subtest each in parallel: -parallel
	// is GOMAXPROCS, and some exchanges end with a lingering close.
	type result struct{ h1, std exchange }
	results := make([]result, len(diffCorpus))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, c := range diffCorpus {
		for j, addr := range []string{portico.addr, ln.Addr().String()} {
			seen := seenH1
			if j == 1 {
				seen = seenStd
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				ex := runExchange(addr, c.in+diffFollow, seen)
				if j == 0 {
					results[i].h1 = ex
				} else {
					results[i].std = ex
				}
			}()
		}
	}
	wg.Wait()

	for i, c := range diffCorpus {
		t.Run(c.name, func(t *testing.T) {
			a, b := results[i].h1.String(), results[i].std.String()
			reason, deliberate := deliberateDiffs[c.name]
			switch {
			case deliberate && a == b:
				t.Errorf("listed as a deliberate difference (%s), but both servers now agree:\n%s", reason, a)
			case !deliberate && a != b:
				t.Errorf("input %q\nh1:\n%s\nnet/http:\n%s", c.in, a, b)
			case deliberate && testing.Verbose():
				t.Logf("deliberate (%s)\nh1:\n%s\nnet/http:\n%s", reason, a, b)
			}
		})
	}
}

// diffMaxHeader: both servers read at most this plus 4 KiB of a header.
const diffMaxHeader = 4096

// diffFollow is sent after every input: answered, it shows the
// connection stayed in step.
const diffFollow = "GET /follow HTTP/1.1\r\nHost: follow.example\r\n\r\n"

// seenRequest is what the handler saw of one request.
type seenRequest struct {
	Method, URI, Proto, Host string
	HostHeader               []string // Request.Header["Host"]: net/http removes it
	ContentLength            int64
	TransferEncoding         []string
	Header                   map[string][]string // selected fields, as the handler got them
	Body                     string
	BodyErr                  string
	Trailer                  map[string][]string
}

var diffFields = []string{"Content-Length", "Transfer-Encoding", "Expect", "Connection", "X-Test", "Trailer"}

type seenLog struct {
	mu     sync.Mutex
	byConn map[string][]seenRequest // by client address
}

func (l *seenLog) add(remote string, s seenRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byConn[remote] = append(l.byConn[remote], s)
}

// take returns and forgets what was seen on a connection that ended (its
// port may be used again).
func (l *seenLog) take(remote string) []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.byConn[remote]
	delete(l.byConn, remote)
	return s
}

// diffHandler records the request and answers "ok". On /noread it leaves
// the body unread.
func diffHandler(seen *seenLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seenRequest{Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Host: r.Host,
			HostHeader: r.Header["Host"], ContentLength: r.ContentLength,
			TransferEncoding: r.TransferEncoding, Header: make(map[string][]string)}
		for _, k := range diffFields {
			if v, ok := r.Header[k]; ok {
				s.Header[k] = v
			}
		}
		if r.URL.Path != "/noread" && r.Body != nil {
			b, err := io.ReadAll(r.Body)
			s.Body = string(b)
			if err != nil {
				s.BodyErr = err.Error()
			}
			if len(r.Trailer) > 0 {
				s.Trailer = r.Trailer
			}
		}
		seen.add(r.RemoteAddr, s)
		w.Header().Set("Content-Type", "text/plain") // net/http would sniff
		_, _ = io.WriteString(w, "ok")
	})
}

// exchange is one client connection's conversation.
type exchange struct {
	responses []string // one line per response, interim ones included
	calls     []seenRequest
	tail      string // what could not be read as a response
}

func (e exchange) String() string {
	var b strings.Builder
	for _, r := range e.responses {
		fmt.Fprintf(&b, "  response %s\n", r)
	}
	for _, c := range e.calls {
		fmt.Fprintf(&b, "  handler  %+v\n", c)
	}
	if e.tail != "" {
		fmt.Fprintf(&b, "  then     %s\n", e.tail)
	}
	return b.String()
}

// runExchange sends in on one connection, shuts the write side and reads
// all that comes back.
func runExchange(addr, in string, seen *seenLog) exchange {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return exchange{tail: "dial: " + err.Error()}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	go func() {
		_, _ = io.WriteString(c, in)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	out, err := io.ReadAll(c)
	var ex exchange
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		ex.tail = "read: " + err.Error()
	}
	// The handler is done with a request before its response ends; the
	// last response ends with the connection's close.
	ex.calls = seen.take(c.LocalAddr().String())
	ex.responses, ex.tail = parseResponses(out, ex.calls, ex.tail)
	return ex
}

// parseResponses describes the responses in out: the first ones answer
// the handler's calls, in order; one after those is a refusal.
func parseResponses(out []byte, calls []seenRequest, tail string) ([]string, string) {
	br := bufio.NewReader(bytes.NewReader(out))
	var lines []string
	final := 0
	for {
		if _, err := br.Peek(1); err != nil {
			return lines, tail
		}
		method, proto := http.MethodGet, ""
		if final < len(calls) {
			method, proto = calls[final].Method, calls[final].Proto
		}
		head, _ := peekHead(br)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			rest, _ := io.ReadAll(br)
			return lines, fmt.Sprintf("unreadable %q (%v) %s", truncate(rest, 60), err, tail)
		}
		body, berr := io.ReadAll(resp.Body)
		framing := "none"
		switch {
		case len(resp.TransferEncoding) > 0:
			framing = "chunked"
		case head.Get("Content-Length") != "":
			framing = "length " + head.Get("Content-Length")
		}
		// An HTTP/1.0 client's connection closes unless the response
		// says keep-alive (net/http does not say close to it).
		closes := hasToken(head["Connection"], "close")
		if proto == "HTTP/1.0" && !hasToken(head["Connection"], "keep-alive") {
			closes = true
		}
		switch {
		case resp.StatusCode < 200:
			lines = append(lines, fmt.Sprintf("%d interim", resp.StatusCode))
			continue
		case final < len(calls):
			lines = append(lines, fmt.Sprintf("%d %s body=%q close=%v", resp.StatusCode, framing, body, closes))
		default:
			// A refusal: its body and framing are the server's own.
			lines = append(lines, fmt.Sprintf("%d refusal close=%v", resp.StatusCode, closes))
		}
		if berr != nil {
			lines = append(lines, "body error "+berr.Error())
		}
		final++
	}
}

// peekHead parses the next response's header as it is on the wire.
func peekHead(br *bufio.Reader) (http.Header, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if err != nil {
			return http.Header{}, err
		}
		if bytes.HasSuffix(b, []byte("\r\n\r\n")) {
			h := make(http.Header)
			for _, line := range strings.Split(string(b), "\r\n")[1:] {
				if k, v, ok := strings.Cut(line, ":"); ok {
					h.Add(k, strings.TrimSpace(v))
				}
			}
			return h, nil
		}
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// diffCase is one raw input; diffFollow is sent after it.
type diffCase struct{ name, in string }

// Shorthands for building the corpus.
const (
	hostA   = "Host: a.example\r\n"
	post11  = "POST / HTTP/1.1\r\n" + hostA
	get11   = "GET / HTTP/1.1\r\n" + hostA + "\r\n"
	chunked = "Transfer-Encoding: chunked\r\n"
)

var bigChunked = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", maxDrain+1024, strings.Repeat("b", maxDrain+1024))

var diffCorpus = []diffCase{
	// Plain requests.
	{"get", get11},
	{"get-query", "GET /a/b?c=d&e HTTP/1.1\r\n" + hostA + "\r\n"},
	{"head", "HEAD / HTTP/1.1\r\n" + hostA + "\r\n"},
	{"head-then-get", "HEAD / HTTP/1.1\r\n" + hostA + "\r\n" + get11},
	{"options-star", "OPTIONS * HTTP/1.1\r\n" + hostA + "\r\n"},
	{"get-star", "GET * HTTP/1.1\r\n" + hostA + "\r\n"},
	{"lower-case-method", "get / HTTP/1.1\r\n" + hostA + "\r\n"},
	{"unknown-method", "FROB / HTTP/1.1\r\n" + hostA + "\r\n"},
	{"invalid-method", "G(T / HTTP/1.1\r\n" + hostA + "\r\n"},
	{"method-with-nul", "GE\x00T / HTTP/1.1\r\n" + hostA + "\r\n"},
	{"empty-method", " / HTTP/1.1\r\n" + hostA + "\r\n"},
	{"two-spaces-after-method", "GET  / HTTP/1.1\r\n" + hostA + "\r\n"},
	{"tab-separators", "GET\t/\tHTTP/1.1\r\n" + hostA + "\r\n"},
	{"missing-version", "GET /\r\n" + hostA + "\r\n"},
	{"lower-case-version", "GET / http/1.1\r\n" + hostA + "\r\n"},
	{"version-1.2", "GET / HTTP/1.2\r\n" + hostA + "\r\n"},
	{"version-1.10", "GET / HTTP/1.10\r\n" + hostA + "\r\n"},
	{"version-2.0", "GET / HTTP/2.0\r\n" + hostA + "\r\n"},
	{"version-0.9", "GET / HTTP/0.9\r\n" + hostA + "\r\n"},
	{"version-3", "GET / HTTP/3.0\r\n" + hostA + "\r\n"},
	{"h2-preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	{"garbage", "HELLO\r\n\r\n"},
	{"tls-client-hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"},
	{"nothing", ""},
	{"only-crlfs", "\r\n\r\n\r\n\r\n\r\n\r\n"},

	// Request targets.
	{"target-absolute", "GET http://a.example/x HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-absolute-https", "GET https://a.example/x HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-absolute-port", "GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example:8080\r\n\r\n"},
	{"target-absolute-other-host", "GET http://b.example/x HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-absolute-no-host", "GET http://a.example/x HTTP/1.1\r\n\r\n"},
	{"target-absolute-empty-host", "GET http://a.example/x HTTP/1.1\r\nHost:\r\n\r\n"},
	{"target-absolute-invalid-host", "GET http://a.example/x HTTP/1.1\r\nHost: a\"b\r\n\r\n"},
	{"target-absolute-userinfo", "GET http://u:p@a.example/x HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-absolute-empty-authority", "GET http:///x HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-absolute-no-path", "GET http://a.example HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-absolute-ftp", "GET ftp://a.example/x HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-absolute-ipv6", "GET http://[::1]:80/x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"},
	{"target-absolute-http10-no-host", "GET http://a.example/x HTTP/1.0\r\n\r\n"},
	{"target-network-path", "GET //b.example/x HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-no-slash", "GET a.example/x HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-fragment", "GET /x#frag HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-percent", "GET /a%20b%2F HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-bad-escape", "GET /%zz HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-nul", "GET /\x00 HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-ctl", "GET /\x01 HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-utf8", "GET /\xc3\xa9 HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-dot-segments", "GET /a/../../b HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-long", "GET /" + strings.Repeat("a", 3000) + " HTTP/1.1\r\n" + hostA + "\r\n"},
	{"target-too-long", "GET /" + strings.Repeat("a", 10000) + " HTTP/1.1\r\n" + hostA + "\r\n"},
	{"connect", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"},
	{"connect-no-host", "CONNECT a.example:443 HTTP/1.1\r\n\r\n"},
	{"connect-path", "CONNECT /x HTTP/1.1\r\n" + hostA + "\r\n"},

	// Host.
	{"host-missing", "GET / HTTP/1.1\r\n\r\n"},
	{"host-missing-http10", "GET / HTTP/1.0\r\n\r\n"},
	{"host-empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
	{"host-empty-spaces", "GET / HTTP/1.1\r\nHost:   \r\n\r\n"},
	{"host-empty-http10", "GET / HTTP/1.0\r\nHost:\r\n\r\n"},
	{"host-duplicate-same", "GET / HTTP/1.1\r\n" + hostA + hostA + "\r\n"},
	{"host-duplicate-different", "GET / HTTP/1.1\r\n" + hostA + "Host: b.example\r\n\r\n"},
	{"host-duplicate-one-empty", "GET / HTTP/1.1\r\n" + hostA + "Host:\r\n\r\n"},
	{"host-userinfo", "GET / HTTP/1.1\r\nHost: u@a.example\r\n\r\n"},
	{"host-port", "GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n"},
	{"host-port-only", "GET / HTTP/1.1\r\nHost: :8080\r\n\r\n"},
	{"host-empty-port", "GET / HTTP/1.1\r\nHost: a.example:\r\n\r\n"},
	{"host-bad-port", "GET / HTTP/1.1\r\nHost: a.example:x\r\n\r\n"},
	{"host-ipv4", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
	{"host-ipv6", "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"},
	{"host-ipv6-port", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
	{"host-ipv6-unbracketed", "GET / HTTP/1.1\r\nHost: ::1\r\n\r\n"},
	{"host-ipv6-zone", "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n"},
	{"host-space-inside", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
	{"host-slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"},
	{"host-backslash", "GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n"},
	{"host-quote", "GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n"},
	{"host-angle", "GET / HTTP/1.1\r\nHost: a<b>\r\n\r\n"},
	{"host-utf8", "GET / HTTP/1.1\r\nHost: \xc3\xa9.example\r\n\r\n"},
	{"host-tab-inside", "GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n"},
	{"host-upper-case", "GET / HTTP/1.1\r\nHost: A.EXAMPLE\r\n\r\n"},
	{"host-trailing-dot", "GET / HTTP/1.1\r\nHost: a.example.\r\n\r\n"},
	{"host-lower-case-name", "GET / HTTP/1.1\r\nhost: a.example\r\n\r\n"},
	{"host-no-space", "GET / HTTP/1.1\r\nHost:a.example\r\n\r\n"},
	{"host-padded", "GET / HTTP/1.1\r\nHost: \t a.example \t\r\n\r\n"},
	{"host-percent", "GET / HTTP/1.1\r\nHost: a%2eexample\r\n\r\n"},

	// Header syntax.
	{"header-space-before-colon", "GET / HTTP/1.1\r\n" + hostA + "X-Test : v\r\n\r\n"},
	{"header-tab-before-colon", "GET / HTTP/1.1\r\n" + hostA + "X-Test\t: v\r\n\r\n"},
	{"header-space-in-name", "GET / HTTP/1.1\r\n" + hostA + "X Test: v\r\n\r\n"},
	{"header-no-colon", "GET / HTTP/1.1\r\n" + hostA + "X-Test\r\n\r\n"},
	{"header-empty-name", "GET / HTTP/1.1\r\n" + hostA + ": v\r\n\r\n"},
	{"header-nul-in-value", "GET / HTTP/1.1\r\n" + hostA + "X-Test: a\x00b\r\n\r\n"},
	{"header-nul-in-name", "GET / HTTP/1.1\r\n" + hostA + "X-T\x00est: v\r\n\r\n"},
	{"header-del-in-value", "GET / HTTP/1.1\r\n" + hostA + "X-Test: a\x7fb\r\n\r\n"},
	{"header-obs-text", "GET / HTTP/1.1\r\n" + hostA + "X-Test: caf\xe9\r\n\r\n"},
	{"header-utf8-name", "GET / HTTP/1.1\r\n" + hostA + "X-T\xc3\xa9st: v\r\n\r\n"},
	{"header-bare-cr-in-value", "GET / HTTP/1.1\r\n" + hostA + "X-Test: a\rb\r\n\r\n"},
	{"header-bare-cr-line-end", "GET / HTTP/1.1\r\n" + hostA + "X-Test: v\r\r\n\r\n"},
	{"header-empty-value", "GET / HTTP/1.1\r\n" + hostA + "X-Test:\r\n\r\n"},
	{"header-padded-value", "GET / HTTP/1.1\r\n" + hostA + "X-Test: \t v \t\r\n\r\n"},
	{"header-repeated", "GET / HTTP/1.1\r\n" + hostA + "X-Test: 1\r\nX-Test: 2\r\n\r\n"},
	{"header-lower-case-name", "GET / HTTP/1.1\r\n" + hostA + "x-test: v\r\n\r\n"},
	{"header-underscore-name", "GET / HTTP/1.1\r\n" + hostA + "X_Test: v\r\n\r\n"},
	{"header-many", "GET / HTTP/1.1\r\n" + hostA + strings.Repeat("X-Test: v\r\n", 200) + "\r\n"},
	{"header-large", "GET / HTTP/1.1\r\n" + hostA + "X-Test: " + strings.Repeat("v", 3000) + "\r\n\r\n"},
	{"header-too-large", "GET / HTTP/1.1\r\n" + hostA + "X-Test: " + strings.Repeat("v", 10000) + "\r\n\r\n"},
	{"header-too-many", "GET / HTTP/1.1\r\n" + hostA + strings.Repeat("X-Test: v\r\n", 1000) + "\r\n"},
	{"obs-fold", "GET / HTTP/1.1\r\n" + hostA + "X-Test: a\r\n b\r\n\r\n"},
	{"obs-fold-tab", "GET / HTTP/1.1\r\n" + hostA + "X-Test: a\r\n\tb\r\n\r\n"},
	{"obs-fold-first-line", "GET / HTTP/1.1\r\n X-Test: a\r\n" + hostA + "\r\n"},
	{"obs-fold-host", "GET / HTTP/1.1\r\nHost: a\r\n .example\r\n\r\n"},
	{"obs-fold-empty-continuation", "GET / HTTP/1.1\r\n" + hostA + "X-Test: a\r\n \r\n\r\n"},
	{"obs-fold-transfer-encoding", post11 + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},

	// Line endings.
	{"bare-lf", "GET / HTTP/1.1\nHost: a.example\n\n"},
	{"bare-lf-mixed", "GET / HTTP/1.1\r\nHost: a.example\n\r\n"},
	{"bare-cr-request-line", "GET / HTTP/1.1\rHost: a.example\r\n\r\n"},
	{"bare-cr-end", "GET / HTTP/1.1\r\nHost: a.example\r\n\r"},
	{"leading-crlf", "\r\n" + get11},
	{"leading-crlf-twice", "\r\n\r\n" + get11},
	{"leading-lf", "\n" + get11},
	{"leading-cr", "\r" + get11},
	{"leading-crlfs-many", strings.Repeat("\r\n", 10) + get11},
	{"crlf-after-post-body", post11 + "Content-Length: 2\r\n\r\nhi\r\n"},
	{"crlf-after-get", get11 + "\r\n"},
	{"crlf-twice-after-post-body", post11 + "Content-Length: 2\r\n\r\nhi\r\n\r\n"},

	// Content-Length.
	{"cl", post11 + "Content-Length: 5\r\n\r\nhello"},
	{"cl-zero", post11 + "Content-Length: 0\r\n\r\n"},
	{"cl-get", "GET / HTTP/1.1\r\n" + hostA + "Content-Length: 5\r\n\r\nhello"},
	{"cl-head", "HEAD / HTTP/1.1\r\n" + hostA + "Content-Length: 5\r\n\r\nhello"},
	{"cl-duplicate-same", post11 + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
	{"cl-duplicate-different", post11 + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
	{"cl-list", post11 + "Content-Length: 5, 5\r\n\r\nhello"},
	{"cl-leading-space", post11 + "Content-Length:  5\r\n\r\nhello"},
	{"cl-trailing-space", post11 + "Content-Length: 5 \r\n\r\nhello"},
	{"cl-inner-space", post11 + "Content-Length: 1 0\r\n\r\nhellohello"},
	{"cl-plus", post11 + "Content-Length: +5\r\n\r\nhello"},
	{"cl-minus", post11 + "Content-Length: -5\r\n\r\nhello"},
	{"cl-hex", post11 + "Content-Length: 0x5\r\n\r\nhello"},
	{"cl-leading-zeros", post11 + "Content-Length: 005\r\n\r\nhello"},
	{"cl-overflow", post11 + "Content-Length: 99999999999999999999\r\n\r\nhello"},
	{"cl-empty", post11 + "Content-Length:\r\n\r\nhello"},
	{"cl-letters", post11 + "Content-Length: five\r\n\r\nhello"},
	{"cl-longer-than-sent", post11 + "Content-Length: 10\r\n\r\nhello"},
	{"cl-shorter-than-sent", post11 + "Content-Length: 3\r\n\r\nhello"},
	{"cl-unread-small", "POST /noread HTTP/1.1\r\n" + hostA + "Content-Length: 5\r\n\r\nhello"},
	{"cl-unread-large", "POST /noread HTTP/1.1\r\n" + hostA + fmt.Sprintf("Content-Length: %d\r\n\r\n", maxDrain+1024) + strings.Repeat("b", maxDrain+1024)},

	// Transfer-Encoding.
	{"te-chunked", post11 + chunked + "\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-chunked-empty", post11 + chunked + "\r\n0\r\n\r\n"},
	{"te-chunked-upper-case", post11 + "Transfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-chunked-mixed-case", post11 + "Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-chunked-leading-space", post11 + "Transfer-Encoding:  chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-chunked-trailing-space", post11 + "Transfer-Encoding: chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-chunked-tab", post11 + "Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-lower-case-name", post11 + "transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-chunked-identity", post11 + "Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-identity-chunked", post11 + "Transfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-identity", post11 + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello"},
	{"te-gzip", post11 + "Transfer-Encoding: gzip\r\n\r\nhello"},
	{"te-gzip-chunked", post11 + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-chunked-chunked", post11 + "Transfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-two-fields", post11 + chunked + chunked + "\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-xchunked", post11 + "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-chunked-param", post11 + "Transfer-Encoding: chunked;q=1\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-empty", post11 + "Transfer-Encoding:\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-vertical-tab", post11 + "Transfer-Encoding: \x0bchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-get", "GET / HTTP/1.1\r\n" + hostA + chunked + "\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-http10", "POST / HTTP/1.0\r\n" + chunked + "\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-http10-keep-alive", "POST / HTTP/1.0\r\nConnection: keep-alive\r\n" + chunked + "\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"te-http10-cl", "POST / HTTP/1.0\r\nConnection: keep-alive\r\n" + chunked + "Content-Length: 5\r\n\r\n0\r\n\r\n"},
	{"cl-te", post11 + "Content-Length: 5\r\n" + chunked + "\r\n0\r\n\r\n"},
	{"te-cl", post11 + chunked + "Content-Length: 5\r\n\r\n0\r\n\r\n"},
	{"cl-te-smuggle", post11 + "Content-Length: 44\r\n" + chunked + "\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"cl-zero-te", post11 + "Content-Length: 0\r\n" + chunked + "\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"cl-te-unsupported", post11 + "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\nhello"},

	// Chunked bodies.
	{"chunk-extension", post11 + chunked + "\r\n5;a=b\r\nhello\r\n0\r\n\r\n"},
	{"chunk-extension-quoted", post11 + chunked + "\r\n5;a=\"b c\"\r\nhello\r\n0\r\n\r\n"},
	{"chunk-extension-bare", post11 + chunked + "\r\n5;\r\nhello\r\n0\r\n\r\n"},
	{"chunk-extension-spaces", post11 + chunked + "\r\n5 ; a=b\r\nhello\r\n0\r\n\r\n"},
	{"chunk-extension-long", post11 + chunked + "\r\n5;" + strings.Repeat("a", 5000) + "\r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-upper-hex", post11 + chunked + "\r\nA\r\nhellohello\r\n0\r\n\r\n"},
	{"chunk-size-leading-zeros", post11 + chunked + "\r\n0005\r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-overflow", post11 + chunked + "\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-16-digits", post11 + chunked + "\r\n8000000000000000\r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-negative", post11 + chunked + "\r\n-5\r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-0x", post11 + chunked + "\r\n0x5\r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-plus", post11 + chunked + "\r\n+5\r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-leading-space", post11 + chunked + "\r\n 5\r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-trailing-space", post11 + chunked + "\r\n5 \r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-empty", post11 + chunked + "\r\n\r\nhello\r\n0\r\n\r\n"},
	{"chunk-size-letters", post11 + chunked + "\r\nzz\r\nhello\r\n0\r\n\r\n"},
	{"chunk-data-longer", post11 + chunked + "\r\n3\r\nhello\r\n0\r\n\r\n"},
	{"chunk-data-shorter", post11 + chunked + "\r\n7\r\nhello\r\n0\r\n\r\n"},
	{"chunk-bare-lf", post11 + chunked + "\r\n5\nhello\n0\n\n"},
	{"chunk-bare-cr", post11 + chunked + "\r\n5\rhello\r0\r\r"},
	{"chunk-missing-last", post11 + chunked + "\r\n5\r\nhello\r\n"},
	{"chunk-missing-final-crlf", post11 + chunked + "\r\n5\r\nhello\r\n0\r\n"},
	{"chunk-trailer", post11 + chunked + "\r\n5\r\nhello\r\n0\r\nX-Test: t\r\n\r\n"},
	{"chunk-trailer-declared", post11 + chunked + "Trailer: X-Test\r\n\r\n5\r\nhello\r\n0\r\nX-Test: t\r\n\r\n"},
	{"chunk-trailer-content-length", post11 + chunked + "\r\n5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n"},
	{"chunk-trailer-bad-name", post11 + chunked + "\r\n5\r\nhello\r\n0\r\nX Test: t\r\n\r\n"},
	{"chunk-trailer-obs-fold", post11 + chunked + "\r\n5\r\nhello\r\n0\r\nX-Test: a\r\n b\r\n\r\n"},
	{"chunk-unread-small", "POST /noread HTTP/1.1\r\n" + hostA + chunked + "\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"chunk-unread-malformed", "POST /noread HTTP/1.1\r\n" + hostA + chunked + "\r\n5\r\nhelloXX0\r\n\r\n"},
	{"chunk-unread-large", "POST /noread HTTP/1.1\r\n" + hostA + chunked + "\r\n" + bigChunked},
	{"chunk-malformed-read", post11 + chunked + "\r\n5\r\nhelloXX0\r\n\r\n"},

	// Connection management.
	{"http10", "GET / HTTP/1.0\r\n\r\n"},
	{"http10-keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
	{"http10-keep-alive-mixed-case", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"},
	{"http10-keep-alive-post", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"},
	{"http10-keep-alive-post-no-length", "POST / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nhello"},
	{"http10-host", "GET / HTTP/1.0\r\n" + hostA + "\r\n"},
	{"connection-close", "GET / HTTP/1.1\r\n" + hostA + "Connection: close\r\n\r\n"},
	{"connection-close-upper-case", "GET / HTTP/1.1\r\n" + hostA + "Connection: CLOSE\r\n\r\n"},
	{"connection-close-in-list", "GET / HTTP/1.1\r\n" + hostA + "Connection: keep-alive, close\r\n\r\n"},
	{"connection-close-second-field", "GET / HTTP/1.1\r\n" + hostA + "Connection: keep-alive\r\nConnection: close\r\n\r\n"},
	{"connection-upgrade", "GET / HTTP/1.1\r\n" + hostA + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
	{"proxy-connection-close", "GET / HTTP/1.1\r\n" + hostA + "Proxy-Connection: close\r\n\r\n"},
	{"pipelined-gets", get11 + get11 + get11},
	{"pipelined-post-get", post11 + "Content-Length: 5\r\n\r\nhello" + get11},
	{"pipelined-chunked-get", post11 + chunked + "\r\n5\r\nhello\r\n0\r\n\r\n" + get11},
	{"pipelined-after-close", "GET / HTTP/1.1\r\n" + hostA + "Connection: close\r\n\r\n" + get11},
	{"pipelined-bad-second", get11 + "GET / HTTP/1.1\r\n\r\n"},

	// Expect.
	{"expect-continue", post11 + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
	{"expect-continue-upper-case", post11 + "Expect: 100-Continue\r\nContent-Length: 5\r\n\r\nhello"},
	{"expect-continue-no-body", "GET / HTTP/1.1\r\n" + hostA + "Expect: 100-continue\r\n\r\n"},
	{"expect-continue-unread", "POST /noread HTTP/1.1\r\n" + hostA + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
	{"expect-continue-chunked", post11 + "Expect: 100-continue\r\n" + chunked + "\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"expect-continue-http10", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
	{"expect-empty", post11 + "Expect:\r\nContent-Length: 5\r\n\r\nhello"},
	{"expect-unknown", post11 + "Expect: foo\r\nContent-Length: 5\r\n\r\nhello"},
	{"expect-unknown-http10", "POST / HTTP/1.0\r\nExpect: foo\r\nContent-Length: 5\r\n\r\nhello"},
	{"expect-continue-and-unknown", post11 + "Expect: 100-continue, foo\r\nContent-Length: 5\r\n\r\nhello"},
	{"expect-continue-twice", post11 + "Expect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
}

// deliberateDiffs: the inputs on which h1 answers differently from
// net/http's server on purpose, and why. docs/dataplane.md has the same
// table (TestDifferentialDocumented).
var deliberateDiffs = map[string]string{
	// h1: 505. net/http: the handler gets PRI *, for an h2c upgrade of
	// its own.
	"h2-preface": "HTTP/2 with prior knowledge is served only with --h2c (RFC 9113, section 3.3); without it h1 speaks HTTP/1.x only",

	// h1: 400. net/http: joins the lines and serves.
	"obs-fold":                    obsFold,
	"obs-fold-tab":                obsFold,
	"obs-fold-empty-continuation": obsFold,
	"obs-fold-transfer-encoding":  obsFold,

	// h1: serves the request. net/http: 400, but after a POST.
	"leading-crlf":       emptyLines,
	"leading-crlf-twice": emptyLines,
	"leading-lf":         emptyLines,
	"crlf-after-get":     emptyLines,

	// h1: 400. net/http: ignores Transfer-Encoding on HTTP/1.0 and reads
	// by Content-Length, or no body.
	"te-http10":            http10TE,
	"te-http10-keep-alive": http10TE,
	"te-http10-cl":         http10TE,

	// h1: 400. net/http: reads chunked and keeps the connection (and in
	// cl-te-smuggle serves the request a Content-Length reader would
	// take for the body).
	"cl-te":         bothFramings,
	"te-cl":         bothFramings,
	"cl-te-smuggle": bothFramings,
	"cl-zero-te":    bothFramings,

	// h1: 417. net/http: only looks for the 100-continue token.
	"expect-continue-and-unknown": "RFC 9110, section 10.1.1: an expectation the server does not know may be answered 417; h1 does not ignore part of what a client asked",
}

const (
	obsFold      = "RFC 9112, section 5.2: obs-fold may be refused with 400; joining lines is what a proxy in front or a backend behind may not do, and then they disagree on the field"
	emptyLines   = "RFC 9112, section 2.2: a server SHOULD ignore at least one empty line before a request line; h1 ignores up to four before any request, net/http up to four CR or LF bytes after a POST only"
	http10TE     = "RFC 9112, section 6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty, and faulty framing is a 400 and a close (section 6.3); a proxy in front may have read it chunked"
	bothFramings = "RFC 9112, section 6.3: Content-Length with Transfer-Encoding ought to be handled as an error (request smuggling); h1 answers 400 and closes, as nginx does"
)

// The table of deliberate differences in docs/dataplane.md names every
// entry of deliberateDiffs, and no other input.
func TestDifferentialDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/dataplane.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n### Deliberate differences from net/http\n")
	if !ok {
		t.Fatal(`docs/dataplane.md has no "### Deliberate differences from net/http"`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	documented := make(map[string]bool)
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		for _, cell := range strings.Split(strings.Split(line, "|")[1], ",") {
			documented[strings.Trim(strings.TrimSpace(cell), "`")] = true
		}
	}
	for name := range deliberateDiffs {
		if !documented[name] {
			t.Errorf("docs/dataplane.md does not list %q", name)
		}
	}
	for name := range documented {
		if _, ok := deliberateDiffs[name]; !ok {
			t.Errorf("docs/dataplane.md lists %q, which is not a deliberate difference", name)
		}
	}
}
