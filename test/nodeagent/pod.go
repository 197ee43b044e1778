package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"portico.dev/portico/test/harness"
)

// setupRetry is how often a Pod whose Secret or ConfigMap is missing tries
// again, as a kubelet retries a mount.
const setupRetry = time.Second

// podRunner owns one Pod on this node, from binding to deletion: its
// network namespace, volumes, containers and status. Only its own goroutine
// (run) writes the Pod's status or deletes it.
type podRunner struct {
	agent *Agent
	uid   types.UID
	ns    string
	pod   string // name
	name  string // ns/name, for messages
	dir   string // logs and volumes

	wake        chan struct{} // cap 1: something changed
	gone        chan struct{} // closed when the Pod left the API
	goneOnce    sync.Once
	terminating chan struct{} // closed when termination starts: no restarts

	containers []*container // fixed at creation, like the Pod's spec

	mu       sync.Mutex // guards the fields below
	latest   *corev1.Pod
	netns    *harness.Pod
	volumes  map[string]string
	setupErr string

	// Only run's goroutine uses these.
	startTime  metav1.Time
	conditions map[corev1.PodConditionType]corev1.PodCondition
	written    string // status JSON last written
}

func newPodRunner(a *Agent, pod *corev1.Pod) *podRunner {
	r := &podRunner{
		agent: a, uid: pod.UID, ns: pod.Namespace, pod: pod.Name,
		name:        pod.Namespace + "/" + pod.Name,
		dir:         filepath.Join(a.dir, "pods", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)),
		wake:        make(chan struct{}, 1),
		gone:        make(chan struct{}),
		terminating: make(chan struct{}),
		latest:      pod,
		startTime:   metav1.Now(),
		conditions:  map[corev1.PodConditionType]corev1.PodCondition{},
	}
	for _, c := range pod.Spec.Containers {
		r.containers = append(r.containers, newContainer(r, c))
	}
	return r
}

// update hands the runner the latest object; removed says it is gone.
func (r *podRunner) update(pod *corev1.Pod) {
	r.mu.Lock()
	r.latest = pod
	r.mu.Unlock()
	r.changed()
}

func (r *podRunner) removed() { r.goneOnce.Do(func() { close(r.gone) }) }

func (r *podRunner) changed() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *podRunner) current() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latest
}

func (r *podRunner) spec() *corev1.PodSpec { return &r.current().Spec }

func (r *podRunner) podIP() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.netns == nil {
		return ""
	}
	return r.netns.Addrs[0].String()
}

func (r *podRunner) apiCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.agent.ctx, apiCallTimeout)
}

// run is the Pod's life on this node. It returns once the Pod is deleted
// from the API (by this runner, after its processes ended) or the agent
// stops, and everything it created is gone.
func (r *podRunner) run() {
	defer r.cleanup()
	kill := make(chan struct{}) // closed: end every process at once
	var wg sync.WaitGroup
	if r.setUp() {
		for _, c := range r.containers {
			wg.Go(func() { c.supervise(kill) })
		}
	}
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-r.agent.stopCh:
			close(kill)
			wg.Wait()
			return
		case <-r.gone: // force-deleted: nobody waits for a graceful end
			close(kill)
			wg.Wait()
			return
		case <-r.wake:
		case <-retry.C:
		}
		if r.current().DeletionTimestamp != nil {
			r.terminate(kill, &wg)
			return
		}
		if err := r.writeStatus(); err != nil {
			r.agent.logf("%s: status: %v", r.name, err)
			retry.Reset(time.Second)
		}
	}
}

// setUp creates the network namespace and volumes, retrying what a later
// try can fix (a missing Secret) until it works, the Pod is deleted or the
// agent stops. It reports whether containers may start.
func (r *podRunner) setUp() bool {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		r.failSetup(err)
		return false
	}
	netns, err := r.agent.Bridge.NewPod()
	if err != nil {
		r.failSetup(err)
		return false
	}
	r.mu.Lock()
	r.netns = netns
	r.mu.Unlock()
	for {
		if msg := unsupported(r.spec()); msg != "" {
			r.failSetup(fmt.Errorf("%s", msg))
			return false
		}
		ctx, cancel := r.apiCtx()
		vols, err := writeVolumes(ctx, r.agent, r.current(), filepath.Join(r.dir, "volumes"))
		cancel()
		if err == nil {
			r.mu.Lock()
			r.volumes, r.setupErr = vols, ""
			r.mu.Unlock()
			return true
		}
		r.failSetup(err)
		select {
		case <-r.agent.stopCh:
			return false
		case <-r.gone:
			return false
		case <-time.After(setupRetry):
		}
		if r.current().DeletionTimestamp != nil {
			return false
		}
	}
}

// unsupported names what in the spec this agent cannot run.
func unsupported(spec *corev1.PodSpec) string {
	if len(spec.InitContainers) > 0 {
		return "init containers are not supported by the test node agent"
	}
	return ""
}

func (r *podRunner) failSetup(err error) {
	r.mu.Lock()
	r.setupErr = err.Error()
	r.mu.Unlock()
	r.agent.logf("%s: %v", r.name, err)
	if err := r.writeStatus(); err != nil {
		r.agent.logf("%s: status: %v", r.name, err)
	}
}

// terminate is a graceful deletion: every container gets its preStop hook
// and SIGTERM, and SIGKILL at the end of the grace period; then the final
// status is written and the Pod deleted for good (grace 0, this UID only).
func (r *podRunner) terminate(kill chan struct{}, wg *sync.WaitGroup) {
	pod := r.current()
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.DeletionGracePeriodSeconds != nil {
		grace = *pod.DeletionGracePeriodSeconds
	}
	deadline := time.Now().Add(time.Duration(grace) * time.Second)
	r.agent.logf("%s: terminating, grace %ds", r.name, grace)
	close(r.terminating)
	var tw sync.WaitGroup
	for _, c := range r.containers {
		tw.Go(func() { c.terminate(deadline) })
	}
	tw.Wait()
	ended := make(chan struct{})
	go func() { wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(time.Until(deadline) + 2*time.Second): // a run that started late
		close(kill)
		<-ended
	}
	if err := r.writeStatus(); err != nil {
		r.agent.logf("%s: final status: %v", r.name, err)
	}
	r.deletePod()
}

// deletePod removes the Pod with grace 0 and a UID precondition (never a
// new Pod of the same name), retrying while the API server is away.
func (r *podRunner) deletePod() {
	for attempt := 0; ; attempt++ {
		ctx, cancel := r.apiCtx()
		err := r.agent.client.CoreV1().Pods(r.ns).Delete(ctx, r.pod, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &r.uid},
		})
		cancel()
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return
		}
		r.agent.logf("%s: delete: %v", r.name, err)
		select {
		case <-r.agent.stopCh:
			return
		case <-r.gone:
			return
		case <-time.After(min(time.Duration(attempt+1)*time.Second, 5*time.Second)):
		}
	}
}

// cleanup removes the network namespace; the files stay in dir (kubectl
// logs of a deleted Pod fails like a kubelet's, the folder goes with the
// cluster's).
func (r *podRunner) cleanup() {
	r.mu.Lock()
	netns := r.netns
	r.mu.Unlock()
	if netns != nil {
		if err := netns.Close(); err != nil {
			r.agent.logf("%s: %v", r.name, err)
		}
	}
}
