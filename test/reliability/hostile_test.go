package reliability

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"portico.dev/portico/test/harness"
)

// exchange writes payload on a new connection to addr and reads up to n
// responses (fewer when the server closes first). Bodies are read in full.
func exchange(t *testing.T, addr, payload string, n int, wait time.Duration) (statuses []int, bodies [][]byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(conn, payload); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		bodies = append(bodies, b)
	}
	return statuses, bodies
}

// TestHostileHTTP sends hostile requests straight to Portico's sockets.
// Each gets its safe outcome, and a normal request right after is answered
// normally. Backends count what reaches them.
//
// Covered elsewhere and not repeated here: X-Forwarded-For and friends from
// an untrusted client are overwritten (TestClientAddressHeaders in
// test/e2e, also checked briefly below); every spelling of a traversal
// against an Exact rule (TestPathNormalizationCannotBypassRules in
// test/conformance); a body over the route's limit (TestTimeoutsAndLimits).
func TestHostileHTTP(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "h", 4)
	main, smug, public, admin := be[0], be[1], be[2], be[3]
	site(t, ns, "main", "main.hostile.test", nil, hostOf(main))
	site(t, ns, "smuggle", "smuggle.hostile.test", nil, hostOf(smug))
	harness.Service(t, cp, ns, "public", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "public", "public-1", 8080, harness.Endpoint{Addr: hostOf(public)}))
	harness.Service(t, cp, ns, "admin", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "admin", "admin-1", 8080, harness.Endpoint{Addr: hostOf(admin)}))
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "paths", "portico", "paths.hostile.test",
		harness.Path("/public", prefix, "public", 80), harness.Path("/admin", exact, "admin", 80)))

	const headerTimeout = 2 * time.Second
	p := harness.StartPortico(t, cp, "--watch-namespace", ns, "--access-log=false", "--read-header-timeout", headerTimeout.String())
	c := p.Client()
	base := "http://" + p.HTTPAddr
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "main.hostile.test", "h-0"))
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "smuggle.hostile.test", "h-1"))
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/admin", "paths.hostile.test", "h-3"))
	// normal is the request that must be unaffected after each attack.
	normal := func(t *testing.T) {
		t.Helper()
		if err := wantBackend(c, base+"/after", "main.hostile.test", "h-0")(); err != nil {
			t.Errorf("a normal request after the attack: %v", err)
		}
		noPanic(t, p)
	}

	// RFC 9112, section 6.3: a message with both framings "ought to be
	// handled as an error"; Portico answers 400 and closes, as nginx does,
	// so neither the request nor what trails it reaches a backend.
	t.Run("CL.TE smuggling is a 400 and the connection is closed", func(t *testing.T) {
		before := smug.Requests.Load()
		rest := "X-SMUGGLED\r\n\r\n" // would prefix the next request on a shared backend connection
		body := "0\r\n\r\n" + rest
		conn, err := net.DialTimeout("tcp", p.HTTPAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: smuggle.hostile.test\r\nContent-Length: "+
			strconv.Itoa(len(body))+"\r\nTransfer-Encoding: chunked\r\n\r\n"+body); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !resp.Close {
			t.Fatalf("status %d, Connection: close %v; want 400 and close", resp.StatusCode, resp.Close)
		}
		if n, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("after the response: %v, %v; want the connection closed (EOF)", n, err)
		}
		if n := smug.Requests.Load() - before; n != 0 {
			t.Errorf("the backend saw %d requests, want 0", n)
		}
		normal(t)
	})
	t.Run("TE.CL smuggling is a 400", func(t *testing.T) {
		before := smug.Requests.Load()
		hidden := "GPOST /admin HTTP/1.1\r\nHost: smuggle.hostile.test\r\nContent-Length: 15\r\n\r\nx=1"
		chunk := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(hidden), hidden)
		st, _ := exchange(t, p.HTTPAddr, "POST / HTTP/1.1\r\nHost: smuggle.hostile.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk, 2, 2*time.Second)
		if len(st) != 1 || st[0] != 400 {
			t.Fatalf("statuses %v, want exactly one answer, 400", st)
		}
		if n := smug.Requests.Load() - before; n != 0 {
			t.Errorf("the backend saw %d requests, want 0", n)
		}
		normal(t)
	})
	t.Run("obfuscated Transfer-Encoding is refused", func(t *testing.T) {
		before := smug.Requests.Load()
		st, _ := exchange(t, p.HTTPAddr, "POST / HTTP/1.1\r\nHost: smuggle.hostile.test\r\nContent-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 1, 5*time.Second)
		if len(st) != 1 || st[0] < 400 {
			t.Errorf("statuses %v, want one 4xx/5xx", st)
		}
		if n := smug.Requests.Load() - before; n != 0 {
			t.Errorf("the backend saw %d requests, want 0", n)
		}
		normal(t)
	})
	t.Run("duplicate Content-Length is a 400", func(t *testing.T) {
		before := smug.Requests.Load()
		st, _ := exchange(t, p.HTTPAddr, "POST / HTTP/1.1\r\nHost: smuggle.hostile.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 2, 5*time.Second)
		if len(st) != 1 || st[0] != 400 {
			t.Errorf("statuses %v, want [400]", st)
		}
		if n := smug.Requests.Load() - before; n != 0 {
			t.Errorf("the backend saw %d requests, want 0", n)
		}
		normal(t)
	})
	t.Run("header block over the limit is a 431", func(t *testing.T) {
		before := main.Requests.Load()
		st, _ := exchange(t, p.HTTPAddr, "GET / HTTP/1.1\r\nHost: main.hostile.test\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\n\r\n", 1, 5*time.Second)
		if len(st) != 1 || st[0] != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("statuses %v, want [431]", st)
		}
		if n := main.Requests.Load() - before; n != 0 {
			t.Errorf("the backend saw %d requests, want 0", n)
		}
		normal(t)
	})
	t.Run("slowloris headers are cut at --read-header-timeout", func(t *testing.T) {
		const conns = 50
		closedAfter := make([]time.Duration, conns)
		var wg sync.WaitGroup
		for i := range conns {
			wg.Go(func() { closedAfter[i] = slowloris(p.HTTPAddr, 10*time.Second) })
		}
		wg.Wait()
		lo, hi := closedAfter[0], closedAfter[0]
		for _, d := range closedAfter {
			lo, hi = min(lo, d), max(hi, d)
		}
		figure(t, "%d connections trickling a header line every 200 ms | all closed after %s to %s (--read-header-timeout %s)",
			conns, lo.Round(10*time.Millisecond), hi.Round(10*time.Millisecond), headerTimeout)
		if lo < headerTimeout-200*time.Millisecond || hi > headerTimeout+2*time.Second {
			t.Errorf("connections closed after %s to %s, want about %s", lo, hi, headerTimeout)
		}
		normal(t)
	})
	t.Run("10,000 idle keep-alive connections", func(t *testing.T) {
		idleConnections(t, p, 10_000)
		normal(t)
	})
	t.Run("X-Forwarded-For from an untrusted client is overwritten", func(t *testing.T) {
		st, bodies := exchange(t, p.HTTPAddr, "GET / HTTP/1.1\r\nHost: main.hostile.test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nConnection: close\r\n\r\n", 1, 5*time.Second)
		if len(st) != 1 {
			t.Fatalf("no answer")
		}
		e, err := harness.ParseEcho(bodies[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(e.Headers["X-Forwarded-For"], ","); got != "127.0.0.1" || e.Headers.Get("X-Real-Ip") != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q, X-Real-IP %q; want both 127.0.0.1", got, e.Headers.Get("X-Real-Ip"))
		}
		normal(t)
	})
	t.Run("Host with uppercase, port and trailing dot routes like the clean host", func(t *testing.T) {
		for _, host := range []string{"MAIN.Hostile.TEST", "main.hostile.test:80", "main.hostile.test.", "Main.Hostile.Test.:8080"} {
			st, bodies := exchange(t, p.HTTPAddr, "GET /x HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n", 1, 5*time.Second)
			if len(st) != 1 || st[0] != 200 {
				t.Errorf("Host %q: statuses %v, want [200]", host, st)
				continue
			}
			if e, err := harness.ParseEcho(bodies[0]); err != nil || e.Backend != "h-0" {
				t.Errorf("Host %q: answered by %q (%v), want h-0", host, e.Backend, err)
			}
		}
		normal(t)
	})
	t.Run("traversal from /public never reaches a path its rule does not cover", func(t *testing.T) {
		for _, path := range []string{"/public/../admin", "/public/%2e%2e/admin", "/public/%2E%2E%2Fadmin", "/public/./../admin/"} {
			st, bodies := exchange(t, p.HTTPAddr, "GET "+path+" HTTP/1.1\r\nHost: paths.hostile.test\r\nConnection: close\r\n\r\n", 1, 5*time.Second)
			if len(st) != 1 {
				t.Errorf("%s: no answer", path)
				continue
			}
			e, err := harness.ParseEcho(bodies[0])
			switch {
			case err != nil: // answered by Portico itself (404/400): reached no backend
				t.Logf("%s: %d from Portico", path, st[0])
			case e.Backend == "h-2" && !strings.HasPrefix(e.Path, "/public"):
				t.Errorf("%s reached the /public backend as %q", path, e.Path)
			case e.Backend == "h-3" && e.Path != "/admin":
				t.Errorf("%s reached the Exact /admin backend as %q", path, e.Path)
			default:
				t.Logf("%s: %d from %s as %q", path, st[0], e.Backend, e.Path)
			}
		}
		normal(t)
	})
	t.Run("absolute-form request URI routes by its own host", func(t *testing.T) {
		// RFC 9112 section 3.2.2: with an absolute-form target the server
		// must ignore Host and use the target's authority. Go's server
		// sets Request.Host from it, and Portico routes by Request.Host:
		// one rule, and the backend sees the same Host that was routed on.
		before := smug.Requests.Load()
		st, bodies := exchange(t, p.HTTPAddr, "GET http://smuggle.hostile.test/abs HTTP/1.1\r\nHost: main.hostile.test\r\nConnection: close\r\n\r\n", 1, 5*time.Second)
		if len(st) != 1 || st[0] != 200 {
			t.Fatalf("statuses %v, want [200]", st)
		}
		e, err := harness.ParseEcho(bodies[0])
		if err != nil || e.Backend != "h-1" || e.Host != "smuggle.hostile.test" || e.Path != "/abs" {
			t.Errorf("answered by %q for Host %q path %q (%v); want h-1, smuggle.hostile.test, /abs", e.Backend, e.Host, e.Path, err)
		}
		if n := smug.Requests.Load() - before; n != 1 {
			t.Errorf("smuggle backend saw %d requests, want 1", n)
		}
		normal(t)
	})
	t.Run("HTTP/2 rapid reset burst", func(t *testing.T) {
		before, rss0 := main.Requests.Load(), rssKiB(t, p.Cmd.Process.Pid)
		sent, goaway, err := rapidReset(p.HTTPSAddr, "main.hostile.test", 20_000, 5*time.Second)
		if sent == 0 {
			t.Fatalf("no stream sent: %v", err)
		}
		time.Sleep(time.Second)
		reached := main.Requests.Load() - before
		tc := p.TLSClient(nil)
		resp, herr := tc.Get("https://main.hostile.test/after")
		if herr != nil {
			t.Fatalf("HTTPS after the burst: %v", herr)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Errorf("HTTPS after the burst: %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
		}
		figure(t, "%d HEADERS+RST_STREAM pairs on one h2 connection | %d reached the backend, GOAWAY %v (ended by: %v) | RSS %d -> %d KiB; HTTPS and HTTP served normally after",
			sent, reached, goaway, err, rss0, rssKiB(t, p.Cmd.Process.Pid))
		normal(t)
	})
}

// slowloris sends a request line and then one header line every 200 ms,
// never finishing the block, and returns how long the server let it live.
func slowloris(addr string, limit time.Duration) time.Duration {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0
	}
	defer conn.Close()
	start := time.Now()
	_ = conn.SetDeadline(start.Add(limit))
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes
		closed <- time.Since(start)
	}()
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: main.hostile.test\r\n")
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case d := <-closed:
			return d
		case <-tick.C:
			_, _ = fmt.Fprintf(conn, "X-Slow-%d: a\r\n", i)
		}
	}
}

