package gatewayconformance

import (
	"testing"

	"portico.dev/portico/test/harness"
	"portico.dev/portico/test/nodeagent"
)

// One cluster per run: kube-apiserver, etcd, kube-controller-manager and a
// node agent that runs the suite's Pods.
var (
	cp   *harness.ControlPlane
	node *nodeagent.Agent
)

func TestMain(m *testing.M) { nodeagent.Main(m, &cp, &node) }
