package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

// Restart back-off: a kubelet starts at 10 s and caps at 5 min; tests want
// a crash loop to show quickly and never wait minutes.
const (
	backoffStart = time.Second
	backoffMax   = 30 * time.Second
	backoffReset = time.Minute // a run this long resets the back-off
)

// container supervises one container of a Pod: it starts the program,
// restarts it as restartPolicy says, probes readiness and keeps the state a
// ContainerStatus reports.
type container struct {
	spec corev1.Container
	pod  *podRunner

	mu        sync.Mutex // guards everything below
	state     corev1.ContainerState
	lastState corev1.ContainerState
	ready     bool
	started   bool
	restarts  int32
	proc      *process
	runs      []string // log file of each run, oldest first
	stopping  bool     // terminating: no more restarts
	imageID   string
}

func newContainer(r *podRunner, spec corev1.Container) *container {
	return &container{spec: spec, pod: r, state: corev1.ContainerState{
		Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"},
	}}
}

// supervise runs the container until the Pod terminates or, with
// restartPolicy Never or OnFailure, until it exits for good. Closing stop
// kills the program at once.
func (c *container) supervise(stop <-chan struct{}) {
	backoff := backoffStart
	for {
		ran, exited, err := c.runOnce(stop)
		c.mu.Lock()
		stopping := c.stopping
		c.mu.Unlock()
		if stopping || !c.restartAfter(exited) {
			return
		}
		if ran > backoffReset {
			backoff = backoffStart
		}
		if exited != nil {
			c.setWaiting("CrashLoopBackOff", fmt.Sprintf("back-off %v restarting failed container %s", backoff, c.spec.Name))
		} else {
			c.setWaiting(backoffReason(err), fmt.Sprintf("Back-off %v starting container %s (image %q): %v", backoff, c.spec.Name, c.spec.Image, err))
		}
		select {
		case <-stop:
			return
		case <-c.pod.terminating:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, backoffMax)
	}
}

func backoffReason(err error) string {
	var unknown errUnknownImage
	if errors.As(err, &unknown) {
		return "ImagePullBackOff"
	}
	return "CrashLoopBackOff"
}

// restartAfter applies restartPolicy to an exit (nil: the program could not
// start, which every policy retries as a kubelet does for image pulls).
func (c *container) restartAfter(exited *corev1.ContainerStateTerminated) bool {
	if exited == nil {
		return true
	}
	switch c.pod.spec().RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exited.ExitCode != 0
	}
	return true
}

// runOnce starts the program and waits for it to exit. exited is nil when
// it did not start; err then says why (also shown in the Waiting state).
func (c *container) runOnce(stop <-chan struct{}) (ran time.Duration, exited *corev1.ContainerStateTerminated, err error) {
	select {
	case <-c.pod.terminating:
		return 0, nil, errors.New("terminating")
	default:
	}
	prog, err := c.pod.agent.programs.resolve(c.spec.Image, stop, c.pod.terminating)
	if errors.Is(err, errGaveUp) {
		return 0, nil, err
	}
	if err != nil {
		reason := "ErrImagePull"
		var unknown errUnknownImage
		if !errors.As(err, &unknown) {
			reason = "ErrImageBuild"
		}
		c.setWaiting(reason, err.Error())
		return 0, nil, err
	}
	p, err := c.start(prog)
	if err != nil {
		c.setWaiting("RunContainerError", err.Error())
		return 0, nil, err
	}
	started := time.Now()
	c.mu.Lock()
	c.proc = p
	c.started = true // no startupProbe support: started once running
	c.ready = false
	c.imageID = "portico.dev/nodeagent/" + filepath.Base(prog)
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}
	if c.stopping { // terminate ran while this run was starting
		p.signal(syscall.SIGTERM)
	}
	c.mu.Unlock()
	c.pod.changed()

	probeCtx, cancel := context.WithCancel(context.Background())
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		c.probeReadiness(probeCtx, p)
	}()
	select {
	case <-p.exited:
	case <-stop: // the agent stops: kill at once
		p.kill()
		<-p.exited
	}
	cancel()
	<-probeDone

	t := p.terminated(started)
	c.mu.Lock()
	c.proc = nil
	c.ready, c.started = false, false
	c.state = corev1.ContainerState{Terminated: t}
	if !c.stopping && c.restartAfter(t) {
		c.lastState = c.state // shown while it waits and once it runs again
		c.restarts++
	}
	c.mu.Unlock()
	c.pod.changed()
	return time.Since(started), t, nil
}

