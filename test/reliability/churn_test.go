package reliability

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
	"portico.dev/portico/tlsstore"
)

// TestConfigChurnDropsNothing: 32 connections load a stable route for 30 s
// while another goroutine creates, updates and deletes unrelated Ingresses,
// Services, EndpointSlices and TLS Secrets every 100 ms, so the routing table
// and certificate store are rebuilt and swapped many times a second. Not
// one request may fail or lose its connection. p99 latency is measured
// first for 10 s without churn, then during the churn, and both reported.
func TestConfigChurnDropsNothing(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	pod, stable := pods(t, "stable", 1)
	site(t, ns, "stable", "stable.test", nil, hostOf(stable[0]))
	p := harness.StartPortico(t, cp, "--watch-namespace", ns, "--access-log=false")
	c := p.Client()
	harness.Eventually(t, 10*time.Second, wantBackend(c, "http://"+p.HTTPAddr+"/", "stable.test", "stable-0"))

	tg := target{addr: p.HTTPAddr, host: "stable.test", path: "/", backend: "stable-0"}
	const workers = 32
	quiet := startLoad(tg, workers, 10*time.Second).Stop(true)
	t.Logf("without churn: %v", quiet)

	now := time.Now()
	certPEM, keyPEM, err := tlsstore.SelfSigned([]string{"churn.test", "*.churn.test"}, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// An address in the stable pod's subnet that nothing listens on: the
	// churned Services have endpoints, but no traffic is sent to them.
	unused := pod.Addrs[0].Next().String()
	ch := &churner{ns: ns, cert: certPEM, key: keyPEM, addr: unused}

	builds := buildsTotal(t, p)
	busy := startLoad(tg, workers, 30*time.Second)
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { ch.run(ctx) })
	res := busy.Stop(true)
	stop()
	wg.Wait()
	swaps := buildsTotal(t, p) - builds

	t.Logf("during churn: %v", res)
	t.Logf("churn: %d API writes (%d failed: %v), %d table builds", ch.writes.Load(), ch.errs.Load(), ch.firstErr.Load(), swaps)
	figure(t, "32 conns, 30 s, %d API writes, %d table swaps | %d requests, %d failed, %d conn errors | p99 %s with churn vs %s without (p50 %s vs %s)",
		ch.writes.Load(), swaps, res.OK+res.Failed+res.ConnErrs, res.Failed, res.ConnErrs, res.P99, quiet.P99, res.P50, quiet.P50)
	if res.Failed != 0 || res.ConnErrs != 0 || quiet.Failed != 0 || quiet.ConnErrs != 0 {
		t.Errorf("want 0 failed requests and 0 connection errors; first problem: %s%s", res.First, quiet.First)
	}
	if res.OK < 10_000 {
		t.Errorf("only %d successful requests during churn: too light to prove anything", res.OK)
	}
	if ch.writes.Load()-ch.errs.Load() < 500 {
		t.Errorf("only %d successful API writes in 30 s: the churn was too light", ch.writes.Load()-ch.errs.Load())
	}
	// Under constant churn the controller's holdoff coalesces events and
	// forces a build about every 500 ms: about 60 swaps in 30 s.
	if swaps < 40 {
		t.Errorf("only %d table builds during churn, want at least 40", swaps)
	}
	noPanic(t, p)
}

// churnWrites counts the writes of a churner.
type churnWrites struct {
	writes   atomic.Int64
	errs     atomic.Int64
	firstErr atomic.Value
}

// churn runs ops every 100 ms until ctx ends: tick i runs the writes of
// phase i%3 (0 creates, 1 updates, 2 deletes) for object "churn-<i/3>".
func (w *churnWrites) churn(ctx context.Context, ops func(phase int, name string, i int) []func(context.Context) error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		name := "churn-" + strconv.Itoa(i/3)
		for _, op := range ops(i%3, name, i) {
			if err := op(ctx); err != nil && ctx.Err() == nil {
				w.errs.Add(1)
				w.firstErr.CompareAndSwap(nil, err.Error())
			}
			w.writes.Add(1)
		}
	}
}

