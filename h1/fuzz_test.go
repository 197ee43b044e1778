package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzServeConn feeds arbitrary bytes to the server as one client's
// stream, in two writes split at split, and checks what comes back: a
// sequence of well-formed HTTP/1.1 responses, one for each request the
// handler saw and in order, each carrying that request's body back,
// followed at most by one refusal, whose body is the status text and
// nothing of what the client sent; and no panic, hang or error log.
//
// Inputs are kept short: the fuzzer minimizes each new interesting input
// with a quadratic search, which on inputs of kilobytes takes a minute.
// Paths make the responses large (/big), chunked (/flush) or give them
// trailers (/trailer) instead.
func FuzzServeConn(f *testing.F) {
	seeds := []string{
		get,
		get + get,
		"GET /a?b=c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + get,
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get,
		"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get,
		"POST /big HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
		"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get,
		"GET /flush HTTP/1.1\r\nHost: x\r\n\r\nHEAD /flush HTTP/1.1\r\nHost: x\r\n\r\n" + get,
		"GET /trailer HTTP/1.1\r\nHost: x\r\n\r\nGET /trailer HTTP/1.0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: t\r\n\r\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get,
		"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nExpect: nope\r\n\r\n",
		"GET http://example.com/ HTTP/1.1\r\nHost: other\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n" + get,
		"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"\r\n" + get,
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n",
		"\x00\xff\r\n\r\n",
		// Shapes of issue 16: empty Host, absolute-form, obs-fold, empty
		// lines before a request, malformed chunked bodies, both framings.
		"GET / HTTP/1.1\r\nHost:\r\n\r\n" + get,
		"GET http://a.example/x HTTP/1.1\r\n\r\n",
		"GET http://a.example/x HTTP/1.1\r\nHost: a\"b\r\n\r\n",
		"GET http://a.example/x HTTP/1.1\r\nHost:\r\n\r\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n",
		"\r\n\r\n\n" + get + "\r\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi\r\n\r\n" + get,
		"\r\n\r\n\r\n\r\n\r\n" + get,
		"\r" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" + get,
		"POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nExpect:\r\nContent-Length: 5\r\n\r\nhello" + get,
		"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, 100-continue\r\nContent-Length: 5\r\n\r\nhello" + get,
		"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get,
		// Parser errors that quote the client: never in the answer.
		"<script>M4RK3R</script>\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: <M4RK3R>\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint16(len(s)))
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, input []byte, split uint16) {
		if len(input) > maxFuzzInput {
			t.Skip()
		}
		out, calls, logs := serveBytes(t, input, int(split))
		if errs := logs.atLeast(slog.LevelError); len(errs) > 0 {
			t.Fatalf("server logged errors: %q", errs)
		}
		if err := checkResponses(out, calls); err != nil {
			t.Fatalf("%v\ninput:  %q\noutput: %q\ncalls:  %+v", err, input, out, calls)
		}
	})
}

const maxFuzzInput = 512

// execBound bounds one fuzz execution: once the client has sent all and
// shut its write side, the server must finish quickly.
const execBound = time.Second

// call is what the fuzz handler saw of one request.
type call struct {
	method, path, body string
}

// fuzzHandler echoes a request's body, records the request, and shapes
// the response by path.
func fuzzHandler(record func(call)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		record(call{r.Method, r.URL.Path, string(body)})
		w.Header().Set("X-Method", r.Method)
		if err != nil {
			w.Header().Set("X-Body-Error", "1")
		}
		if r.URL.Path == "/trailer" {
			w.Header().Set("Trailer", "X-T")
		}
		_, _ = w.Write(body)
		switch r.URL.Path {
		case "/big":
			_, _ = io.WriteString(w, bigTail)
		case "/flush":
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "!")
		case "/trailer":
			w.Header().Set("X-T", "t")
		}
	})
}

// bigTail makes a response too large for a computed Content-Length.
var bigTail = strings.Repeat("z", 3*smallBody)

// want is the response body the fuzz handler sends for c.
func (c call) want() string {
	switch {
	case c.method == http.MethodHead:
		return ""
	case c.path == "/big":
		return c.body + bigTail
	case c.path == "/flush":
		return c.body + "!"
	}
	return c.body
}

