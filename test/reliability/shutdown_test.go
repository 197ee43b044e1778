package reliability

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// TestGracefulShutdownUnderLoad sends SIGTERM while 16 connections load a
// route and five slow (3 s) requests are in flight. /readyz must fail
// first, while the listeners still accept (a load balancer that polls it
// stops sending, as the load here does); every request already sent,
// including the slow ones, must complete with 200; and the process must
// exit 0 within --shutdown-delay + --shutdown-grace.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "drain", 1)
	site(t, ns, "drain", "drain.test", nil, hostOf(be[0]))
	const delay, grace = 2 * time.Second, 10 * time.Second
	p := harness.StartPortico(t, cp, "--watch-namespace", ns, "--access-log=false", "--shutdown-delay", delay.String(), "--shutdown-grace", grace.String())
	c := p.Client()
	base := "http://" + p.HTTPAddr
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "drain.test", "drain-0"))

	ld := startLoad(target{addr: p.HTTPAddr, host: "drain.test", path: "/", backend: "drain-0"}, 16, 30*time.Second)
	time.Sleep(2 * time.Second)

	// Five slow requests, each on its own connection, in flight at SIGTERM.
	const slow = 5
	var slowOK atomic.Int64
	var slowErrs sync.Map
	var sw sync.WaitGroup
	for range slow {
		sw.Go(func() {
			status, name, _, err := harness.Get(p.Client(), base+"/__sleep?d=3s", "drain.test")
			if err == nil && status == 200 && name == "drain-0" {
				slowOK.Add(1)
			} else {
				slowErrs.Store(time.Now(), []any{status, name, err})
			}
		})
	}
	time.Sleep(300 * time.Millisecond) // the slow requests reach the backend

	// Poll readiness the way a load balancer does, and stop the load as
	// soon as it fails.
	var notReadyAt atomic.Int64
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	go func() {
		rc := &http.Client{Timeout: time.Second}
		for rctx.Err() == nil {
			resp, err := rc.Get("http://" + p.MetricsAddr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					notReadyAt.Store(time.Now().UnixNano())
					ld.hold.Store(true)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	sigAt := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 2*time.Second, func() error {
		if notReadyAt.Load() == 0 {
			return errNotYet
		}
		return nil
	})
	readyFailedAfter := time.Duration(notReadyAt.Load() - sigAt.UnixNano())
	// Readiness is down, the listener still accepts: a new connection is served.
	if err := wantBackend(p.Client(), base+"/", "drain.test", "drain-0")(); err != nil {
		t.Errorf("a request after /readyz failed, within --shutdown-delay: %v", err)
	}

	var exitAfter time.Duration
	select {
	case <-p.Done():
		exitAfter = time.Since(sigAt)
	case <-time.After(delay + grace + 5*time.Second):
		t.Fatalf("Portico did not exit within delay %s + grace %s", delay, grace)
	}
	sw.Wait()
	res := ld.Stop(false)
	t.Logf("load: %v", res)
	figure(t, "16 conns + 5 slow (3 s) requests, SIGTERM (delay %s, grace %s) | /readyz 503 after %s, exit after %s (status %v) | %d requests, %d failed, %d conn errors, slow ones %d/%d ok",
		delay, grace, readyFailedAfter.Round(time.Millisecond), exitAfter.Round(time.Millisecond), p.ExitErr(),
		res.OK+res.Failed+res.ConnErrs, res.Failed, res.ConnErrs, slowOK.Load(), slow)

	if readyFailedAfter > time.Second {
		t.Errorf("/readyz failed %s after SIGTERM, want at once", readyFailedAfter)
	}
	if p.ExitErr() != nil {
		t.Errorf("exit status %v, want 0", p.ExitErr())
	}
	if exitAfter > delay+grace+time.Second {
		t.Errorf("exit after %s, want within delay + grace = %s", exitAfter, delay+grace)
	}
	if res.Failed != 0 || res.ConnErrs != 0 {
		t.Errorf("in-flight requests failed: %d failed, %d connection errors; first: %s", res.Failed, res.ConnErrs, res.First)
	}
	if slowOK.Load() != slow {
		slowErrs.Range(func(_, v any) bool { t.Errorf("slow request: %v", v); return true })
	}
	if res.OK < 1000 {
		t.Errorf("only %d requests before SIGTERM: too light", res.OK)
	}
}

type notYet struct{}

func (notYet) Error() string { return "not yet" }

var errNotYet error = notYet{}
