package harness

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one child (etcd or kube-apiserver) that this package started.
// It is only ever signalled by its own PID, never by name or group.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when Wait returns
	waitErr error         // valid after exited is closed
}

// spawnRequest asks the spawner goroutine to start a command.
type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnRequest
)

// startOnLockedThread starts cmd from one goroutine that is locked to its OS
// thread for the life of the process. Linux delivers Pdeathsig when the
// *thread* that forked the child exits, not the process; Go parks and retires
// threads freely, so forking from an arbitrary goroutine would kill children
// at random moments. The locked thread never exits, so the signal only fires
// when the whole test binary dies (including SIGKILL from a go test timeout).
func startOnLockedThread(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked on purpose
			for req := range spawnCh {
				req.done <- req.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnCh <- spawnRequest{cmd: cmd, done: done}
	return <-done
}

// startProcess runs bin with args, appending its output to logPath and
// copying it to extra (may be nil).
func startProcess(name, bin string, args []string, logPath string, extra io.Writer) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	var out io.Writer = logFile
	if extra != nil {
		out = io.MultiWriter(logFile, extra)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true, // a Ctrl-C in the terminal reaches the test binary, which cleans up
		Pdeathsig: syscall.SIGKILL,
	}
	if err := startOnLockedThread(cmd); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM, waits up to grace, then SIGKILL. grace 0 kills at once.
func (p *process) stop(grace time.Duration) {
	if p == nil {
		return
	}
	sig := syscall.SIGTERM
	if grace <= 0 {
		sig = syscall.SIGKILL
	}
	_ = p.cmd.Process.Signal(sig) // fails only if it already exited
	select {
	case <-p.exited:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// exitError describes an early exit, with the end of the log to show why.
func (p *process) exitError() error {
	return fmt.Errorf("%s exited early (%v); last log lines:\n%s", p.name, p.waitErr, p.logTail(30))
}

// bindFailed reports whether the log says a port was taken, which is worth a
// retry with other ports (another process grabbed one between pick and bind).
func (p *process) bindFailed() bool {
	return strings.Contains(p.logTail(50), "address already in use")
}

func (p *process) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// Another process can still take one before the child binds it; callers retry.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		listeners = append(listeners, l) // keep open so the next pick differs
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// StartCommand starts cmd so that it dies with the test binary (Pdeathsig
// from a thread that never exits; see startOnLockedThread). Callers own the
// process and stop it by its PID.
func StartCommand(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return startOnLockedThread(cmd)
}
