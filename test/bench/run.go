package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
	"portico.dev/portico/tlsstore"
)

// scenario is one fixed wrk setting.
type scenario struct {
	name      string
	https     bool
	host      string
	path      string
	conns     int
	closeEach bool // a new connection (and TLS handshake) per request
}

var scenarios = []scenario{
	{name: "http-1k-c64", host: "bench.test", path: "/1k", conns: 64},
	{name: "http-64k-c64", host: "bench.test", path: "/64k", conns: 64},
	{name: "http-1k-c1", host: "bench.test", path: "/1k", conns: 1},
	{name: "http-64k-c1", host: "bench.test", path: "/64k", conns: 1},
	{name: "https-1k-c64", https: true, host: "bench.test", path: "/1k", conns: 64},
	{name: "https-handshake-c64", https: true, host: "bench.test", path: "/1k", conns: 64, closeEach: true},
	{name: "hosts1k-http-1k-c64", host: "h500.bench.test", path: "/1k", conns: 64},
}

// sample is one wrk run against one target.
type sample struct {
	wrkResult
	cpuPerReq time.Duration
}

func run(ctx context.Context, o options) (string, error) {
	if os.Geteuid() != 0 {
		return "", errors.New("run as root (the backend lives in a network namespace)")
	}
	for _, bin := range []string{"nginx", "haproxy", "wrk", "taskset"} {
		if _, err := exec.LookPath(bin); err != nil {
			return "", fmt.Errorf("%s not found: run test/bench/run.sh, which installs it", bin)
		}
	}
	dir, err := os.MkdirTemp("", "portico-bench-")
	if err != nil {
		return "", err
	}
	if os.Getenv("BENCH_KEEP") == "" {
		defer os.RemoveAll(dir)
	}

	logf("starting the control plane")
	binDir, err := harness.K8sBinDir(ctx, os.Stderr)
	if err != nil {
		return "", err
	}
	cp, err := harness.Start(ctx, harness.Options{BinDir: binDir})
	if err != nil {
		return "", err
	}
	defer cp.Stop()

	pod, err := harness.NewPod(1)
	if err != nil {
		return "", err
	}
	defer pod.Close()
	upstream := net.JoinHostPort(pod.Addrs[0].String(), "8080")
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	backend, err := start("backend", filepath.Join(dir, "backend.log"),
		"ip", "netns", "exec", pod.Name, "taskset", "-c", "1", self, "backend", "-addr", upstream)
	if err != nil {
		return "", err
	}
	defer backend.stop()

	certPEM, keyPEM, err := tlsstore.SelfSigned([]string{"bench.test"}, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		return "", err
	}
	certFile, keyFile, pemFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "tls.pem")
	for f, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM, pemFile: append(append([]byte{}, certPEM...), keyPEM...)} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			return "", err
		}
	}
	if err := benchObjects(ctx, cp, pod.Addrs[0].String(), certPEM, keyPEM); err != nil {
		return "", err
	}

	report := ""
	if anySelected(o) {
		if report, err = sideBySide(ctx, o, cp, dir, upstream, certFile, keyFile, pemFile); err != nil {
			return "", err
		}
	}
	if o.scale {
		sc, err := scaleTest(ctx, cp, dir)
		report += sc
		if err != nil {
			return report, err
		}
	}
	return report, nil
}

