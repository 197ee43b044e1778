// Package e2e runs Portico as a user would: the real binary against a real
// kube-apiserver and etcd, reached only over its sockets, routing to real
// HTTP servers in network namespaces.
package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"portico.dev/portico/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) { harness.Main(m, &cp) }

// pods starts n echo backends in one new network namespace, named
// name-0..name-(n-1), each on its own address, port 8080.
func pods(t *testing.T, name string, n int) (*harness.Pod, []*harness.Backend) {
	t.Helper()
	pod, err := harness.NewPod(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	var bs []*harness.Backend
	for i, a := range pod.Addrs {
		bs = append(bs, listenBackend(t, pod, a, fmt.Sprintf("%s-%d", name, i)))
	}
	return pod, bs
}

func listenBackend(t *testing.T, pod *harness.Pod, a netip.Addr, name string) *harness.Backend {
	t.Helper()
	l, err := pod.Listen("tcp", net.JoinHostPort(a.String(), "8080"))
	if err != nil {
		t.Fatal(err)
	}
	b := harness.StartBackend(l, name)
	t.Cleanup(b.Close)
	return b
}

func endpoints(bs ...*harness.Backend) []harness.Endpoint {
	var eps []harness.Endpoint
	for _, b := range bs {
		host, _, _ := net.SplitHostPort(b.Addr)
		eps = append(eps, harness.Endpoint{Addr: host})
	}
	return eps
}