// start runs prog inside the Pod's network namespace and a fresh mount and
// UTS namespace of its own (hostname = Pod name, volumes bind-mounted at
// their mountPaths). nsenter, unshare and sh all exec, so the PID started is
// the program's.
func (c *container) start(prog string) (*process, error) {
	r := c.pod
	ctx, cancel := r.apiCtx()
	defer cancel()
	env, err := containerEnv(ctx, r.agent, r.current(), r.podIP(), c.spec)
	if err != nil {
		return nil, err
	}
	mounts, err := containerMounts(c.spec, r.volumes, r.current())
	if err != nil {
		return nil, err
	}
	args := []string{"--net=/run/netns/" + r.netns.Name, "--",
		"unshare", "--mount", "--uts", "--propagation", "private", "--",
		"sh", "-c", mountScript, "sh", r.pod, prog}
	var used []string
	for _, m := range mounts {
		u, err := r.agent.mounts.acquire(m.src, m.dst)
		if err != nil {
			r.agent.mounts.release(used)
			return nil, fmt.Errorf("mount point %s: %w", m.dst, err)
		}
		used = append(used, u...)
		mode := "rw"
		if m.readOnly {
			mode = "ro"
		}
		args = append(args, m.src, m.dst, mode)
	}
	args = append(args, "--", prog)
	args = append(args, c.spec.Args...) // command is the image's entrypoint: the program

	c.mu.Lock()
	logPath := filepath.Join(r.dir, fmt.Sprintf("%s-%d.log", c.spec.Name, len(c.runs)))
	c.runs = append(c.runs, logPath)
	c.mu.Unlock()
	p, err := startProcess(args, env, c.workDir(), logPath)
	if err != nil {
		r.agent.mounts.release(used)
		return nil, err
	}
	go func() {
		<-p.exited
		r.agent.mounts.release(used)
	}()
	return p, nil
}

func (c *container) workDir() string {
	if fi, err := os.Stat(c.spec.WorkingDir); err == nil && fi.IsDir() {
		return c.spec.WorkingDir
	}
	return "/"
}

// mountScript runs in the new mount namespace: set the hostname, open the
// program, bind each "src dst ro|rw" triple, then exec the program after
// "--". A volume may be mounted over the folder that holds the program
// (CoreDNS's Corefile ConfigMap at /root, our programs in /root/.cache):
// the program is then run through the descriptor opened before the mounts,
// which it inherits as fd 3.
const mountScript = `set -e
hostname "$1"; shift
exec 3<"$1"; shift
while [ "$1" != "--" ]; do
  mount --bind "$1" "$2"
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$2"; fi
  shift 3
done
shift
if [ -e "$1" ]; then exec "$@" 3<&-; fi
shift
exec /proc/self/fd/3 "$@"`

func (c *container) setWaiting(reason, msg string) {
	c.mu.Lock()
	c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	c.ready = false
	c.mu.Unlock()
	c.pod.changed()
}

func (c *container) setReady(ready bool) {
	c.mu.Lock()
	changed := c.ready != ready && c.state.Running != nil
	if changed {
		c.ready = ready
	}
	c.mu.Unlock()
	if changed {
		c.pod.changed()
	}
}

// running returns the live process, or nil.
func (c *container) running() *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc
}

