package nodeagent

import (
	"context"
	"path/filepath"
	"testing"

	"portico.dev/portico/test/harness"
)

// StartFor starts an agent for cp's cluster (admin client, work folder in
// cp.Dir, cp's log) and stops it when cp stops.
func StartFor(ctx context.Context, cp *harness.ControlPlane) (*Agent, error) {
	a, err := Start(ctx, Config{Client: cp.Client, Dir: filepath.Join(cp.Dir, "node-1"), Log: cp.Log()})
	if err != nil {
		return nil, err
	}
	cp.OnStop(a.Stop)
	return a, nil
}

// Main is a TestMain for packages that run Pods: a control plane with
// kube-controller-manager and one node agent, shared by the package's tests.
//
//	var cp *harness.ControlPlane
//	var node *nodeagent.Agent
//	func TestMain(m *testing.M) { nodeagent.Main(m, &cp, &node) }
func Main(m *testing.M, cp **harness.ControlPlane, agent **Agent) {
	harness.MainWith(m, cp, harness.Options{Controllers: true}, func(ctx context.Context, c *harness.ControlPlane) error {
		var err error
		*agent, err = StartFor(ctx, c)
		return err
	})
}