// idleConnections opens n keep-alive connections, sends one request on
// each, and leaves them idle; it reports Portico's RSS and goroutines
// before, while they are open and after they are closed.
func idleConnections(t *testing.T, p *harness.Portico, n int) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if need := uint64(n + 1000); lim.Cur < need {
		lim.Cur = min(max(need, lim.Cur), lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < need {
			t.Fatalf("need %d open files for %d connections; RLIMIT_NOFILE is %d/%d (%v): raise it (ulimit -n)", need, n, lim.Cur, lim.Max, err)
		}
	}
	pid := p.Cmd.Process.Pid
	rss0, g0 := rssKiB(t, pid), goroutines(t, p)
	conns := make([]net.Conn, n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				conn, err := keepAliveRequest(p.HTTPAddr)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				conns[i] = conn
			}
		})
	}
	wg.Wait()
	opened := time.Since(start)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	time.Sleep(time.Second)
	rss1, g1 := rssKiB(t, pid), goroutines(t, p)
	// Still serving while holding them all.
	if err := wantBackend(p.Client(), "http://"+p.HTTPAddr+"/", "main.hostile.test", "h-0")(); err != nil {
		t.Errorf("with %d idle connections open: %v", n, err)
	}
	// They are really held open: probe a sample of them.
	alive := 0
	for i := 0; i < n; i += n / 100 {
		if conns[i] == nil {
			continue
		}
		_ = conns[i].SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		var b [1]byte
		if _, err := conns[i].Read(b[:]); errors.Is(err, syscall.ECONNRESET) || err == io.EOF {
			continue
		}
		alive++
	}
	for i, c := range conns {
		if c != nil {
			c.Close()
			conns[i] = nil
		}
	}
	time.Sleep(2 * time.Second)
	rss2, g2 := rssKiB(t, pid), goroutines(t, p)
	perConn := float64(rss1-rss0) / float64(n)
	figure(t, "%d keep-alive connections opened in %s (%d failed) and left idle | RSS %d -> %d KiB (%.1f KiB per connection), %d KiB after closing | goroutines %d -> %d -> %d; sampled %d/100 still open",
		n, opened.Round(10*time.Millisecond), failed.Load(), rss0, rss1, perConn, rss2, g0, g1, g2, alive)
	if failed.Load() != 0 {
		t.Errorf("%d of %d connections failed; first: %v", failed.Load(), n, firstErr.Load())
	}
	if alive < 90 {
		t.Errorf("only %d of 100 sampled idle connections still open", alive)
	}
	if rss1-rss0 > 512<<10 {
		t.Errorf("RSS grew by %d KiB for %d idle connections, want under 512 MiB", rss1-rss0, n)
	}
}

