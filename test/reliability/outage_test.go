package reliability

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

// TestAPIServerOutageKeepsServing stops kube-apiserver for 10 s while 8
// connections load a route. Traffic must keep flowing on the last good
// table with no failure, /readyz must stay ready throughout (an API outage
// is no reason to pull every replica out of the load balancer), and once
// the API server is back Portico must reconnect and route changes made
// after the restart: a new Ingress goes live and a deleted one stops
// answering, within 5 s of the API server being ready. (Nothing can be
// changed while the API server is down: it is the only writer of etcd.)
func TestAPIServerOutageKeepsServing(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, be := pods(t, "steady", 3)
	site(t, ns, "steady", "steady.test", nil, hostOf(be[0]))
	site(t, ns, "doomed", "doomed.test", nil, hostOf(be[1]))
	p := harness.StartPortico(t, cp, "--watch-namespace", ns, "--access-log=false")
	c := p.Client()
	base := "http://" + p.HTTPAddr
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "steady.test", "steady-0"))
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "doomed.test", "steady-1"))

	var readyChecks, notReady atomic.Int64
	var notReadyFirst atomic.Value
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	go func() {
		rc := &http.Client{Timeout: time.Second}
		for rctx.Err() == nil {
			readyChecks.Add(1)
			resp, err := rc.Get("http://" + p.MetricsAddr + "/readyz")
			if err != nil {
				notReady.Add(1)
				notReadyFirst.CompareAndSwap(nil, err.Error())
			} else {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					notReady.Add(1)
					notReadyFirst.CompareAndSwap(nil, resp.Status)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	ld := startLoad(target{addr: p.HTTPAddr, host: "steady.test", path: "/", backend: "steady-0"}, 8, 2*time.Minute)
	time.Sleep(2 * time.Second)
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	okAtStop := ld.ok.Load()
	time.Sleep(10 * time.Second)
	duringOutage := ld.ok.Load() - okAtStop
	failedDuring := ld.failed.Load() + ld.connErrs.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatalf("restart kube-apiserver: %v", err)
	}
	outage := time.Since(stoppedAt)

	// Changes after the restart: a new site, and a deleted Ingress.
	site(t, ns, "fresh", "fresh.test", nil, hostOf(be[2]))
	if err := cp.Client.NetworkingV1().Ingresses(ns).Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	caughtUp := harness.Eventually(t, 90*time.Second, func() error {
		if err := wantBackend(c, base+"/", "fresh.test", "steady-2")(); err != nil {
			return err
		}
		return wantStatus(c, base+"/", "doomed.test", http.StatusNotFound)()
	})
	time.Sleep(time.Second) // traffic after the catch-up
	res := ld.Stop(false)
	rcancel()

	t.Logf("load: %v", res)
	figure(t, "8 conns, API server down %s | %d requests served during the outage, %d failed in all (%d conn errors) | /readyz not ready %d of %d checks | changes after restart routed in %s",
		outage.Round(100*time.Millisecond), duringOutage, res.Failed, res.ConnErrs, notReady.Load(), readyChecks.Load(), caughtUp.Round(10*time.Millisecond))
	if res.Failed != 0 || res.ConnErrs != 0 || failedDuring != 0 {
		t.Errorf("requests failed: %d failed, %d connection errors; first: %s", res.Failed, res.ConnErrs, res.First)
	}
	// Portico's API client waits for the API server instead of leaving
	// it to client-go's reflector back-off (31 s measured before).
	if caughtUp > 5*time.Second {
		t.Errorf("changes made after the API server was back were routed after %s; want within 5 s", caughtUp.Round(10*time.Millisecond))
	}
	if duringOutage < 1000 {
		t.Errorf("only %d requests served during the outage", duringOutage)
	}
	if notReady.Load() != 0 {
		t.Errorf("/readyz was not ready %d times (first: %v); want ready throughout", notReady.Load(), notReadyFirst.Load())
	}
	noPanic(t, p)
}
