package h1

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

func TestKeepAlive(t *testing.T) {
	t.Parallel()
	var remotes recorder
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remotes.add(r.RemoteAddr)
		_, _ = io.WriteString(w, "n="+r.URL.Query().Get("n"))
	}))
	c := ts.dial(t)
	for i := range 5 {
		c.send(fmt.Sprintf("GET /?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
		r := c.read("GET")
		if want := fmt.Sprintf("n=%d", i); r.StatusCode != 200 || r.body != want || r.Close {
			t.Fatalf("request %d: %d %q close=%v; want 200 %q on a kept connection", i, r.StatusCode, r.body, r.Close, want)
		}
	}
	got := remotes.get()
	if len(got) != 5 {
		t.Fatalf("handler ran %d times, want 5", len(got))
	}
	for _, ra := range got {
		if ra != c.c.LocalAddr().String() {
			t.Errorf("RemoteAddr = %q, want the client's %q", ra, c.c.LocalAddr())
		}
	}
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	}))
	c := ts.dial(t)
	// Three requests in one write: a GET, a POST with a body, a HEAD.
	c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody" +
		"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"GET /a ", "POST /b body", "GET /c "} {
		if r := c.read("GET"); r.body != want {
			t.Fatalf("body = %q, want %q", r.body, want)
		}
	}
}

func TestResponseFraming(t *testing.T) {
	t.Parallel()
	large := strings.Repeat("x", 4096)
	tests := []struct {
		name    string
		req     string
		method  string
		handler http.HandlerFunc
		status  int
		header  map[string]string // as on the wire; "" means absent
		chunked bool
		body    string
		closed  bool
	}{{
		name: "declared Content-Length",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		},
		header: map[string]string{"Content-Length": "5"},
		body:   "hello",
	}, {
		name: "small body gets a Content-Length",
		handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello ")
			_, _ = io.WriteString(w, "world")
		},
		header: map[string]string{"Content-Length": "11"},
		body:   "hello world",
	}, {
		name:    "no body gets Content-Length 0",
		handler: func(w http.ResponseWriter, r *http.Request) {},
		header:  map[string]string{"Content-Length": "0"},
	}, {
		name: "2 KiB body still gets a Content-Length",
		handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, large[:smallBody])
		},
		header: map[string]string{"Content-Length": strconv.Itoa(smallBody)},
		body:   large[:smallBody],
	}, {
		name: "large body without a length is chunked on HTTP/1.1",
		handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, large[:1000])
			_, _ = io.WriteString(w, large[1000:])
		},
		header:  map[string]string{"Content-Length": ""},
		chunked: true,
		body:    large,
	}, {
		name: "large body without a length is close-delimited on HTTP/1.0",
		req:  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, large)
		},
		header: map[string]string{"Content-Length": "", "Connection": "close"},
		body:   large,
		closed: true,
	}, {
		name: "Flush mid-body makes it chunked",
		handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "b")
		},
		header:  map[string]string{"Content-Length": ""},
		chunked: true,
		body:    "ab",
	}, {
		name: "Flush with a declared length keeps it",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2")
			_, _ = io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "b")
		},
		header: map[string]string{"Content-Length": "2"},
		body:   "ab",
	}, {
		name:   "HEAD sends the header but no body",
		req:    "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
		method: "HEAD",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "11")
			w.Header().Set("X-Head", "1")
			if n, err := io.WriteString(w, "hello world"); n != 11 || err != nil {
				panic(fmt.Sprint("HEAD write: ", n, err))
			}
		},
		header: map[string]string{"Content-Length": "11", "X-Head": "1"},
	}, {
		name:   "HEAD with a large body written sends none of it",
		req:    "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
		method: "HEAD",
		handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, large)
			w.(http.Flusher).Flush()
		},
	}, {
		name: "204 has no body and no framing header",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "hello"); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic(fmt.Sprint("write to a 204: ", err))
			}
		},
		status: http.StatusNoContent,
		header: map[string]string{"Content-Length": ""},
	}, {
		name: "304 has no body and no framing header",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "chunked")
			w.WriteHeader(http.StatusNotModified)
			_, _ = io.WriteString(w, large)
			w.(http.Flusher).Flush()
		},
		status: http.StatusNotModified,
		header: map[string]string{"Content-Length": ""},
	}, {
		name: "handler's Transfer-Encoding is ignored",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "chunked")
			_, _ = io.WriteString(w, "hello")
		},
		header: map[string]string{"Content-Length": "5"},
		body:   "hello",
	}, {
		name: "invalid handler Content-Length is replaced",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "five")
			_, _ = io.WriteString(w, "hello")
		},
		header: map[string]string{"Content-Length": "5"},
		body:   "hello",
	}, {
		// A "+5" would be read as 5 by some parsers and refused by others.
		name: "signed handler Content-Length is replaced",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "+5")
			_, _ = io.WriteString(w, "hello")
		},
		header: map[string]string{"Content-Length": "5"},
		body:   "hello",
	}, {
		name: "status code without a text",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(599)
		},
		status: 599,
		header: map[string]string{"Content-Length": "0"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, withAlive(tt.handler))
			c := ts.dial(t)
			req, method := tt.req, tt.method
			if req == "" {
				req, method = get, "GET"
			}
			c.send(req)
			r := c.read(method)
			if want := cmp.Or(tt.status, 200); r.StatusCode != want {
				t.Errorf("status = %d, want %d", r.StatusCode, want)
			}
			for k, want := range tt.header {
				if got := strings.Join(r.wire[k], ","); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := r.wire.Get("Transfer-Encoding"); (got == "chunked") != tt.chunked || (got != "" && got != "chunked") {
				t.Errorf("Transfer-Encoding = %q, want chunked: %v", got, tt.chunked)
			}
			if r.body != tt.body {
				t.Errorf("body = %.40q (%d bytes), want %.40q (%d bytes)", r.body, len(r.body), tt.body, len(tt.body))
			}
			if tt.closed {
				c.expectClosed()
			} else {
				// Also proves no stray body bytes were sent.
				c.expectOpen()
			}
		})
	}
}

