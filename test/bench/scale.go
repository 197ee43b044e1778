package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

const (
	scaleIngresses = 10000
	scalePaths     = 5
	smallIngresses = 100
	changes        = 20
)

// scaleTest measures the control plane side at 10k Ingresses (10k hosts ×
// 5 paths): informer sync to first live table, memory, and how long a single
// change takes to be routed while 10k exist; then idle memory at 100.
func scaleTest(ctx context.Context, cp *harness.ControlPlane, dir string) (string, error) {
	var b strings.Builder
	b.WriteString("## Control plane at scale\n\n")
	for _, ns := range []string{"scale", "small"} {
		if err := scaleNamespace(ctx, cp, ns); err != nil {
			return "", err
		}
	}
	logf("creating %d Ingresses (%d paths each)", scaleIngresses, scalePaths)
	start := time.Now()
	if err := createIngresses(ctx, cp, "scale", hostsN("s%d.scale.test", scaleIngresses), scalePaths, "be"); err != nil {
		return "", err
	}
	if err := createIngresses(ctx, cp, "small", hostsN("m%d.small.test", smallIngresses), scalePaths, "be"); err != nil {
		return "", err
	}
	logf("created in %s", time.Since(start).Round(time.Millisecond))

	// 10k: the whole cluster's view (bench + scale + small Ingresses).
	p, err := harness.StartPorticoE(cp, dir, "--log-level", "debug", "--watch-namespace", "scale")
	if err != nil {
		return "", err
	}
	defer p.Stop(9, 5*time.Second)
	t0 := time.Now()
	if err := p.WaitReady(5 * time.Minute); err != nil {
		return "", err
	}
	ready := time.Since(t0)
	syncToTable, built, err := firstTable(p.LogPath)
	if err != nil {
		return "", err
	}
	var lat []float64
	c := p.Client()
	for i := range changes {
		host := fmt.Sprintf("new%d.scale.test", i)
		ing := harness.IngressObject("scale", fmt.Sprintf("new-%d", i), "portico", host,
			harness.Path("/", networkingv1.PathTypePrefix, "be", 80))
		s := time.Now()
		if _, err := cp.Client.NetworkingV1().Ingresses("scale").Create(ctx, ing, metav1.CreateOptions{}); err != nil {
			return "", err
		}
		if err := pollRouted(ctx, c, "http://"+p.HTTPAddr+"/1k", host); err != nil {
			return "", err
		}
		lat = append(lat, float64(time.Since(s)))
	}
	rss, peak := rssOf(p.Cmd.Process.Pid)
	slices.Sort(lat)
	fmt.Fprintf(&b, "%d Ingresses (%d hosts × %d paths) in one namespace, Portico watching it:\n\n", scaleIngresses, scaleIngresses, scalePaths)
	fmt.Fprintf(&b, "| measure | value |\n|---|--:|\n")
	fmt.Fprintf(&b, "| process start → ready | %s |\n", ready.Round(time.Millisecond))
	fmt.Fprintf(&b, "| informer sync → first live table | %s (%s) |\n", syncToTable.Round(time.Millisecond), built)
	fmt.Fprintf(&b, "| apply → routed, p50 of %d single changes | %s |\n", changes, dur(lat[len(lat)/2]))
	fmt.Fprintf(&b, "| apply → routed, p99 (max of %d) | %s |\n", changes, dur(lat[len(lat)-1]))
	fmt.Fprintf(&b, "| RSS / peak RSS | %.1f MiB / %.1f MiB |\n", mib(rss), mib(peak))
	p.Stop(15, 10*time.Second)

	small, err := harness.StartPorticoE(cp, dir, "--watch-namespace", "small")
	if err != nil {
		return b.String(), err
	}
	defer small.Stop(9, 5*time.Second)
	if err := small.WaitReady(time.Minute); err != nil {
		return b.String(), err
	}
	time.Sleep(5 * time.Second) // let start-up garbage be collected
	idle, _ := rssOf(small.Cmd.Process.Pid)
	fmt.Fprintf(&b, "| idle RSS with %d Ingresses | %.1f MiB |\n\n", smallIngresses, mib(idle))
	return b.String(), nil
}

func hostsN(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func scaleNamespace(ctx context.Context, cp *harness.ControlPlane, ns string) error {
	c := cp.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "be"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	// The same backend as the proxy benchmark.
	src, err := c.DiscoveryV1().EndpointSlices("bench").Get(ctx, "be-1", metav1.GetOptions{})
	if err != nil {
		return err
	}
	eps := harness.EndpointSliceObject(ns, "be", "be-1", 8080, harness.Endpoint{Addr: src.Endpoints[0].Addresses[0]})
	_, err = c.DiscoveryV1().EndpointSlices(ns).Create(ctx, eps, metav1.CreateOptions{})
	return err
}

func pollRouted(ctx context.Context, c *http.Client, url, host string) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Host = host
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s never routed", host)
}

// firstTable reads Portico's JSON log: the time from "informer caches
// synced" to the first "table built", and that build's own duration.
func firstTable(path string) (time.Duration, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	var synced time.Time
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		var line struct {
			Time   time.Time `json:"time"`
			Msg    string    `json:"msg"`
			Took   any       `json:"took"`
			Routes int       `json:"routes"`
		}
		if json.Unmarshal(s.Bytes(), &line) != nil {
			continue
		}
		switch line.Msg {
		case "informer caches synced":
			synced = line.Time
		case "table built":
			if !synced.IsZero() {
				return line.Time.Sub(synced), fmt.Sprintf("%d routes; compile took %v", line.Routes, fmtTook(line.Took)), nil
			}
		}
	}
	return 0, "", fmt.Errorf("no table build found in %s", filepath.Base(path))
}

func fmtTook(v any) string {
	if n, ok := v.(float64); ok { // slog's JSON handler writes durations as nanoseconds
		return time.Duration(n).Round(time.Millisecond).String()
	}
	return fmt.Sprint(v)
}

func rssOf(pid int) (cur, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var kb int64
		fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
		switch k {
		case "VmRSS":
			cur = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return cur, peak
}
