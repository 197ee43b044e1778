// Package harness runs a real Kubernetes control plane (etcd, kube-apiserver
// and, with Options.Controllers, kube-controller-manager; no kubelet: see
// test/nodeagent), network namespaces that stand in for pods, and echo
// backends, for Portico's end-to-end tests and demo.
//
// See /work/shared/testing.md for why the flags are what they are.
package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ControlPlane is one etcd plus one kube-apiserver on loopback ports.
type ControlPlane struct {
	Dir        string       // temp dir holding certs, data, kubeconfig, logs
	URL        string       // https://127.0.0.1:PORT
	Kubeconfig string       // path of an admin kubeconfig file (static token in group system:masters)
	Config     *rest.Config // admin
	Client     kubernetes.Interface
	BinDir     string // dir with kube-apiserver, kube-controller-manager, etcd, kubectl

	log      io.Writer
	pki      pkiFiles
	token    string // admin bearer token
	apiPort  int
	etcdURL  string
	mu       sync.Mutex // guards etcd, apiserv, kcm, onStop
	etcd     *process
	apiserv  *process
	kcm      *process
	onStop   []func()
	stopOnce sync.Once
}

// Options configure Start.
type Options struct {
	Log    io.Writer // progress + process output; nil = discard
	BinDir string    // "" = run hack/tools.sh k8s (see K8sBinDir)
	// Controllers also runs kube-controller-manager (Deployments,
	// ReplicaSets, EndpointSlices from Pods, namespace deletion, garbage
	// collection); Pods then need a node agent (test/nodeagent) to run.
	Controllers bool
}

const (
	startAttempts = 3                // new ports per attempt, for bind races with other processes
	readyTimeout  = 60 * time.Second // a fresh binary needs ~6 s on 2 cores; leave room for a loaded CI
)

// Start runs etcd and kube-apiserver on free loopback ports and returns once
// the API server's /readyz answers ok. Call Stop when done, also on failure
// paths of the caller.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	begin := time.Now()
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = K8sBinDir(ctx, logw); err != nil {
			return nil, err
		}
	} else if err := checkBinaries(binDir); err != nil {
		return nil, err
	}

	removeStaleDirs()
	// The pid in the name lets removeStaleDirs find dirs of killed runs.
	dir, err := os.MkdirTemp("", fmt.Sprintf("portico-cp-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("create control plane dir: %w", err)
	}
	c := &ControlPlane{Dir: dir, BinDir: binDir, log: logw}
	if err := c.setup(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	if opts.Controllers {
		if err := c.startControllerManager(ctx); err != nil {
			c.Stop()
			return nil, err
		}
	}
	fmt.Fprintf(logw, "harness: control plane ready at %s in %v (dir %s)\n", c.URL, time.Since(begin).Round(time.Millisecond), dir)
	return c, nil
}

func (c *ControlPlane) setup(ctx context.Context) error {
	// etcd creates its data dir itself (and warns unless it is mode 0700).
	if err := os.MkdirAll(filepath.Join(c.Dir, "logs"), 0o755); err != nil {
		return fmt.Errorf("create logs dir: %w", err)
	}
	var err error
	if c.pki, err = writePKI(c.Dir); err != nil {
		return err
	}
	if c.token, err = randomToken(); err != nil {
		return err
	}
	// Static token file format: token,user,uid,"group1,group2".
	tokens := c.token + `,portico-admin,portico-admin,"system:masters"` + "\n"
	if err := os.WriteFile(c.tokenFile(), []byte(tokens), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}

	var lastErr error
	for range startAttempts {
		ports, err := freePorts(3)
		if err != nil {
			return err
		}
		lastErr = c.startBoth(ctx, ports[0], ports[1], ports[2])
		if lastErr == nil {
			break
		}
		if !errors.Is(lastErr, errPortTaken) {
			return lastErr
		}
		fmt.Fprintf(c.log, "harness: %v; retrying with other ports\n", lastErr)
	}
	if lastErr != nil {
		return lastErr
	}

	c.Config = c.configForToken(c.token)
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("create admin client: %w", err)
	}
	c.Kubeconfig, err = c.KubeconfigForToken("admin", c.token)
	return err
}