func TestShortBodyClosesConnection(t *testing.T) {
	t.Parallel()
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = io.WriteString(w, "short")
	}))
	c := ts.dial(t)
	c.send(get)
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if string(b) != "short" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("body %q, %v; want \"short\" then unexpected EOF", b, err)
	}
	c.expectClosed()
}

func TestWriteBeyondContentLength(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 2)
	ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		_, err := io.WriteString(w, "hel")
		errs <- err
		_, err = io.WriteString(w, "lo, world")
		errs <- err
		_, _ = io.WriteString(w, "lo")
	}))
	c := ts.dial(t)
	c.send(get)
	r := c.read("GET")
	if err := <-errs; err != nil {
		t.Errorf("first write: %v", err)
	}
	if err := <-errs; !errors.Is(err, http.ErrContentLength) {
		t.Errorf("write beyond Content-Length: %v, want %v", err, http.ErrContentLength)
	}
	if r.body != "hello" {
		t.Errorf("body = %q, want %q", r.body, "hello")
	}
	c.expectOpen()
}

func TestConnectionPersistence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		req        string
		handler    http.HandlerFunc
		connection string // the response's Connection header
		closed     bool
	}{{
		name:       "HTTP/1.0 closes by default",
		req:        "GET / HTTP/1.0\r\n\r\n",
		connection: "close",
		closed:     true,
	}, {
		name:       "HTTP/1.0 keep-alive when asked",
		req:        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		connection: "keep-alive",
	}, {
		name:       "HTTP/1.0 keep-alive token among others",
		req:        "GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n",
		connection: "keep-alive",
	}, {
		name:       "HTTP/1.1 kept by default",
		req:        get,
		connection: "",
	}, {
		name:       "HTTP/1.1 Connection: close",
		req:        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		connection: "close",
		closed:     true,
	}, {
		name:       "HTTP/1.1 close token among others",
		req:        "GET / HTTP/1.1\r\nHost: x\r\nConnection: te, CLOSE\r\n\r\n",
		connection: "close",
		closed:     true,
	}, {
		name: "handler closes",
		req:  get,
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
		},
		connection: "close",
		closed:     true,
	}, {
		name: "HTTP/1.0 keep-alive lost to a flush",
		req:  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "a")
			w.(http.Flusher).Flush()
		},
		connection: "close",
		closed:     true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.handler
			if h == nil {
				h = func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }
			}
			ts := startServer(t, withAlive(h))
			c := ts.dial(t)
			c.send(tt.req)
			r := c.read("GET")
			if got := strings.Join(r.wire["Connection"], ","); got != tt.connection {
				t.Errorf("Connection = %q, want %q", got, tt.connection)
			}
			if tt.closed {
				c.expectClosed()
			} else {
				c.expectOpen()
			}
		})
	}
}

