package harness

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
)

// Pods starts n echo backends in one new network namespace, named
// name-0..name-(n-1), each on its own address, port 8080, all closed when
// the test ends.
func Pods(t testing.TB, name string, n int) (*Pod, []*Backend) {
	t.Helper()
	pod, err := NewPod(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	var bs []*Backend
	for i, a := range pod.Addrs {
		bs = append(bs, PodBackend(t, pod, a, fmt.Sprintf("%s-%d", name, i)))
	}
	return pod, bs
}

// PodBackend starts an echo backend on a:8080 inside pod.
func PodBackend(t testing.TB, pod *Pod, a netip.Addr, name string) *Backend {
	t.Helper()
	l, err := pod.Listen("tcp", net.JoinHostPort(a.String(), "8080"))
	if err != nil {
		t.Fatal(err)
	}
	b := StartBackend(l, name)
	t.Cleanup(b.Close)
	return b
}

// HostOf is a backend's IP address, as an EndpointSlice names it.
func HostOf(b *Backend) string {
	h, _, _ := net.SplitHostPort(b.Addr)
	return h
}

// WantBackend checks (for Eventually) that one request lands on the named backend.
func WantBackend(c *http.Client, url, host, want string) func() error {
	return func() error {
		status, got, _, err := Get(c, url, host)
		if err != nil {
			return err
		}
		if status != http.StatusOK || got != want {
			return fmt.Errorf("GET %s (Host %s) = %d from %q, want 200 from %q", url, host, status, got, want)
		}
		return nil
	}
}

// WantStatus checks (for Eventually) that one request gets status want.
func WantStatus(c *http.Client, url, host string, want int) func() error {
	return func() error {
		status, _, _, err := Get(c, url, host)
		if err != nil {
			return err
		}
		if status != want {
			return fmt.Errorf("GET %s (Host %s) = %d, want %d", url, host, status, want)
		}
		return nil
	}
}

// Site creates Service name (port 80, named http) with the given endpoint
// addresses and an Ingress of the same name routing host / to it, with
// annotations ann.
func Site(t testing.TB, cp *ControlPlane, ns, name, host string, ann map[string]string, addrs ...string) {
	t.Helper()
	Service(t, cp, ns, name, 80)
	var eps []Endpoint
	for _, a := range addrs {
		eps = append(eps, Endpoint{Addr: a})
	}
	ApplyEndpointSlice(t, cp, EndpointSliceObject(ns, name, name+"-1", 8080, eps...))
	ing := IngressObject(ns, name, "portico", host, Path("/", networkingv1.PathTypePrefix, name, 80))
	ing.Annotations = ann
	CreateIngress(t, cp, ing)
}

// BuildsTotal sums portico_config_builds_total over its results.
func BuildsTotal(t testing.TB, p *Portico) int {
	t.Helper()
	m, err := p.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m, "portico_config_builds_total{") {
		t.Fatalf("no portico_config_builds_total in /metrics:\n%.3000s", m)
	}
	n := 0
	for line := range strings.SplitSeq(m, "\n") {
		if strings.HasPrefix(line, "portico_config_builds_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n
}

// ConfirmedSwaps updates Ingress ns/ingress (host, one Prefix path to
// Service ingress:80 whose endpoint answers as backend) n times, moving its
// path to /swap-i, and waits each time until the new path answers and the
// old one is gone, so every update is a table swap that is known to be live.
// After each it calls after(i); an error stops the test. It returns the
// number of table builds the swaps caused.
func ConfirmedSwaps(t testing.TB, cp *ControlPlane, p *Portico, ns, ingress, host, backend string, n int, wait time.Duration, after func(i int) error) int {
	t.Helper()
	c, base := p.Client(), "http://"+p.HTTPAddr
	builds := BuildsTotal(t, p)
	for i := 1; i <= n; i++ {
		path := fmt.Sprintf("/swap-%d", i)
		UpdateIngress(t, cp, ns, ingress, func(ing *networkingv1.Ingress) {
			ing.Spec.Rules[0].HTTP.Paths[0] = Path(path, networkingv1.PathTypePrefix, ingress, 80)
		})
		Eventually(t, wait, func() error {
			if err := WantBackend(c, base+path, host, backend)(); err != nil {
				return err
			}
			return WantStatus(c, base+fmt.Sprintf("/swap-%d", i-1), host, http.StatusNotFound)()
		})
		if err := after(i); err != nil {
			t.Fatalf("after %d table swaps: %v", i, err)
		}
	}
	return BuildsTotal(t, p) - builds
}