var errPortTaken = errors.New("port already in use")

// startBoth starts etcd then the apiserver; on a bind race it stops whatever
// it started and returns an error wrapping errPortTaken.
func (c *ControlPlane) startBoth(ctx context.Context, etcdPort, peerPort, apiPort int) error {
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	c.apiPort = apiPort
	c.URL = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	if err := c.startEtcd(ctx, peerPort); err != nil {
		return err
	}
	if err := c.startAPIServerOnce(ctx); err != nil {
		c.mu.Lock()
		c.etcd.stop(0)
		c.etcd = nil
		c.mu.Unlock()
		// A failed etcd leaves data behind that names the old peer URL.
		if rmErr := os.RemoveAll(c.etcdDataDir()); rmErr != nil {
			return fmt.Errorf("%w (and clean etcd data: %v)", err, rmErr)
		}
		return err
	}
	return nil
}

func (c *ControlPlane) startEtcd(ctx context.Context, peerPort int) error {
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	args := []string{
		"--name=portico-test",
		"--data-dir=" + c.etcdDataDir(),
		"--listen-client-urls=" + c.etcdURL,
		"--advertise-client-urls=" + c.etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=portico-test=" + peerURL,
		"--unsafe-no-fsync", // test data is thrown away; fsync only costs time
		"--log-level=warn",
	}
	p, err := startProcess("etcd", filepath.Join(c.BinDir, "etcd"), args, c.logPath("etcd"), c.log)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, p, newPlainChecker(c.etcdURL+"/health")); err != nil {
		p.stop(0)
		// A failed start may leave data that names the old peer URL.
		if rmErr := os.RemoveAll(c.etcdDataDir()); rmErr != nil {
			return fmt.Errorf("%w (and clean etcd data: %v)", err, rmErr)
		}
		return err
	}
	c.mu.Lock()
	c.etcd = p
	c.mu.Unlock()
	return nil
}

// apiserverArgs are the same on every (re)start, so a restart is the same server.
func (c *ControlPlane) apiserverArgs() []string {
	return []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none", // else the loopback advertise address is refused
		"--secure-port=" + strconv.Itoa(c.apiPort),
		"--tls-cert-file=" + c.pki.serverCert,
		"--tls-private-key-file=" + c.pki.serverKey,
		"--client-ca-file=" + c.pki.caCert,
		"--token-auth-file=" + c.tokenFile(),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=" + c.URL,
		"--service-account-key-file=" + c.pki.saPublic,
		"--service-account-signing-key-file=" + c.pki.saPrivate,
		// No controller-manager creates default ServiceAccounts, so the
		// admission plugin that requires them would reject every Pod.
		"--disable-admission-plugins=ServiceAccount",
		"--cert-dir=" + filepath.Join(c.Dir, "apiserver-certs"),
		"--profiling=false",
		// kubectl logs: the API server calls the node agent at the Node's
		// InternalIP (127.0.0.1) and the port in the Node's
		// status.daemonEndpoints; with no --kubelet-certificate-authority it
		// does not verify the agent's self-signed certificate.
		"--kubelet-preferred-address-types=InternalIP",
	}
}

// startAPIServerOnce starts kube-apiserver and waits for /readyz.
func (c *ControlPlane) startAPIServerOnce(ctx context.Context) error {
	p, err := startProcess("kube-apiserver", filepath.Join(c.BinDir, "kube-apiserver"), c.apiserverArgs(), c.logPath("kube-apiserver"), c.log)
	if err != nil {
		return err
	}
	check, err := newTLSChecker(c.URL+"/readyz", c.pki.caPEM, c.token)
	if err != nil {
		p.stop(0)
		return err
	}
	if err := waitReady(ctx, p, check); err != nil {
		p.stop(0)
		return err
	}
	c.mu.Lock()
	c.apiserv = p
	c.mu.Unlock()
	return nil
}