func TestDateHeader(t *testing.T) {
	t.Parallel()
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/own" {
			w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
		}
	}))
	c := ts.dial(t)
	c.send(get)
	r := c.read("GET")
	d, err := http.ParseTime(r.wire.Get("Date"))
	if err != nil || len(r.wire["Date"]) != 1 {
		t.Fatalf("Date %q: %v", r.wire["Date"], err)
	}
	if since := time.Since(d); since < -time.Hour || since > time.Hour {
		t.Errorf("Date = %v, not now", d)
	}
	c.send("GET /own HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); len(r.wire["Date"]) != 1 || r.wire.Get("Date") != "Mon, 02 Jan 2006 15:04:05 GMT" {
		t.Errorf("handler's Date: got %q", r.wire["Date"])
	}
}

func TestHeaderCannotSplitResponse(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Split"] = []string{"a\r\nSet-Cookie: evil=1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad"}
		h["X-Lf"] = []string{"a\nX-Injected: 1"}
		h["X Bad"] = []string{"space in name"}
		h["X-Colon:Name"] = []string{"colon in name"}
		h["X-Crlf\r\nX-Injected"] = []string{"in name"}
		h["X-Good"] = []string{"  fine  "}
		_, _ = io.WriteString(w, "body")
	}))
	c := ts.dial(t)
	c.send(get)
	r := c.read("GET")
	if r.body != "body" {
		t.Errorf("body = %q", r.body)
	}
	for k, vv := range r.wire {
		for _, v := range vv {
			if strings.ContainsAny(v, "\r\n") {
				t.Errorf("%s: %q holds a line break", k, v)
			}
		}
	}
	for _, k := range []string{"Set-Cookie", "X-Injected", "X Bad", "X-Colon"} {
		if v, ok := r.wire[k]; ok {
			t.Errorf("%s: %q sent", k, v)
		}
	}
	if got := r.wire.Get("X-Good"); got != "fine" {
		t.Errorf("X-Good = %q, want %q", got, "fine")
	}
	if got := r.wire.Get("X-Split"); !strings.HasPrefix(got, "a ") {
		t.Errorf("X-Split = %q, want its line breaks as spaces", got)
	}
	c.expectOpen() // no second response was smuggled in
}

func TestTrailers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		trailers http.Header
	}{{
		name: "declared",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-T, X-Unset")
			w.Header().Set("Content-Length", "4") // dropped: trailers need chunked
			_, _ = io.WriteString(w, "body")
			w.Header().Set("X-T", "v")
		},
		trailers: http.Header{"X-T": {"v"}},
	}, {
		name: "TrailerPrefix",
		handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "bo")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "dy")
			w.Header().Set(http.TrailerPrefix+"X-P", "p")
		},
		trailers: http.Header{"X-P": {"p"}},
	}, {
		name: "declared and TrailerPrefix",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-T")
			_, _ = io.WriteString(w, "body")
			w.Header().Set("X-T", "v\r\nX-Injected: 1")
			w.Header().Set(http.TrailerPrefix+"X-P", "p")
		},
		trailers: http.Header{"X-T": {"v  X-Injected: 1"}, "X-P": {"p"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, withAlive(tt.handler))
			c := ts.dial(t)
			c.send(get)
			r := c.read("GET")
			if r.body != "body" || !slices.Equal(r.TransferEncoding, []string{"chunked"}) {
				t.Errorf("body %q, Transfer-Encoding %q; want \"body\", chunked", r.body, r.TransferEncoding)
			}
			for k, v := range r.Trailer {
				if len(v) == 0 {
					delete(r.Trailer, k) // declared, never set
				}
			}
			if got := fmt.Sprint(r.Trailer); got != fmt.Sprint(tt.trailers) {
				t.Errorf("trailers = %v, want %v", got, tt.trailers)
			}
			for k := range r.wire {
				if strings.HasPrefix(k, http.TrailerPrefix) {
					t.Errorf("%q sent in the header", k)
				}
			}
			c.expectOpen()
		})
	}
}

