package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"

	"portico.dev/portico/test/harness"
)

// These tests use what a cluster produces: Deployments whose Pods the node
// agent runs, EndpointSlices written by kube-controller-manager.

// app creates Deployment, Service and Ingress (host → name:80) for an echo
// app of replicas Pods, with mutate applied to the Deployment first.
func app(t *testing.T, ns, name, host string, replicas int32, mutate func(*corev1.PodSpec)) {
	t.Helper()
	harness.EnsureIngressClass(t, cp, "portico", false)
	d := harness.EchoDeployment(ns, name, replicas)
	if mutate != nil {
		mutate(&d.Spec.Template.Spec)
	}
	harness.CreateDeployment(t, cp, d)
	harness.SelectorService(t, cp, ns, name)
	harness.CreateIngress(t, cp, harness.IngressObject(ns, name, "portico", host,
		harness.Path("/", prefix, name, 80)))
}

// seeBackends sends requests until every name in want answered (or fails
// after timeout), and returns how many requests it took.
func seeBackends(t *testing.T, p *harness.Portico, host string, want []string, timeout time.Duration) int {
	t.Helper()
	seen := map[string]bool{}
	n := 0
	harness.Eventually(t, timeout, func() error {
		for range 20 {
			status, name, _, err := harness.Get(p.Client(), "http://"+p.HTTPAddr+"/", host)
			n++
			if err == nil && status == http.StatusOK {
				seen[name] = true
			}
		}
		for _, w := range want {
			if !seen[w] {
				return fmt.Errorf("%s never answered; seen %v", w, seen)
			}
		}
		return nil
	})
	return n
}

func podNames(pods []corev1.Pod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	return names
}

// TestDeploymentToPortico is the whole chain: a Deployment of 3 → 3 Ready
// Pods with distinct Pod IPs → an EndpointSlice written by the EndpointSlice
// controller → Portico routes to all three.
func TestDeploymentToPortico(t *testing.T) {
	ns := harness.Namespace(t, cp)
	start := time.Now()
	app(t, ns, "web", "web.pods.test", 3, nil)
	pods := harness.ReadyPods(t, cp, ns, "web", 3, 60*time.Second)
	t.Logf("FIGURE: Deployment create to 3 Ready Pods in %v", time.Since(start).Round(time.Millisecond))

	var ips []string
	for _, p := range pods {
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !node.Bridge.Prefix.Contains(ip) {
			t.Errorf("pod %s IP %q not in the node's pod CIDR %v", p.Name, p.Status.PodIP, node.Bridge.Prefix)
		}
		ips = append(ips, p.Status.PodIP)
	}
	slices.Sort(ips)
	if len(slices.Compact(slices.Clone(ips))) != 3 {
		t.Fatalf("pod IPs not distinct: %v", ips)
	}
	harness.Eventually(t, 30*time.Second, func() error {
		sl, err := harness.ControllerSlices(cp, ns, "web")
		if err != nil {
			return err
		}
		var ready []string
		for _, s := range sl {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					ready = append(ready, e.Addresses...)
				}
			}
			if len(s.Ports) != 1 || *s.Ports[0].Port != 8080 || *s.Ports[0].Name != "http" {
				return fmt.Errorf("slice %s ports %v, want http 8080", s.Name, s.Ports)
			}
		}
		slices.Sort(ready)
		if !slices.Equal(ready, ips) {
			return fmt.Errorf("controller's slices have ready %v, want the pod IPs %v", ready, ips)
		}
		return nil
	})
	t.Logf("FIGURE: Deployment create to its EndpointSlice with 3 ready endpoints in %v", time.Since(start).Round(time.Millisecond))

	p := harness.StartPortico(t, cp, "--access-log=false")
	n := seeBackends(t, p, "web.pods.test", podNames(pods), 15*time.Second)
	t.Logf("all 3 Pods answered through Portico within %d requests", n)
}

