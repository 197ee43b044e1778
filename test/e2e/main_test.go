// Package e2e runs Portico as a user would: the real binary against a real
// kube-apiserver and etcd, reached only over its sockets, routing to real
// HTTP servers in network namespaces.
package e2e

import (
	"net"
	"testing"

	"portico.dev/portico/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) { harness.Main(m, &cp) }

// Shared helpers (test/harness/testing.go) under short local names.
var (
	pods          = harness.Pods
	listenBackend = harness.PodBackend
	hostOf        = harness.HostOf
	wantBackend   = harness.WantBackend
	wantStatus    = harness.WantStatus
	buildsTotal   = harness.BuildsTotal
)

// site creates Service name with addrs and an Ingress routing host / to it.
func site(t *testing.T, ns, name, host string, ann map[string]string, addrs ...string) {
	t.Helper()
	harness.Site(t, cp, ns, name, host, ann, addrs...)
}

func endpoints(bs ...*harness.Backend) []harness.Endpoint {
	var eps []harness.Endpoint
	for _, b := range bs {
		host, _, _ := net.SplitHostPort(b.Addr)
		eps = append(eps, harness.Endpoint{Addr: host})
	}
	return eps
}