func TestInterimResponses(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Link", "</style.css>; rel=preload; as=style")
		h.Set("Content-Length", "2") // not for the interim response
		w.WriteHeader(http.StatusEarlyHints)
		h.Del("Link")
		h.Set("X-Final", "1")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok")
	}))

	t.Run("HTTP/1.1", func(t *testing.T) {
		c := ts.dial(t)
		c.send(get)
		r := c.read("GET")
		if r.StatusCode != http.StatusEarlyHints || r.wire.Get("Link") != "</style.css>; rel=preload; as=style" {
			t.Fatalf("first response %d, Link %q; want 103 with the Link", r.StatusCode, r.wire.Get("Link"))
		}
		if v, ok := r.wire["Content-Length"]; ok {
			t.Errorf("103 carries Content-Length %q", v)
		}
		r = c.read("GET")
		if r.StatusCode != 200 || r.body != "ok" || r.wire.Get("X-Final") != "1" || r.wire.Get("Link") != "" {
			t.Fatalf("final response %d %q %v", r.StatusCode, r.body, r.wire)
		}
		c.expectOpen()
	})

	// RFC 9110, section 15.2: "A server MUST NOT send a 1xx response to an
	// HTTP/1.0 client."
	t.Run("HTTP/1.0", func(t *testing.T) {
		c := ts.dial(t)
		c.send("GET / HTTP/1.0\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "ok" {
			t.Fatalf("response %d %q, want only the final 200", r.StatusCode, r.body)
		}
		c.expectClosed()
	})
}