// serveBytes serves input as one client connection's stream and returns
// all the server wrote back, and the requests its handler saw.
func serveBytes(t *testing.T, input []byte, split int) ([]byte, []call, *logRecorder) {
	var mu sync.Mutex
	var calls []call
	h := fuzzHandler(func(c call) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, c)
	})
	logs := &logRecorder{}
	srv := &Server{Handler: h, Log: slog.New(logs), MaxHeaderBytes: 4096,
		ReadHeaderTimeout: execBound, IdleTimeout: execBound}
	ln := &chanListener{ch: make(chan net.Conn, 1), done: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-served
	}()

	client, server := halfPipe()
	ln.ch <- server
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		out <- b
	}()
	go func() {
		split = min(max(split, 0), len(input))
		_, _ = client.Write(input[:split])
		_, _ = client.Write(input[split:])
		_ = client.CloseWrite()
	}()
	select {
	case b := <-out:
		// The connection is closed after its last handler returned.
		mu.Lock()
		defer mu.Unlock()
		return b, calls, logs
	case <-time.After(execBound):
		_ = client.Close()
		t.Fatalf("server still busy %v after the client's input ended: %q", execBound, input)
		return nil, nil, nil
	}
}

// checkResponses parses out as responses to the calls, in order.
func checkResponses(out []byte, calls []call) error {
	br := bufio.NewReader(bytes.NewReader(out))
	answered := 0
	for {
		if _, err := br.Peek(1); err == io.EOF {
			break
		}
		method := http.MethodGet
		if answered < len(calls) {
			method = calls[answered].method
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return fmt.Errorf("response %d: %v", answered, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("response %d body: %v", answered, err)
		}
		if resp.StatusCode == http.StatusContinue {
			continue
		}
		if answered == len(calls) {
			// A refusal of the request after the last one served, and the end.
			if resp.StatusCode < 400 || !resp.Close {
				return fmt.Errorf("response %d without a request: %d, close=%v", answered, resp.StatusCode, resp.Close)
			}
			// Its body and fields are fixed: nothing the client sent.
			if string(body) != http.StatusText(resp.StatusCode) {
				return fmt.Errorf("refusal %d has body %q, want the status text", resp.StatusCode, body)
			}
			for k := range resp.Header {
				if k != "Content-Type" && k != "Connection" {
					return fmt.Errorf("refusal %d has field %s", resp.StatusCode, k)
				}
			}
			if rest, _ := io.ReadAll(br); len(rest) > 0 {
				return fmt.Errorf("%q after a refusal", rest)
			}
			return nil
		}
		if resp.Header.Get("Date") == "" {
			return fmt.Errorf("response %d has no Date", answered)
		}
		// A body whose read failed leaves the connection unusable: the
		// response says so, and nothing follows it.
		if resp.Header.Get("X-Body-Error") != "" && !resp.Close {
			return fmt.Errorf("response %d to a request whose body failed does not say Connection: close", answered)
		}
		if resp.Close && answered+1 < len(calls) {
			return fmt.Errorf("response %d says Connection: close, yet %d more requests were served", answered, len(calls)-answered-1)
		}
		c := calls[answered]
		want := c.want()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Method") != c.method || string(body) != want {
			return fmt.Errorf("response %d: %d %s %.100q, want 200 %s %.100q", answered, resp.StatusCode,
				resp.Header.Get("X-Method"), body, c.method, want)
		}
		if c.path == "/trailer" && len(resp.TransferEncoding) > 0 && resp.Trailer.Get("X-T") != "t" {
			return fmt.Errorf("response %d: trailers %v, want X-T: t", answered, resp.Trailer)
		}
		answered++
	}
	if answered != len(calls) {
		return fmt.Errorf("%d responses for %d requests", answered, len(calls))
	}
	return nil
}

// chanListener hands out the connections sent on ch.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *chanListener) Addr() net.Addr { return pipeAddr{} }

// halfPipe is an in-memory connection, like net.Pipe but with a client
// side that can shut its write side, so the server reads EOF and can still
// answer. The server side has no CloseWrite (so no lingering close), and
// its deadlines do nothing: the server never waits once the input ended.
func halfPipe() (*pipeClient, net.Conn) {
	c2sR, c2sW := io.Pipe()
	s2cR, s2cW := io.Pipe()
	return &pipeClient{r: s2cR, w: c2sW}, &pipeServer{r: c2sR, w: s2cW}
}

type pipeClient struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (p *pipeClient) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeClient) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeClient) CloseWrite() error           { return p.w.Close() }
func (p *pipeClient) Close() error {
	_ = p.w.Close()
	return p.r.Close()
}

type pipeServer struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (p *pipeServer) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if errors.Is(err, io.ErrClosedPipe) {
		err = net.ErrClosed
	}
	return n, err
}
func (p *pipeServer) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeServer) Close() error {
	_ = p.r.Close()
	return p.w.Close()
}
func (p *pipeServer) LocalAddr() net.Addr                { return pipeAddr{} }
func (p *pipeServer) RemoteAddr() net.Addr               { return pipeAddr{} }
func (p *pipeServer) SetDeadline(t time.Time) error      { return nil }
func (p *pipeServer) SetReadDeadline(t time.Time) error  { return nil }
func (p *pipeServer) SetWriteDeadline(t time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