// terminate ends the container for a deleted Pod: no more restarts, the
// preStop hook, SIGTERM, and SIGKILL at deadline (at least 2 s after
// SIGTERM, as a kubelet allows).
func (c *container) terminate(deadline time.Time) {
	c.mu.Lock()
	c.stopping = true
	p := c.proc
	c.mu.Unlock()
	if p == nil {
		return
	}
	if h := c.spec.Lifecycle; h != nil && h.PreStop != nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		if err := c.runHook(ctx, p, h.PreStop); err != nil {
			c.pod.agent.logf("%s: preStop of %s: %v", c.pod.name, c.spec.Name, err)
		}
		cancel()
	}
	p.signal(syscall.SIGTERM)
	if min := time.Now().Add(2 * time.Second); deadline.Before(min) {
		deadline = min
	}
	select {
	case <-p.exited:
	case <-time.After(time.Until(deadline)):
		p.kill()
		<-p.exited
	}
}

// runHook runs a lifecycle handler: exec runs the command for real inside
// the container's namespaces (on this machine's file system), httpGet calls
// the Pod, sleep sleeps.
func (c *container) runHook(ctx context.Context, p *process, h *corev1.LifecycleHandler) error {
	switch {
	case h.Exec != nil && len(h.Exec.Command) > 0:
		args := append([]string{"-t", strconv.Itoa(p.pid()), "--net", "--mount", "--uts", "--"}, h.Exec.Command...)
		out, err := exec.CommandContext(ctx, "nsenter", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("exec %q: %w: %s", h.Exec.Command, err, out)
		}
		return nil
	case h.HTTPGet != nil:
		return httpProbe(ctx, c.pod.podIP(), c.spec, h.HTTPGet)
	case h.Sleep != nil:
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
		return nil
	}
	return errors.New("unsupported lifecycle handler")
}

// status is the container's ContainerStatus now.
func (c *container) status() corev1.ContainerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	started := c.started
	st := corev1.ContainerStatus{
		Name: c.spec.Name, Image: c.spec.Image, ImageID: c.imageID,
		State: c.state, LastTerminationState: c.lastState,
		Ready: c.ready, Started: &started, RestartCount: c.restarts,
	}
	if p := c.proc; p != nil {
		st.ContainerID = fmt.Sprintf("portico://%d", p.pid())
	}
	return st
}

// logPath is the log of the current run (previous: the one before).
func (c *container) logPath(previous bool) (path string, p *process, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.runs)
	if previous {
		if n < 2 {
			return "", nil, fmt.Errorf("previous terminated container %q in pod %q not found", c.spec.Name, c.pod.name)
		}
		return c.runs[n-2], nil, nil
	}
	if n == 0 {
		return "", nil, fmt.Errorf("container %q in pod %q is waiting to start", c.spec.Name, c.pod.name)
	}
	return c.runs[n-1], c.proc, nil
}

// process is one run of a program, signalled only by its own PID.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once Wait returned
	state  *os.ProcessState
	err    error
}

func startProcess(args, env []string, dir, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("nsenter", args...)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = logf, logf                   // one file, in order, as a runtime's log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's Ctrl-C reaches the test binary only
	if err := harness.StartCommand(cmd); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.state = cmd.ProcessState
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) pid() int                  { return p.cmd.Process.Pid }
func (p *process) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) } // fails only once it exited
func (p *process) kill()                     { p.signal(syscall.SIGKILL) }

// terminated describes the exit as a kubelet would.
func (p *process) terminated(started time.Time) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{StartedAt: metav1.NewTime(started), FinishedAt: metav1.Now(), Reason: "Completed"}
	if p.state == nil {
		t.ExitCode, t.Reason, t.Message = 128, "Error", fmt.Sprint(p.err)
		return t
	}
	ws, _ := p.state.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		t.ExitCode, t.Signal, t.Reason = 128+int32(ws.Signal()), int32(ws.Signal()), "Error"
	case ws.ExitStatus() != 0:
		t.ExitCode, t.Reason = int32(ws.ExitStatus()), "Error"
	}
	return t
}