func TestExpectContinue(t *testing.T) {
	t.Parallel()
	echo := func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
		_, _ = w.Write(b)
	}
	ignore := func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "no thanks") }

	t.Run("handler reads the body", func(t *testing.T) {
		t.Parallel()
		c := startServer(t, withAlive(echo)).dial(t)
		c.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != http.StatusContinue {
			t.Fatalf("got %d before sending the body, want 100", r.StatusCode)
		}
		c.send("hello")
		if r := c.read("POST"); r.StatusCode != 200 || r.body != "hello" || r.Close {
			t.Fatalf("final response %d %q close=%v", r.StatusCode, r.body, r.Close)
		}
		c.expectOpen()
	})

	t.Run("handler reads a chunked body", func(t *testing.T) {
		t.Parallel()
		c := startServer(t, withAlive(echo)).dial(t)
		c.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != http.StatusContinue {
			t.Fatalf("got %d before sending the body, want 100", r.StatusCode)
		}
		c.send("5\r\nhello\r\n0\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != 200 || r.body != "hello" {
			t.Fatalf("final response %d %q", r.StatusCode, r.body)
		}
		c.expectOpen()
	})

	t.Run("handler answers without reading", func(t *testing.T) {
		t.Parallel()
		c := startServer(t, withAlive(ignore)).dial(t)
		c.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		r := c.read("POST")
		if r.StatusCode != 200 || r.body != "no thanks" {
			t.Fatalf("got %d %q, want the handler's 200 and no 100 Continue", r.StatusCode, r.body)
		}
		if r.wire.Get("Connection") != "close" {
			t.Errorf("Connection = %q, want close: the body was never sent", r.wire.Get("Connection"))
		}
		c.expectClosed()
	})

	t.Run("other expectation", func(t *testing.T) {
		t.Parallel()
		var calls recorder
		c := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.add(r.URL.Path) })).dial(t)
		c.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != http.StatusExpectationFailed {
			t.Fatalf("got %d, want 417", r.StatusCode)
		}
		c.expectClosed()
		if len(calls.get()) != 0 {
			t.Errorf("handler ran for %v", calls.get())
		}
	})

	// RFC 9110, section 10.1.1: "A server that receives a 100-continue
	// expectation in an HTTP/1.0 request MUST ignore that expectation."
	t.Run("HTTP/1.0 ignores 100-continue", func(t *testing.T) {
		t.Parallel()
		c := startServer(t, withAlive(echo)).dial(t)
		c.send("POST / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
		if r := c.read("POST"); r.StatusCode != 200 || r.body != "hello" {
			t.Fatalf("got %d %q, want 200 \"hello\"", r.StatusCode, r.body)
		}
		c.expectOpen()
	})
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("a", 8<<10)
	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"missing Host on HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"malformed Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"space in a header name", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400},
		{"space before the colon", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
		{"invalid byte in a header name", "GET / HTTP/1.1\r\nHost: x\r\nX<>: v\r\n\r\n", 400},
		{"control byte in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400},
		{"header line without a colon", "GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n", 400},
		{"header bigger than MaxHeaderBytes", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", 431},
		{"request line bigger than MaxHeaderBytes", "GET /" + big + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
		{"garbage request line", "HELLO\r\n\r\n", 400},
		{"binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},
		{"invalid method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"invalid URL escape", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"malformed version", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400},
		{"HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"HTTP/0.9 request line", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505},
		{"PRI without H2C", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"Transfer-Encoding gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"Transfer-Encoding gzip, chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"Transfer-Encoding twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
		{"Transfer-Encoding identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 501},
		{"Transfer-Encoding chunked, identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 501},
		{"parser error quoting 'unsupported transfer encoding'", "GET / HTTP/1.1\r\nHost: x\r\nunsupported transfer encoding\r\n\r\n", 400},
		{"negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
		{"signed Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nx", 400},
		{"conflicting Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400},
		{"list Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\nx", 400},
	}
	var calls recorder
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.add(r.RequestURI) }),
		func(s *Server) { s.MaxHeaderBytes = 1024 })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ts.dial(t)
			c.send(tt.req)
			r := c.read("GET")
			if r.StatusCode != tt.status {
				t.Errorf("status = %d %q, want %d", r.StatusCode, r.body, tt.status)
			}
			if r.wire.Get("Connection") != "close" {
				t.Errorf("Connection = %q, want close", r.wire.Get("Connection"))
			}
			c.expectClosed()
		})
	}
	t.Cleanup(func() {
		if got := calls.get(); len(got) > 0 {
			t.Errorf("handler ran for bad requests: %q", got)
		}
	})
}

// Both Content-Length and Transfer-Encoding, or Transfer-Encoding on
// HTTP/1.0: the shapes of request smuggling through a proxy that reads
// one framing where this server reads the other. RFC 9112, section 6.3:
// such a message "ought to be handled as an error"; section 6.1: HTTP/1.0
// with Transfer-Encoding is treated "as if the framing is faulty". So it
// is refused with 400 and the connection closed: neither the request nor
// the bytes after it reach the handler. (Failed before the change: each
// was served by one of the framings, then the connection closed.)
func TestRequestSmuggling(t *testing.T) {
	t.Parallel()
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name string
		req  string // "|" splits it into writes
	}{
		{"CL.TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"TE.CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled},
		{"lower-case names", "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n" + smuggled},
		{"Content-Length 0", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"GET", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		// net/http ignores Transfer-Encoding on HTTP/1.0 and goes by the
		// Content-Length, or reads no body.
		{"HTTP/1.0 with Transfer-Encoding and Content-Length", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
		{"HTTP/1.0 with Transfer-Encoding", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"HTTP/1.0 with Transfer-Encoding gzip", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled},
		// The header arrives in two writes, so it is not whole in the
		// server's buffer when parsing starts.
		{"CL.TE in pieces", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n|Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	}
	var calls recorder
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.add(r.Method + " " + r.URL.Path) }))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ts.dial(t)
			for i, part := range strings.Split(tt.req, "|") {
				if i > 0 {
					time.Sleep(20 * time.Millisecond) // let the server read the first part alone
				}
				c.send(part)
			}
			r := c.read("POST")
			if r.StatusCode != 400 || r.wire.Get("Connection") != "close" {
				t.Errorf("response %d, Connection %q; want 400, close", r.StatusCode, r.wire.Get("Connection"))
			}
			c.expectClosed()
		})
	}
	t.Cleanup(func() {
		if got := calls.get(); len(got) > 0 {
			t.Errorf("handler saw %q, want nothing", got)
		}
	})
}

