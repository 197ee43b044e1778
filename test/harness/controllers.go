package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// controllers are the kube-controller-manager loops a cluster that runs Pods
// needs here. No scheduler (the node agent binds Pods), no node lifecycle or
// pod GC (they would evict or delete Pods of a Node they judge dead), no
// ServiceAccount controllers (ServiceAccount admission is off).
var controllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"endpointslice-controller",
	"endpointslice-mirroring-controller",
	"namespace-controller",
	"garbage-collector-controller",
}

// controllerStarted are the log lines (at the default verbosity) with which
// each of those controllers announces its start.
var controllerStarted = []string{
	`"Starting controller" controller="deployment"`,
	`"Starting controller" name="replicaset"`,
	`"Starting endpoint slice controller"`,
	`"Starting EndpointSliceMirroring controller"`,
	`"Starting namespace controller"`,
	`"Starting controller" controller="garbagecollector"`,
}

// startControllerManager runs kube-controller-manager as admin. With
// --secure-port=0 it serves no health endpoint, so it counts as started once
// its log says every controller started (the flags were accepted); the loops
// then still sync their informers, which tests' waits cover.
func (c *ControlPlane) startControllerManager(ctx context.Context) error {
	begin := time.Now()
	args := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--controllers=" + strings.Join(controllers, ","),
		"--leader-elect=false",
		"--secure-port=0",
		"--concurrent-deployment-syncs=5",
		"--concurrent-replicaset-syncs=5",
		"--concurrent-service-endpoint-syncs=5",
		"--profiling=false",
	}
	p, err := startProcess("kube-controller-manager", filepath.Join(c.BinDir, "kube-controller-manager"), args, c.logPath("kube-controller-manager"), c.log)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, p, logSays(p, controllerStarted...)); err != nil {
		p.stop(0)
		return err
	}
	c.mu.Lock()
	c.kcm = p
	c.mu.Unlock()
	fmt.Fprintf(c.log, "harness: kube-controller-manager started in %v\n", time.Since(begin).Round(time.Millisecond))
	return nil
}

// logSays is a healthCheck that passes once p's log contains every line.
func logSays(p *process, lines ...string) healthCheck {
	return func(context.Context) error {
		log := p.logTail(1000)
		for _, l := range lines {
			if !strings.Contains(log, l) {
				return fmt.Errorf("log does not say %s yet", l)
			}
		}
		return nil
	}
}