// sideBySide starts nginx, HAProxy and Portico, runs the selected scenarios
// against each for every round, stops them and renders the tables.
func sideBySide(ctx context.Context, o options, cp *harness.ControlPlane, dir, upstream, certFile, keyFile, pemFile string) (string, error) {
	targets, err := startTargets(ctx, o, cp, dir, upstream, certFile, keyFile, pemFile)
	for _, t := range targets {
		defer t.proc.stop()
	}
	if err != nil {
		return "", err
	}

	results := map[string]map[string][]sample{} // scenario -> target -> rounds
	for round := 0; round < o.rounds; round++ {
		for si, sc := range scenarios {
			if !selected(o, sc.name) {
				continue
			}
			if results[sc.name] == nil {
				results[sc.name] = map[string][]sample{}
			}
			for k := range targets {
				t := targets[(k+round+si)%len(targets)] // rotate who goes first
				s, err := measure(ctx, o, t, sc)
				if err != nil {
					return "", fmt.Errorf("%s %s: %w", t.name, sc.name, err)
				}
				logf("round %d %-20s %-8s %8.0f req/s  %5.1f µs CPU/req  p99 %v  errors %d",
					round+1, sc.name, t.name, s.rps, us(s.cpuPerReq), s.p99, s.errors)
				results[sc.name][t.name] = append(results[sc.name][t.name], s)
			}
		}
	}
	rss := map[string][2]int64{}
	for _, t := range targets {
		cur, peak := t.proc.rss()
		rss[t.name] = [2]int64{cur, peak}
	}
	return renderReport(o, results, rss), nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// measure warms the target up, then runs wrk and charges the target's CPU
// time during the run to the requests wrk completed.
func measure(ctx context.Context, o options, t *target, sc scenario) (sample, error) {
	d := o.duration
	url := fmt.Sprintf("http://127.0.0.1:%d%s", t.ports.http, sc.path)
	if sc.https {
		url = fmt.Sprintf("https://127.0.0.1:%d%s", t.ports.https, sc.path)
	}
	// Warm-up: a second of load, whose result is not kept. On a loaded
	// machine it may complete nothing (64 TLS handshakes starved of CPU);
	// only a cancelled run stops here, the measured run decides the rest.
	if _, err := runWrk(ctx, url, sc.host, sc.conns, time.Second, sc.closeEach); ctx.Err() != nil {
		return sample{}, err
	}
	var profiled chan error
	if t.pprof != "" && o.pprofDir != "" {
		profiled = make(chan error, 1)
		go func() { profiled <- saveProfile(ctx, t.pprof, d, filepath.Join(o.pprofDir, sc.name+".pprof")) }()
	}
	before := t.proc.cpu()
	r, err := runWrk(ctx, url, sc.host, sc.conns, d, sc.closeEach)
	if err != nil {
		return sample{}, err
	}
	cpu := t.proc.cpu() - before
	if profiled != nil {
		if err := <-profiled; err != nil {
			logf("%s %s: no profile: %v", t.name, sc.name, err)
		}
	}
	return sample{wrkResult: r, cpuPerReq: cpu / time.Duration(r.requests)}, nil
}

func startTargets(ctx context.Context, o options, cp *harness.ControlPlane, dir, upstream, certFile, keyFile, pemFile string) ([]*target, error) {
	var targets []*target
	free := func() (ports, error) {
		p, err := harness.FreePorts(2)
		if err != nil {
			return ports{}, err
		}
		return ports{p[0], p[1]}, nil
	}

	np, err := free()
	if err != nil {
		return nil, err
	}
	conf, err := nginxConfig(dir, np, upstream, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	p, err := start("nginx", filepath.Join(dir, "nginx.log"), "taskset", "-c", "0",
		"nginx", "-c", conf, "-p", dir, "-g", "daemon off;")
	if err != nil {
		return nil, err
	}
	targets = append(targets, &target{name: "nginx", ports: np, proc: p})

	hp, err := free()
	if err != nil {
		return targets, err
	}
	hconf, err := haproxyConfig(dir, hp, upstream, pemFile)
	if err != nil {
		return targets, err
	}
	p, err = start("haproxy", filepath.Join(dir, "haproxy.log"), "taskset", "-c", "0", "haproxy", "-db", "-f", hconf)
	if err != nil {
		return targets, err
	}
	targets = append(targets, &target{name: "haproxy", ports: hp, proc: p})

	bin, err := harness.PorticoBinary()
	if err != nil {
		return targets, err
	}
	pt, err := startPortico(o, cp, dir, "portico", bin)
	if err != nil {
		return targets, err
	}
	targets = append(targets, pt)
	if o.baseline != "" {
		// Another build of Portico (e.g. main before a change), measured in
		// the same run on the same machine.
		bt, err := startPortico(o, cp, dir, "portico-baseline", o.baseline)
		if err != nil {
			return targets, err
		}
		targets = append(targets, bt)
	}

	// Every target must route both a plain and a 1k-hosts request before
	// anything is measured.
	for _, t := range targets {
		for _, host := range []string{"bench.test", "h500.bench.test"} {
			if err := waitOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/1k", t.ports.http), host); err != nil {
				return targets, fmt.Errorf("%s not routing %s: %w (logs in %s)", t.name, host, err, dir)
			}
		}
	}
	return targets, nil
}

// saveProfile records a CPU profile for the whole of a measured run (the
// profile's whole seconds, rounded down, start with wrk's run).
func saveProfile(ctx context.Context, url string, d time.Duration, path string) error {
	secs := max(int(d/time.Second), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s?seconds=%d", url, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startPortico runs one Portico binary as a bench target named name.
func startPortico(o options, cp *harness.ControlPlane, dir, name, bin string) (*target, error) {
	pp, err := harness.FreePorts(2)
	if err != nil {
		return nil, err
	}
	mport, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{"taskset", "-c", "0", "env", "GOMAXPROCS=1"}
	for _, kv := range strings.Split(o.env, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			args = append(args, kv)
		}
	}
	args = append(args, bin, "--kubeconfig", cp.Kubeconfig,
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", pp[0]), "--https-addr", fmt.Sprintf("127.0.0.1:%d", pp[1]),
		"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", mport), "--default-ssl-certificate", "bench/bench-tls")
	if o.pprofDir != "" {
		args = append(args, "--profiling")
	}
	if supportsFlag(bin, "access-log") {
		args = append(args, "--access-log="+strconv.FormatBool(o.accessLog))
	}
	p, err := start(name, filepath.Join(dir, name+".log"), args...)
	if err != nil {
		return nil, err
	}
	t := &target{name: name, ports: ports{pp[0], pp[1]}, proc: p}
	if o.pprofDir != "" {
		t.pprof = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile", mport)
	}
	return t, nil
}

func supportsFlag(bin, name string) bool {
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	return strings.Contains(string(out), "--"+name)
}

func waitOK(ctx context.Context, url, host string) error {
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Host = host
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return last
}

// benchObjects creates what a user would: a Service with an EndpointSlice,
// a TLS Secret, and Ingresses for bench.test and the 1,000 extra hosts.
func benchObjects(ctx context.Context, cp *harness.ControlPlane, addr string, certPEM, keyPEM []byte) error {
	c := cp.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := c.NetworkingV1().IngressClasses().Create(ctx, &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "portico"}, Spec: networkingv1.IngressClassSpec{Controller: harness.ControllerName},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "be"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if _, err := c.CoreV1().Services("bench").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	eps := harness.EndpointSliceObject("bench", "be", "be-1", 8080, harness.Endpoint{Addr: addr})
	if _, err := c.DiscoveryV1().EndpointSlices("bench").Create(ctx, eps, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := c.CoreV1().Secrets("bench").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "bench-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	hosts := []string{"bench.test"}
	for i := range extraHosts {
		hosts = append(hosts, fmt.Sprintf("h%d.bench.test", i))
	}
	return createIngresses(ctx, cp, "bench", hosts, 1, "be")
}

// createIngresses creates one Ingress per host with n Prefix paths each, 8 at a time.
func createIngresses(ctx context.Context, cp *harness.ControlPlane, ns string, hosts []string, n int, svc string) error {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	sem := make(chan struct{}, 8)
	for i, host := range hosts {
		paths := []networkingv1.HTTPIngressPath{harness.Path("/", networkingv1.PathTypePrefix, svc, 80)}
		for p := 1; p < n; p++ {
			paths = append(paths, harness.Path(fmt.Sprintf("/p%d", p), networkingv1.PathTypePrefix, svc, 80))
		}
		ing := harness.IngressObject(ns, fmt.Sprintf("ing-%d", i), "portico", host, paths...)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := cp.Client.NetworkingV1().Ingresses(ns).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