// The same framing as one field is fine: Content-Length twice with the
// same value, as RFC 9110, section 8.6 allows, and a chunked body alone.
func TestUnambiguousFraming(t *testing.T) {
	t.Parallel()
	var calls recorder
	ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		calls.add(fmt.Sprintf("%q %v", b, err))
	}))
	for _, req := range []string{
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello",
	} {
		c := ts.dial(t)
		c.send(req)
		if r := c.read("POST"); r.StatusCode != 200 {
			t.Errorf("%q: status %d", req, r.StatusCode)
		}
		c.expectOpen()
	}
	if got, want := calls.get(), []string{`"hello" <nil>`, `"hello" <nil>`, `"hello" <nil>`}; !slices.Equal(got, want) {
		t.Errorf("handler read %q, want %q", got, want)
	}
}

func TestRequestBody(t *testing.T) {
	t.Parallel()
	const large = maxDrain + 64<<10
	tests := []struct {
		name   string
		req    string
		body   string // sent after req, from another goroutine
		read   int    // bytes the handler reads; -1 all
		want   string // what the handler read
		closed bool
	}{{
		name: "Content-Length read fully",
		req:  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
		body: "hello world", read: -1, want: "hello world",
	}, {
		name: "chunked read fully",
		req:  "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		body: "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n", read: -1, want: "hello world",
	}, {
		name: "small body left unread",
		req:  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
		body: "hello world", read: 0,
	}, {
		name: "small chunked body left unread",
		req:  "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		body: "5\r\nhello\r\n0\r\n\r\n", read: 0,
	}, {
		name: "small rest left unread",
		req:  fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", large),
		body: strings.Repeat("b", large), read: 100 << 10, want: strings.Repeat("b", 100<<10),
	}, {
		name: "large body left unread",
		req:  fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", large),
		body: strings.Repeat("b", large), read: 0, closed: true,
	}, {
		name: "large chunked body left unread",
		req:  "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		body: fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", large, strings.Repeat("b", large)), read: 0, closed: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got recorder
			ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
				var b []byte
				var err error
				if tt.read < 0 {
					b, err = io.ReadAll(r.Body)
				} else {
					b = make([]byte, tt.read)
					_, err = io.ReadFull(r.Body, b)
				}
				got.add(fmt.Sprintf("%q %v %q", b, err, r.Trailer.Get("X-Trailer")))
			}))
			c := ts.dial(t)
			c.send(tt.req)
			sent := make(chan struct{})
			go func() { // the server may not read it all
				defer close(sent)
				_, _ = io.WriteString(c.c, tt.body)
			}()
			r := c.read("POST")
			if r.StatusCode != 200 {
				t.Errorf("status %d", r.StatusCode)
			}
			trailer := ""
			if strings.Contains(tt.body, "X-Trailer") {
				trailer = "t"
			}
			if want := fmt.Sprintf("%q <nil> %q", tt.want, trailer); got.String() != want {
				t.Errorf("handler read %.80s, want %.80s", got.String(), want)
			}
			if tt.closed {
				c.expectClosed()
			} else {
				<-sent // the next request follows the body
				c.expectOpen()
			}
		})
	}
}