// keepAliveRequest sends one request on a new connection, reads the whole
// answer and returns the still-open connection.
func keepAliveRequest(addr string) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, "GET /idle HTTP/1.1\r\nHost: main.hostile.test\r\n\r\n"); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		conn.Close()
		return nil, fmt.Errorf("status %d, %v", resp.StatusCode, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

func goroutines(t *testing.T, p *harness.Portico) int {
	t.Helper()
	m, err := p.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(m, "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return -1
}

// rapidReset opens one h2 connection and sends up to n streams, each
// HEADERS immediately followed by RST_STREAM(CANCEL) (CVE-2023-44487), for
// at most d. It returns how many it sent, whether the server sent GOAWAY,
// and what ended the burst (nil when it ran to n).
func rapidReset(addr, host string, n int, d time.Duration) (sent int, goaway bool, end error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: host, NextProtos: []string{"h2"}, InsecureSkipVerify: true}) //nolint:gosec // default certificate
	if err != nil {
		return 0, false, err
	}
	defer conn.Close()
	if conn.ConnectionState().NegotiatedProtocol != "h2" {
		return 0, false, fmt.Errorf("ALPN %q, want h2", conn.ConnectionState().NegotiatedProtocol)
	}
	deadline := time.Now().Add(d)
	_ = conn.SetDeadline(deadline.Add(2 * time.Second))
	var wmu sync.Mutex
	fr := http2.NewFramer(conn, conn)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		return 0, false, err
	}
	if err := fr.WriteSettings(); err != nil {
		return 0, false, err
	}
	var gotGoaway atomic.Bool
	readDone := make(chan struct{})
	go func() { // drain the server's frames so it never blocks on us
		defer close(readDone)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				gotGoaway.Store(true)
			case *http2.SettingsFrame:
				if !f.IsAck() {
					wmu.Lock()
					_ = fr.WriteSettingsAck()
					wmu.Unlock()
				}
			}
		}
	}()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		hbuf.Reset()
		for _, hf := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", host}, {":path", "/__sleep?d=2s"}} {
			_ = enc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
		}
		id := uint32(2*i + 1)
		wmu.Lock()
		err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndStream: true, EndHeaders: true})
		if err == nil {
			err = fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		wmu.Unlock()
		if err != nil {
			end = err
			break
		}
		sent++
	}
	conn.Close()
	<-readDone
	return sent, gotGoaway.Load(), end
}