// churner writes unrelated objects: every tick it creates, updates or
// deletes (in turn) one Ingress, Service, EndpointSlice and TLS Secret.
type churner struct {
	churnWrites
	ns        string
	cert, key []byte
	addr      string
}

func (ch *churner) run(ctx context.Context) { ch.churn(ctx, ch.ops) }

// ops returns the four writes of one tick: phase 0 creates name's
// objects, 1 updates them, 2 deletes them.
func (ch *churner) ops(phase int, name string, i int) []func(context.Context) error {
	cs := cp.Client
	o := metav1.ObjectMeta{Namespace: ch.ns, Name: name, Labels: map[string]string{"tick": strconv.Itoa(i)}}
	svc := &corev1.Service{ObjectMeta: o, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	slice := harness.EndpointSliceObject(ch.ns, name, name, 8080, harness.Endpoint{Addr: ch.addr})
	slice.Labels["tick"] = strconv.Itoa(i)
	sec := &corev1.Secret{ObjectMeta: o, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: ch.cert, corev1.TLSPrivateKeyKey: ch.key}}
	host := name + ".churn.test"
	ing := harness.IngressObject(ch.ns, name, "portico", host, harness.Path("/", prefix, name, 80))
	ing.Labels = o.Labels
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: name}}
	del := metav1.DeleteOptions{}
	switch phase {
	case 0:
		return []func(context.Context) error{
			func(ctx context.Context) error {
				_, err := cs.CoreV1().Secrets(ch.ns).Create(ctx, sec, metav1.CreateOptions{})
				return err
			},
			func(ctx context.Context) error {
				_, err := cs.CoreV1().Services(ch.ns).Create(ctx, svc, metav1.CreateOptions{})
				return err
			},
			func(ctx context.Context) error {
				_, err := cs.DiscoveryV1().EndpointSlices(ch.ns).Create(ctx, slice, metav1.CreateOptions{})
				return err
			},
			func(ctx context.Context) error {
				_, err := cs.NetworkingV1().Ingresses(ch.ns).Create(ctx, ing, metav1.CreateOptions{})
				return err
			},
		}
	case 1: // updates without a resourceVersion: last write wins, no conflicts
		return []func(context.Context) error{
			func(ctx context.Context) error {
				_, err := cs.CoreV1().Secrets(ch.ns).Update(ctx, sec, metav1.UpdateOptions{})
				return err
			},
			func(ctx context.Context) error {
				cur, err := cs.CoreV1().Services(ch.ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				cur.Labels = o.Labels
				cur.Spec.Ports[0].Port = 81
				_, err = cs.CoreV1().Services(ch.ns).Update(ctx, cur, metav1.UpdateOptions{})
				return err
			},
			func(ctx context.Context) error {
				slice.Endpoints[0].Conditions.Ready = new(bool) // not ready any more
				_, err := cs.DiscoveryV1().EndpointSlices(ch.ns).Update(ctx, slice, metav1.UpdateOptions{})
				return err
			},
			func(ctx context.Context) error {
				ing.Spec.Rules[0].HTTP.Paths = append(ing.Spec.Rules[0].HTTP.Paths, harness.Path("/v2", exact, name, 81))
				_, err := cs.NetworkingV1().Ingresses(ch.ns).Update(ctx, ing, metav1.UpdateOptions{})
				return err
			},
		}
	}
	return []func(context.Context) error{
		func(ctx context.Context) error { return cs.NetworkingV1().Ingresses(ch.ns).Delete(ctx, name, del) },
		func(ctx context.Context) error { return cs.DiscoveryV1().EndpointSlices(ch.ns).Delete(ctx, name, del) },
		func(ctx context.Context) error { return cs.CoreV1().Services(ch.ns).Delete(ctx, name, del) },
		func(ctx context.Context) error { return cs.CoreV1().Secrets(ch.ns).Delete(ctx, name, del) },
	}
}