func TestLargeUnreadBodyAnnouncesClose(t *testing.T) {
	t.Parallel()
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	c := ts.dial(t)
	c.send(fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", maxDrain+1))
	r := c.read("POST")
	if r.wire.Get("Connection") != "close" {
		t.Errorf("Connection = %q, want close: the body is too large to drain", r.wire.Get("Connection"))
	}
	c.expectClosed()
}

func TestBodyReadAfterHandlerReturns(t *testing.T) {
	t.Parallel()
	bodies := make(chan io.Reader, 1)
	ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) { bodies <- r.Body }))
	c := ts.dial(t)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	c.read("POST")
	c.expectOpen() // the first request is finished with
	if n, err := (<-bodies).Read(make([]byte, 10)); n != 0 || !errors.Is(err, http.ErrBodyReadAfterClose) {
		t.Fatalf("Read after the handler returned: %d, %v; want %v", n, err, http.ErrBodyReadAfterClose)
	}
}

// A body read from another goroutine (as a transport does) after its
// handler panicked must not reach the connection's buffers, which are
// reused by other connections.
func TestBodyReadAfterHandlerPanics(t *testing.T) {
	t.Parallel()
	bodies := make(chan io.Reader, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bodies <- r.Body
		panic(http.ErrAbortHandler)
	}))
	c := ts.dial(t)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
	c.expectClosed()
	waitNoConns(t, ts.Server) // its buffers are back in the pools
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("Read after the handler panicked: panic %v", v)
			}
		}()
		if n, err := (<-bodies).Read(make([]byte, 10)); n != 0 || err == nil {
			t.Fatalf("Read after the handler panicked: %d, %v; want an error", n, err)
		}
	}()
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	handler := withAlive(func(w http.ResponseWriter, r *http.Request) {})

	t.Run("slow header on a new connection", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, handler, func(s *Server) { s.ReadHeaderTimeout = timeout })
		c := ts.dial(t)
		c.send("GET / HTTP/1.1\r\n")
		for range 3 { // trickling bytes does not extend the deadline
			time.Sleep(timeout / 4)
			if _, err := io.WriteString(c.c, "X-A: b\r\n"); err != nil {
				break
			}
		}
		c.expectClosed()
	})

	t.Run("slow header on a kept connection", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, handler, func(s *Server) { s.ReadHeaderTimeout = timeout })
		c := ts.dial(t)
		c.expectOpen()
		c.send("GET / HTTP/1.1\r\nHost: x\r\n")
		c.expectClosed()
	})

	t.Run("new connection that sends nothing", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, handler, func(s *Server) { s.ReadHeaderTimeout = timeout })
		c := ts.dial(t)
		c.expectClosed()
	})

	t.Run("idle keep-alive connection", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, handler, func(s *Server) { s.IdleTimeout = timeout })
		c := ts.dial(t)
		c.expectOpen()
		_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second)) // well below the 10 s header timeout
		c.expectClosed()
	})

	t.Run("idle timeout restarts with each request", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, handler, func(s *Server) { s.IdleTimeout = 4 * timeout })
		c := ts.dial(t)
		start := time.Now()
		for time.Since(start) < 8*timeout {
			c.expectOpen()
			time.Sleep(timeout)
		}
	})

	// The rest of a body the handler did not read is drained to keep the
	// connection; a client that stops sending must not hold it forever.
	t.Run("stalled body after the response", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, handler, func(s *Server) { s.IdleTimeout = timeout })
		c := ts.dial(t)
		c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
		c.read("POST")
		_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.expectClosed()
	})
}

