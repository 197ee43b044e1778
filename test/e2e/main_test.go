// Package e2e runs Portico as a user would: the real binary against a real
// kube-apiserver and etcd, reached only over its sockets, routing to real
// HTTP servers in network namespaces. kube-controller-manager and a node
// agent (test/nodeagent) run too, so Deployments get real Pods and
// EndpointSlices (pods_test.go); other tests write EndpointSlices by hand
// for states a cluster cannot be coaxed into.
package e2e

import (
	"net"
	"testing"

	"portico.dev/portico/test/harness"
	"portico.dev/portico/test/nodeagent"
)

var (
	cp   *harness.ControlPlane
	node *nodeagent.Agent
)

func TestMain(m *testing.M) { nodeagent.Main(m, &cp, &node) }

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
