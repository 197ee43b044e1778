// Package nodeagent stands in for a kubelet and a container runtime in
// Portico's test cluster: it registers a Node, binds pending Pods to it (no
// scheduler runs), and runs each Pod's containers as real processes in a
// network namespace with a Pod IP, reporting their status the way a kubelet
// does, so Deployments, readiness and EndpointSlices come from Kubernetes
// itself (kube-controller-manager, see harness.Options.Controllers).
//
// Images are not pulled: each names a program built from source (images.go).
// What it does not do (exec, cgroups and resource limits, image
// filesystems) is listed in docs/testing.md.
//
// One goroutine per Pod owns that Pod (pod.go); informer handlers only hand
// it the latest object.
package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"portico.dev/portico/test/harness"
)

// Config configures Start.
type Config struct {
	Client   kubernetes.Interface
	NodeName string    // default "node-1"
	Dir      string    // work folder for programs, logs and volumes; required
	Log      io.Writer // the agent's own log lines; nil = discard
}

// Agent is one running node.
type Agent struct {
	NodeName string
	Bridge   *harness.Bridge // the node's pod network; Bridge.Prefix is its podCIDR
	// KubeletAddr is the HTTPS endpoint the API server calls for kubectl
	// logs (127.0.0.1:port, the port is in the Node's status).
	KubeletAddr string

	client   kubernetes.Interface
	dir      string
	log      io.Writer
	programs *programs
	mounts   *mountPoints
	kubelet  *kubeletServer
	informer informers.SharedInformerFactory
	ctx      context.Context // API calls of runners; cancelled by Stop
	cancel   context.CancelFunc
	stopCh   chan struct{} // closed by Stop
	wg       sync.WaitGroup

	mu       sync.Mutex // guards runners, binding, done, stopped
	runners  map[types.UID]*podRunner
	binding  map[types.UID]bool
	done     map[types.UID]bool // Pods whose runner ended: never run them again
	stopped  bool
	stopOnce sync.Once
}

// Start registers the Node, serves the kubelet endpoint and starts running
// Pods. ctx bounds only the start-up. Call Stop when done.
func Start(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.Dir == "" {
		return nil, errors.New("nodeagent: Config.Client and Config.Dir are required")
	}
	if cfg.NodeName == "" {
		cfg.NodeName = "node-1"
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "pods"), 0o755); err != nil {
		return nil, fmt.Errorf("nodeagent: %w", err)
	}
	a := &Agent{
		NodeName: cfg.NodeName,
		client:   cfg.Client,
		dir:      cfg.Dir,
		log:      cfg.Log,
		mounts:   newMountPoints(),
		stopCh:   make(chan struct{}),
		runners:  map[types.UID]*podRunner{},
		binding:  map[types.UID]bool{},
		done:     map[types.UID]bool{},
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.programs = newPrograms(a.ctx, filepath.Join(cfg.Dir, "bin"), cfg.Log)
	if err := a.start(ctx); err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

func (a *Agent) start(ctx context.Context) error {
	var err error
	if a.Bridge, err = harness.NewBridge(); err != nil {
		return fmt.Errorf("nodeagent: %w", err)
	}
	if a.kubelet, err = startKubeletServer(a); err != nil {
		return fmt.Errorf("nodeagent: %w", err)
	}
	a.KubeletAddr = a.kubelet.addr
	if err := a.registerNode(ctx); err != nil {
		return fmt.Errorf("nodeagent: register node %s: %w", a.NodeName, err)
	}
	a.wg.Go(a.heartbeat)

	factory := informers.NewSharedInformerFactory(a.client, 0)
	a.informer = factory
	pods := factory.Core().V1().Pods().Informer()
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.observe(obj) },
		UpdateFunc: func(_, obj any) { a.observe(obj) },
		DeleteFunc: a.forget,
	}); err != nil {
		return err
	}
	factory.Start(a.stopCh)
	if !cache.WaitForCacheSync(ctx.Done(), pods.HasSynced) {
		return errors.New("nodeagent: pod informer did not sync")
	}
	a.logf("node %s ready: pod CIDR %v, kubelet endpoint https://%s", a.NodeName, a.Bridge.Prefix, a.KubeletAddr)
	return nil
}

// observe hands a Pod to its runner, or binds it when no node has it.
func (a *Agent) observe(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	switch pod.Spec.NodeName {
	case "":
		if pod.DeletionTimestamp == nil && !a.binding[pod.UID] {
			a.binding[pod.UID] = true
			a.wg.Go(func() { a.bind(pod) })
		}
	case a.NodeName:
		delete(a.binding, pod.UID)
		r := a.runners[pod.UID]
		if r == nil {
			if a.done[pod.UID] {
				return
			}
			r = newPodRunner(a, pod)
			a.runners[pod.UID] = r
			a.wg.Go(func() {
				r.run()
				a.mu.Lock()
				delete(a.runners, pod.UID)
				a.done[pod.UID] = true
				a.mu.Unlock()
			})
		}
		r.update(pod)
	}
}

// forget tells a runner its Pod is gone from the API (force-deleted).
func (a *Agent) forget(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.binding, pod.UID)
	if r := a.runners[pod.UID]; r != nil {
		r.removed()
	}
}

// bind assigns a pending Pod to this node through pods/binding, as a
// scheduler does. A Pod bound meanwhile (conflict) or deleted is left alone.
func (a *Agent) bind(pod *corev1.Pod) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: a.NodeName},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		a.logf("bind %s/%s: %v", pod.Namespace, pod.Name, err)
		a.mu.Lock()
		delete(a.binding, pod.UID) // the next update of the Pod retries
		a.mu.Unlock()
	}
}

// Stop kills every process it started (SIGKILL, by PID: the cluster is
// being thrown away), removes the Pods' network namespaces and the mount
// points it created, and stops serving. Safe to call more than once.
func (a *Agent) Stop() {
	a.stopOnce.Do(func() {
		a.mu.Lock()
		a.stopped = true
		a.mu.Unlock()
		close(a.stopCh) // runners see it, kill their processes and clean up
		a.cancel()
		a.wg.Wait()
		if a.informer != nil {
			a.informer.Shutdown()
		}
		if a.kubelet != nil {
			a.kubelet.close()
		}
		if a.Bridge != nil {
			if err := a.Bridge.Close(); err != nil {
				a.logf("%v", err)
			}
		}
	})
}

func (a *Agent) logf(format string, args ...any) {
	fmt.Fprintf(a.log, "nodeagent: "+format+"\n", args...)
}