func TestHijack(t *testing.T) {
	t.Parallel()
	type result struct {
		extra    string
		writeErr error
		hijack2  error
	}
	results := make(chan result, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		var res result
		extra := make([]byte, 5)
		_, _ = io.ReadFull(rw, extra) // sent after the request, in the same write
		res.extra = string(extra)
		_, res.writeErr = w.Write([]byte("x"))
		_, _, res.hijack2 = w.(http.Hijacker).Hijack()
		results <- res
		_, _ = rw.WriteString("RAW " + string(extra) + "\n")
		_ = rw.Flush()
		// After the handler returns, the connection is still the handler's.
		go func() {
			defer conn.Close()
			line, _ := rw.ReadString('\n')
			_, _ = io.WriteString(conn, "echo "+line)
		}()
	}), func(s *Server) { s.ReadHeaderTimeout = 100 * time.Millisecond; s.IdleTimeout = 100 * time.Millisecond })
	c := ts.dial(t)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nEXTRA")
	res := <-results
	if res.extra != "EXTRA" {
		t.Errorf("bytes after the request: %q, want %q", res.extra, "EXTRA")
	}
	if !errors.Is(res.writeErr, http.ErrHijacked) || !errors.Is(res.hijack2, http.ErrHijacked) {
		t.Errorf("Write, Hijack after Hijack: %v, %v; want %v", res.writeErr, res.hijack2, http.ErrHijacked)
	}
	if line, err := c.br.ReadString('\n'); line != "RAW EXTRA\n" {
		t.Fatalf("read %q, %v; want the handler's raw bytes", line, err)
	}
	time.Sleep(300 * time.Millisecond) // past the server's timeouts
	c.send("ping\n")
	if line, err := c.br.ReadString('\n'); line != "echo ping\n" {
		t.Fatalf("read %q, %v; want the handler's echo", line, err)
	}
	if n := ts.connCount(); n != 0 {
		t.Errorf("server tracks %d connections, want 0 after a hijack", n)
	}
}

// WebSocket libraries write the 101 with WriteHeader and then hijack; as
// in net/http, that header goes out before the connection changes hands.
func TestHijackAfterWriteHeader(t *testing.T) {
	t.Parallel()
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "test")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		_, _ = rw.WriteString("raw bytes")
		_ = rw.Flush()
	}))
	c := ts.dial(t)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
	r, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != http.StatusSwitchingProtocols || r.Header.Get("Upgrade") != "test" {
		t.Fatalf("got %d, Upgrade %q; want 101, test", r.StatusCode, r.Header.Get("Upgrade"))
	}
	if rest, err := io.ReadAll(c.br); string(rest) != "raw bytes" {
		t.Fatalf("after the 101: %q, %v", rest, err)
	}
}

func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		value  any
		logged bool
	}{
		{"panic is logged", "boom", true},
		{"ErrAbortHandler is quiet", http.ErrAbortHandler, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "partial")
				panic(tt.value)
			}))
			other := ts.dial(t) // a connection open while another one's handler panics
			other.expectOpen()
			c := ts.dial(t)
			c.send(get)
			c.expectClosed()
			other.expectOpen()
			ts.dial(t).expectOpen()
			// The panic is logged before the connection is closed.
			if errs := ts.logs.atLeast(slog.LevelError); (len(errs) == 1) != tt.logged || len(errs) > 1 {
				t.Errorf("logged %q; want an error: %v", errs, tt.logged)
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	ts := startServer(t, withAlive(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	}))
	idle := ts.dial(t)
	idle.expectOpen()
	busy := ts.dial(t)
	busy.send(get)
	<-started

	shutdown := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	go func() { shutdown <- ts.Shutdown(ctx) }()

	idle.expectClosed() // Shutdown is under way
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	r := busy.read("GET")
	if r.body != "done" || r.wire.Get("Connection") != "close" {
		t.Errorf("in-flight response: %q, Connection %q; want \"done\", close", r.body, r.wire.Get("Connection"))
	}
	busy.expectClosed()
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-ts.served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want %v", err, http.ErrServerClosed)
	}
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("listener still accepts after Shutdown")
	}
	if err := ts.Serve(mustListen(t)); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownContextExpires(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	c := ts.dial(t)
	c.send(get)
	waitFor(t, func() bool { return ts.activeCount() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want %v", err, context.DeadlineExceeded)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{}, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	}))
	busy := ts.dial(t)
	busy.send(get)
	<-started
	idle := ts.dial(t)
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	busy.expectClosed()
	idle.expectClosed()
	if err := <-ts.served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want %v", err, http.ErrServerClosed)
	}
}

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// activeCount is how many connections are serving a request.
func (s *Server) activeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.state.Load() == stateActive {
			n++
		}
	}
	return n
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}