// TestRolloutRestartAndScaleDownZero5xx: `kubectl rollout restart` replaces
// every Pod of a Deployment, then `kubectl scale --replicas=1` removes two,
// all under load: no 5xx, no connection error. The Pods exit on SIGTERM at
// once (no preStop sleep), so Portico must stop choosing them as soon as the
// EndpointSlice controller marks them terminating, and retry a connection
// refused by one that already closed its listener.
func TestRolloutRestartAndScaleDownZero5xx(t *testing.T) {
	ns := harness.Namespace(t, cp)
	app(t, ns, "roll", "roll.pods.test", 3, nil)
	harness.ReadyPods(t, cp, ns, "roll", 3, 60*time.Second)
	p := harness.StartPortico(t, cp, "--access-log=false")
	harness.Eventually(t, 10*time.Second, wantStatus(p.Client(), "http://"+p.HTTPAddr+"/", "roll.pods.test", 200))
	terminating := watchTerminating(t, ns, "roll")

	const workers, duration = 32, 20 * time.Second
	ld := startPodLoad(p.HTTPAddr, "roll.pods.test", workers, duration)
	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	time.Sleep(2 * time.Second)
	begin := time.Now()
	kubectl(t, ctx, "-n", ns, "rollout", "restart", "deployment/roll")
	kubectl(t, ctx, "-n", ns, "rollout", "status", "deployment/roll", "--timeout=15s")
	t.Logf("FIGURE: rollout restart of 3 Pods took %v under load", time.Since(begin).Round(time.Millisecond))
	begin = time.Now()
	kubectl(t, ctx, "-n", ns, "scale", "deployment/roll", "--replicas=1")
	final := harness.ReadyPods(t, cp, ns, "roll", 1, 15*time.Second)
	t.Logf("FIGURE: scale 3 -> 1 took %v under load", time.Since(begin).Round(time.Millisecond))
	r := ld.wait()

	t.Logf("FIGURE: %d requests in %s over %d connections: %d ok, %d 5xx, %d other, %d connection errors; by Pod: %v",
		r.total(), duration, workers, r.ok, r.fivexx, r.other, r.connErrs, r.byBackend)
	t.Logf("the EndpointSlice controller wrote %d slice versions with terminating endpoints (%d of them serving)",
		terminating.slices.Load(), terminating.serving.Load())
	if r.fivexx != 0 || r.connErrs != 0 || r.other != 0 {
		t.Errorf("want zero 5xx and zero connection errors; first problem: %s", r.first)
	}
	if r.ok < 1000 {
		t.Errorf("only %d successful requests: the load was too light to prove anything", r.ok)
	}
	if len(r.byBackend) < 4 {
		t.Errorf("only %d Pods answered; want the 3 old and at least the surviving new one", len(r.byBackend))
	}
	if r.byBackend[final[0].Name] == 0 {
		t.Errorf("the surviving Pod %s never answered", final[0].Name)
	}
	if terminating.slices.Load() == 0 {
		t.Errorf("the EndpointSlice controller never reported a terminating endpoint")
	}
}

// terminatingSeen counts slice versions with terminating endpoints.
type terminatingSeen struct{ slices, serving atomic.Int64 }

func watchTerminating(t *testing.T, ns, service string) *terminatingSeen {
	t.Helper()
	w, err := cp.Client.DiscoveryV1().EndpointSlices(ns).Watch(t.Context(), metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	seen := &terminatingSeen{}
	go func() {
		for ev := range w.ResultChan() {
			s, ok := ev.Object.(*discoveryv1.EndpointSlice)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			term, serving := false, false
			for _, e := range s.Endpoints {
				if e.Conditions.Terminating != nil && *e.Conditions.Terminating {
					term = true
					serving = serving || (e.Conditions.Serving != nil && *e.Conditions.Serving)
				}
			}
			if term {
				seen.slices.Add(1)
			}
			if serving {
				seen.serving.Add(1)
			}
		}
	}()
	return seen
}

// TestKubectlLogsAndDeleteSIGTERM: kubectl logs of a Pod shows the request
// Portico sent it; kubectl delete pod gives its process SIGTERM, and the
// process exits well within its grace period.
func TestKubectlLogsAndDeleteSIGTERM(t *testing.T) {
	ns := harness.Namespace(t, cp)
	app(t, ns, "logs", "logs.pods.test", 1, nil)
	pod := harness.ReadyPods(t, cp, ns, "logs", 1, 60*time.Second)[0]
	p := harness.StartPortico(t, cp, "--access-log=false")
	path := fmt.Sprintf("/through-portico-%d", time.Now().UnixNano())
	harness.Eventually(t, 10*time.Second, wantBackend(p.Client(), "http://"+p.HTTPAddr+path, "logs.pods.test", pod.Name))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	logs := kubectl(t, ctx, "-n", ns, "logs", pod.Name)
	if !strings.Contains(logs, "GET logs.pods.test"+path) {
		t.Fatalf("kubectl logs %s does not show the request to %s:\n%s", pod.Name, path, logs)
	}

	// Follow the log while the Pod is deleted: the stream ends when the
	// process exits, and shows what it did on SIGTERM.
	var out bytes.Buffer
	follow := exec.CommandContext(ctx, filepath.Join(cp.BinDir, "kubectl"), "--kubeconfig="+cp.Kubeconfig,
		"-n", ns, "logs", "-f", pod.Name)
	follow.Stdout = &out
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- follow.Wait() }()
	time.Sleep(500 * time.Millisecond) // let the stream start
	deleted := time.Now()
	kubectl(t, ctx, "-n", ns, "delete", "pod", pod.Name, "--wait=false")
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("kubectl logs -f: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("kubectl logs -f did not end after the delete:\n%s", out.String())
	}
	exited := time.Since(deleted)
	grace := 10 * time.Second // harness.EchoDeployment's terminationGracePeriodSeconds
	t.Logf("FIGURE: process exited %v after kubectl delete pod (grace %v)", exited.Round(time.Millisecond), grace)
	if !strings.Contains(out.String(), "SIGTERM received") || !strings.Contains(out.String(), "exiting") {
		t.Errorf("the log does not show SIGTERM and a clean exit:\n%s", out.String())
	}
	if exited >= grace {
		t.Errorf("exited after %v, not within the grace period %v", exited, grace)
	}
}

