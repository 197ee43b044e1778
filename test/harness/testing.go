package harness

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"
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
