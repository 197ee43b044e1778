package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce  sync.Once
	binaryPath string
	buildErr   error
)

// PorticoBinary builds ./cmd/portico once per test process and returns its path.
func PorticoBinary() (string, error) {
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "portico-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binaryPath = filepath.Join(dir, "portico")
		cmd := exec.Command("go", "build", "-o", binaryPath, "./cmd/portico")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/portico: %v\n%s", err, out)
		}
	})
	return binaryPath, buildErr
}

// Portico is a running portico process, reached only over its sockets.
type Portico struct {
	HTTPAddr, HTTPSAddr, MetricsAddr string // 127.0.0.1:PORT each
	Cmd                              *exec.Cmd
	LogPath                          string

	done    chan struct{}
	waitErr error
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
// All n listeners are held open until every port is chosen, so the kernel
// cannot hand out the same port twice.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// StartPortico runs the portico binary against cp with loopback listeners and
// the given extra flags, waits until /readyz answers 200, and stops it (by
// PID) when the test ends. Its log is printed if the test fails.
func StartPortico(t testing.TB, cp *ControlPlane, flags ...string) *Portico {
	t.Helper()
	dir := t.TempDir()
	p, err := StartPorticoE(cp, dir, flags...)
	if err != nil {
		t.Fatal(err)
	}
	// Ports are picked free but bound by the child later; another test
	// process may take one in between. Such a start is retried.
	for try := 0; try < 3 && p.exitedWithPortTaken(); try++ {
		if p, err = StartPorticoE(cp, dir, flags...); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		p.Stop(syscall.SIGTERM, 20*time.Second)
		if t.Failed() {
			if b, err := os.ReadFile(p.LogPath); err == nil {
				t.Logf("portico log (%s):\n%s", p.LogPath, tail(b, 200))
			}
		}
	})
	if err := p.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}

// StartPorticoE starts portico without waiting for readiness.
func StartPorticoE(cp *ControlPlane, dir string, flags ...string) (*Portico, error) {
	bin, err := PorticoBinary()
	if err != nil {
		return nil, err
	}
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	p := &Portico{
		HTTPAddr:    "127.0.0.1:" + strconv.Itoa(ports[0]),
		HTTPSAddr:   "127.0.0.1:" + strconv.Itoa(ports[1]),
		MetricsAddr: "127.0.0.1:" + strconv.Itoa(ports[2]),
		LogPath:     filepath.Join(dir, fmt.Sprintf("portico-%d.log", ports[0])),
		done:        make(chan struct{}),
	}
	args := []string{
		"--kubeconfig", cp.Kubeconfig,
		"--http-addr", p.HTTPAddr, "--https-addr", p.HTTPSAddr, "--metrics-addr", p.MetricsAddr,
		"--log-level", "debug",
	}
	args = append(args, flags...)
	logf, err := os.Create(p.LogPath)
	if err != nil {
		return nil, err
	}
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Stdout, p.Cmd.Stderr = logf, logf
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startOnLockedThread(p.Cmd); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting portico: %w", err)
	}
	go func() {
		p.waitErr = p.Cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// exitedWithPortTaken waits briefly and reports whether the process died
// because a listen address was in use.
func (p *Portico) exitedWithPortTaken() bool {
	select {
	case <-p.done:
	case <-time.After(300 * time.Millisecond):
		return false
	}
	b, _ := os.ReadFile(p.LogPath)
	return bytes.Contains(b, []byte("address already in use"))
}

// WaitReady polls /readyz until it answers 200.
func (p *Portico) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.LogPath)
			return fmt.Errorf("portico exited before ready: %v\n%s", p.waitErr, tail(b, 50))
		default:
		}
		if resp, err := c.Get("http://" + p.MetricsAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("portico not ready after %s (log: %s)", timeout, p.LogPath)
}

// Stop sends sig and waits up to grace for the exit, then kills.
func (p *Portico) Stop(sig syscall.Signal, grace time.Duration) error {
	if p.Cmd.Process == nil {
		return nil
	}
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
	return p.waitErr
}

// Done is closed when the process has exited.
func (p *Portico) Done() <-chan struct{} { return p.done }

// ExitErr is the process's exit status; valid after Done.
func (p *Portico) ExitErr() error { return p.waitErr }

// Client returns an HTTP client that sends every request to portico's HTTP
// listener whatever the URL's host, like a DNS entry pointing at it would.
func (p *Portico) Client() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: p.dialer(p.HTTPAddr), MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// TLSClient is Client for the HTTPS listener; roots nil skips verification
// (tests then check the served certificate themselves).
func (p *Portico) TLSClient(cfg *tls.Config) *http.Client {
	if cfg == nil {
		cfg = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // tests inspect the certificate
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: p.dialer(p.HTTPSAddr), TLSClientConfig: cfg,
			ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (p *Portico) dialer(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
}

// Metrics fetches /metrics.
func (p *Portico) Metrics() (string, error) {
	resp, err := http.Get("http://" + p.MetricsAddr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return b.String(), err
}

func tail(b []byte, lines int) []byte {
	n := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n++
			if n > lines {
				return b[i+1:]
			}
		}
	}
	return b
}