// TestFailingReadinessGetsNoTraffic: a Pod whose readiness probe fails
// leaves the EndpointSlice's ready endpoints and gets no traffic; once the
// probe passes again it is back in rotation.
func TestFailingReadinessGetsNoTraffic(t *testing.T) {
	ns := harness.Namespace(t, cp)
	app(t, ns, "probe", "probe.pods.test", 2, func(s *corev1.PodSpec) {
		s.Containers[0].ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/__ready", Port: intstr.FromString("http")}},
			PeriodSeconds: 1, FailureThreshold: 1,
		}
	})
	pods := harness.ReadyPods(t, cp, ns, "probe", 2, 60*time.Second)
	sick, healthy := pods[0], pods[1]
	p := harness.StartPortico(t, cp, "--access-log=false")
	seeBackends(t, p, "probe.pods.test", podNames(pods), 15*time.Second)

	direct := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	toggle := func(path string) {
		t.Helper()
		resp, err := direct.Get("http://" + net.JoinHostPort(sick.Status.PodIP, "8080") + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	toggle("/__ready/fail")
	failed := time.Now()
	// Out of rotation: 50 requests in a row all reach the healthy Pod.
	harness.Eventually(t, 15*time.Second, func() error {
		for i := range 50 {
			status, name, _, err := harness.Get(p.Client(), "http://"+p.HTTPAddr+"/", "probe.pods.test")
			if err != nil || status != http.StatusOK || name != healthy.Name {
				return fmt.Errorf("request %d: %d from %q (%v), want %s only", i, status, name, err, healthy.Name)
			}
		}
		return nil
	})
	t.Logf("FIGURE: failing Pod out of rotation %v after its probe started failing", time.Since(failed).Round(time.Millisecond))
	sl, err := harness.ControllerSlices(cp, ns, "probe")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sl {
		for _, e := range s.Endpoints {
			if e.Addresses[0] == sick.Status.PodIP && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
				t.Errorf("the EndpointSlice still calls the failing Pod ready: %+v", e.Conditions)
			}
		}
	}
	toggle("/__ready/pass")
	passed := time.Now()
	seeBackends(t, p, "probe.pods.test", []string{sick.Name}, 15*time.Second)
	t.Logf("FIGURE: Pod back in rotation %v after its probe passed again", time.Since(passed).Round(time.Millisecond))
}

func kubectl(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	out, err := cp.Kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// podLoad sends GETs from workers connections for d (each worker at most
// maxPodLoad requests, about 1 ms apart) and counts answers by Pod.
type podLoad struct {
	wg                          sync.WaitGroup
	tr                          *http.Transport
	ok, fivexx, other, connErrs atomic.Int64
	first                       atomic.Value
	mu                          sync.Mutex
	byBackend                   map[string]int64
}

const maxPodLoad = 100_000

func startPodLoad(addr, host string, workers int, d time.Duration) *podLoad {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	l := &podLoad{byBackend: map[string]int64{}}
	l.tr = &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		}}
	c := &http.Client{Transport: l.tr, Timeout: 10 * time.Second}
	for range workers {
		l.wg.Go(func() {
			for n := 0; n < maxPodLoad && ctx.Err() == nil; n++ {
				l.once(c, host)
				time.Sleep(time.Millisecond)
			}
		})
	}
	go func() { l.wg.Wait(); cancel() }()
	return l
}

func (l *podLoad) once(c *http.Client, host string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/", nil)
	resp, err := c.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	switch {
	case err != nil:
		l.connErrs.Add(1)
		l.first.CompareAndSwap(nil, err.Error())
	case resp.StatusCode >= 500:
		l.fivexx.Add(1)
		l.first.CompareAndSwap(nil, fmt.Sprintf("status %d from %q", resp.StatusCode, resp.Header.Get("X-Backend")))
	case resp.StatusCode != http.StatusOK:
		l.other.Add(1)
		l.first.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
	default:
		l.ok.Add(1)
		l.mu.Lock()
		l.byBackend[resp.Header.Get("X-Backend")]++
		l.mu.Unlock()
	}
}

type podLoadResult struct {
	ok, fivexx, other, connErrs int64
	first                       string
	byBackend                   map[string]int64
}

func (r podLoadResult) total() int64 { return r.ok + r.fivexx + r.other + r.connErrs }

func (l *podLoad) wait() podLoadResult {
	l.wg.Wait()
	l.tr.CloseIdleConnections()
	r := podLoadResult{ok: l.ok.Load(), fivexx: l.fivexx.Load(), other: l.other.Load(), connErrs: l.connErrs.Load(), byBackend: l.byBackend}
	r.first, _ = l.first.Load().(string)
	return r
}