// StopAPIServer stops only kube-apiserver, for tests of API outages. etcd and
// its data stay, so StartAPIServer brings back the same cluster state.
func (c *ControlPlane) StopAPIServer() error {
	c.mu.Lock()
	p := c.apiserv
	c.apiserv = nil
	c.mu.Unlock()
	if p == nil {
		return errors.New("stop kube-apiserver: not running")
	}
	// SIGTERM lets it close watches cleanly; it exits in about a second.
	p.stop(10 * time.Second)
	return nil
}

// StartAPIServer restarts kube-apiserver on the same port with the same flags
// and waits for /readyz. The port can be briefly held by another process;
// unlike the first start it cannot move, so it retries on the same port.
func (c *ControlPlane) StartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	running := c.apiserv != nil
	c.mu.Unlock()
	if running {
		return errors.New("start kube-apiserver: already running")
	}
	var err error
	for attempt := range 10 {
		if err = c.startAPIServerOnce(ctx); !errors.Is(err, errPortTaken) {
			return err
		}
		fmt.Fprintf(c.log, "harness: restart attempt %d: %v\n", attempt+1, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("start kube-apiserver: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return err
}

// Stop runs the OnStop hooks, kills the processes it started (by PID) and
// removes Dir. Safe to call more than
// once and on a partly started control plane.
func (c *ControlPlane) Stop() {
	if c == nil {
		return
	}
	c.stopOnce.Do(func() {
		c.mu.Lock()
		hooks := c.onStop
		c.onStop = nil
		c.mu.Unlock()
		for i := len(hooks) - 1; i >= 0; i-- {
			hooks[i]()
		}
		c.mu.Lock()
		kcm, api, etcd := c.kcm, c.apiserv, c.etcd
		c.kcm, c.apiserv, c.etcd = nil, nil, nil
		c.mu.Unlock()
		// SIGKILL: all state is thrown away, a graceful stop only costs time.
		kcm.stop(0)
		api.stop(0)
		etcd.stop(0)
		if err := os.RemoveAll(c.Dir); err != nil {
			fmt.Fprintf(c.log, "harness: remove %s: %v\n", c.Dir, err)
		}
	})
}

// OnStop registers f to run at the start of Stop, while the API server is
// still up, in reverse order of registration: a node agent that must stop
// its Pods' processes registers here.
func (c *ControlPlane) OnStop(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onStop = append(c.onStop, f)
}

// Log is where the control plane writes progress and process output
// (io.Discard unless Options.Log was set); helpers started with it log there too.
func (c *ControlPlane) Log() io.Writer { return c.log }

// Kubectl runs BinDir/kubectl against the cluster as admin and returns its
// stdout; on failure the error includes stderr.
func (c *ControlPlane) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	return runKubectl(ctx, filepath.Join(c.BinDir, "kubectl"), c.Kubeconfig, args...)
}

// KubectlAs is Kubectl with another kubeconfig (see KubeconfigForToken).
func (c *ControlPlane) KubectlAs(ctx context.Context, kubeconfig string, args ...string) ([]byte, error) {
	return runKubectl(ctx, filepath.Join(c.BinDir, "kubectl"), kubeconfig, args...)
}

func runKubectl(ctx context.Context, bin, kubeconfig string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return out, fmt.Errorf("kubectl %v: %w: %s", args, err, exitErr.Stderr)
		}
		return out, fmt.Errorf("kubectl %v: %w", args, err)
	}
	return out, nil
}

func (c *ControlPlane) tokenFile() string   { return filepath.Join(c.Dir, "tokens.csv") }
func (c *ControlPlane) etcdDataDir() string { return filepath.Join(c.Dir, "etcd") }
func (c *ControlPlane) logPath(name string) string {
	return filepath.Join(c.Dir, "logs", name+".log")
}
