package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// trafficLoop sends GETs round-robin through ps every 10 ms (at most 3000)
// until stop is called, and reports how many succeeded and failed.
func trafficLoop(t *testing.T, ps []*harness.Portico, host, want string) (stop func() (ok, failed int64, firstErr error)) {
	t.Helper()
	var okN, failN atomic.Int64
	var first atomic.Value
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		clients := make([]*http.Client, len(ps))
		for i, p := range ps {
			clients[i] = p.Client()
		}
		for i := 0; i < 3000; i++ {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			p := ps[i%len(ps)]
			status, got, _, err := harness.Get(clients[i%len(ps)], "http://"+p.HTTPAddr+"/", host)
			if err == nil && (status != http.StatusOK || got != want) {
				err = fmt.Errorf("via %s: %d from %q, want 200 from %q", p.HTTPAddr, status, got, want)
			}
			if err != nil {
				failN.Add(1)
				first.CompareAndSwap(nil, err)
				continue
			}
			okN.Add(1)
		}
	})
	return func() (int64, int64, error) {
		close(done)
		wg.Wait()
		err, _ := first.Load().(error)
		return okN.Load(), failN.Load(), err
	}
}

// TestLeaderElection runs three replicas against one API server: one holds
// the Lease and writes status, all route; a SIGTERMed leader hands over within
// retry-period + 1 s, a SIGKILLed one is replaced within lease-duration + 1 s,
// and traffic through the survivors never fails.
//
// Durations are shortened by flags: lease 4s, renew 3s, retry 500ms.
func TestLeaderElection(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	webApp(t, ns, "site", "portico", "site.test")
	flags := append([]string{"--watch-namespace", ns, "--publish-status-address", "192.0.2.10"}, electionFlags(ns)...)
	reps := map[string]*harness.Portico{}
	names := []string{"portico-a", "portico-b", "portico-c"}
	for _, n := range names {
		reps[n] = startReplica(t, n, "", flags...)
	}

	// leaderNow waits until exactly one live replica reports portico_leader 1
	// and it is the Lease holder.
	leaderNow := func(alive []string) string {
		var leader string
		harness.Eventually(t, 15*time.Second, func() error {
			h, err := leaseHolder(ns, "portico-leader")
			if err != nil {
				return err
			}
			leaders := 0
			for _, n := range alive {
				v, err := metric(reps[n], "portico_leader")
				if err != nil {
					return err
				}
				if v == 1 {
					leaders++
					leader = n
				}
			}
			if leaders != 1 || leader != h {
				return fmt.Errorf("Lease holder %q, %d replicas report portico_leader 1 (last %q)", h, leaders, leader)
			}
			return nil
		})
		return leader
	}

	alive := names
	leader := leaderNow(alive)
	t.Logf("leader: %s", leader)
	for _, n := range names {
		harness.Eventually(t, 5*time.Second, wantBackend(reps[n].Client(), "http://"+reps[n].HTTPAddr+"/", "site.test", "site-0"))
	}
	harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "site", "192.0.2.10"))
	for _, n := range names {
		writes := logLines(t, reps[n], "ingress status written")
		if (n == leader) != (writes > 0) {
			t.Errorf("%s (leader %v) logged %d status writes; only the leader may write", n, n == leader, writes)
		}
	}

	without := func(list []string, x string) (out []string) {
		for _, n := range list {
			if n != x {
				out = append(out, n)
			}
		}
		return out
	}
	replicas := func(list []string) (out []*harness.Portico) {
		for _, n := range list {
			out = append(out, reps[n])
		}
		return out
	}
	// failover stops the leader with sig while traffic flows through the
	// survivors, and returns the new leader and how long the handover took.
	failover := func(sig syscall.Signal) (string, time.Duration) {
		old := leader
		alive = without(alive, old)
		stop := trafficLoop(t, replicas(alive), "site.test", "site-0")
		start := time.Now()
		if err := reps[old].Cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		var took time.Duration
		harness.Eventually(t, 2*testLease, func() error {
			h, err := leaseHolder(ns, "portico-leader")
			if err != nil {
				return err
			}
			if h == "" || h == old {
				return fmt.Errorf("Lease still held by %q", h)
			}
			took = time.Since(start)
			return nil
		})
		select {
		case <-reps[old].Done():
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not exit after %v", old, sig)
		}
		// Keep traffic flowing a little after the handover too.
		time.Sleep(time.Second)
		okN, failed, err := stop()
		t.Logf("%v: Lease taken over after %v; %d requests through %v, %d failed", sig, took.Round(time.Millisecond), okN, alive, failed)
		if failed != 0 || okN == 0 {
			t.Errorf("traffic through survivors during failover: %d ok, %d failed (first: %v)", okN, failed, err)
		}
		leader = leaderNow(alive)
		return leader, took
	}

	newLeader, took := failover(syscall.SIGTERM)
	if limit := testRetry + time.Second; took > limit {
		t.Errorf("after SIGTERM the Lease moved in %v, want within retry-period + 1s = %v", took, limit)
	}
	// The new leader writes status of new Ingresses; the old one is intact.
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "after-term", "portico", "after-term.test", harness.Path("/", prefix, "web", 80)))
	harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "after-term", "192.0.2.10"))
	harness.Eventually(t, time.Second, wantStatusAddrs(ns, "site", "192.0.2.10"))
	if logLines(t, reps[newLeader], "ingress status written") == 0 {
		t.Errorf("new leader %s logged no status write", newLeader)
	}

	last, took := failover(syscall.SIGKILL)
	if limit := testLease + time.Second; took > limit {
		t.Errorf("after SIGKILL the Lease moved in %v, want within lease-duration + 1s = %v", took, limit)
	}
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "after-kill", "portico", "after-kill.test", harness.Path("/", prefix, "web", 80)))
	harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "after-kill", "192.0.2.10"))
	for _, name := range []string{"site", "after-term"} {
		harness.Eventually(t, time.Second, wantStatusAddrs(ns, name, "192.0.2.10"))
	}
	if logLines(t, reps[last], "ingress status written") == 0 {
		t.Errorf("last leader %s logged no status write", last)
	}

	t.Run("losing the class withdraws the status the leader wrote", func(t *testing.T) {
		harness.UpdateIngress(t, cp, ns, "after-kill", func(ing *networkingv1.Ingress) {
			ing.Spec.IngressClassName = nil
			ing.Annotations = map[string]string{"kubernetes.io/ingress.class": "someone-else"}
		})
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "after-kill"))
	})
}
