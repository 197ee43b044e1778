// Command demo runs Portico's main job on this machine: a local cluster
// (kube-apiserver, etcd, kube-controller-manager and a node agent that runs
// Pods as processes with real addresses in network namespaces), the
// ordinary sample manifests from deploy/examples/ (Deployments, Services,
// Ingresses), and Portico itself; then it prints curl lines that work and
// checks them. Ctrl-C stops everything it started. Needs root (network
// namespaces).
//
//	go run ./test/demo
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
	"portico.dev/portico/test/nodeagent"
	"portico.dev/portico/tlsstore"
)

func main() {
	httpAddr := flag.String("http-addr", "127.0.0.1:8080", "Portico's HTTP address")
	httpsAddr := flag.String("https-addr", "127.0.0.1:8443", "Portico's HTTPS address")
	metricsAddr := flag.String("metrics-addr", "127.0.0.1:10254", "Portico's metrics address")
	once := flag.Bool("once", false, "check the curl lines and exit instead of waiting for Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *httpAddr, *httpsAddr, *metricsAddr, *once); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) { fmt.Printf("demo: "+format+"\n", args...) }

func run(ctx context.Context, httpAddr, httpsAddr, metricsAddr string, once bool) error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: demo backends get real addresses in a network namespace")
	}
	for _, a := range []string{httpAddr, httpsAddr, metricsAddr} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("%s is taken (pick others with -http-addr, -https-addr, -metrics-addr): %w", a, err)
		}
		l.Close()
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}

	say("starting kube-apiserver, etcd and kube-controller-manager (the first run builds them: about 16 minutes)")
	binDir, err := harness.K8sBinDir(ctx, os.Stderr)
	if err != nil {
		return err
	}
	cp, err := harness.Start(ctx, harness.Options{BinDir: binDir, Controllers: true})
	if err != nil {
		return err
	}
	defer func() {
		cp.Stop() // stops the node agent first: its Pods' processes and namespaces
		_ = harness.ClosePods()
	}()
	node, err := nodeagent.StartFor(ctx, cp)
	if err != nil {
		return err
	}
	say("control plane up at %s; node %s runs Pods on %v (kubeconfig: %s)", cp.URL, node.NodeName, node.Bridge.Prefix, cp.Kubeconfig)

	if err := secret(ctx, cp); err != nil {
		return err
	}
	out, err := cp.Kubectl(ctx, "apply", "-f", filepath.Join(root, "deploy", "examples"))
	if err != nil {
		return fmt.Errorf("kubectl apply: %v\n%s", err, out)
	}
	fmt.Print(indent(string(out)))
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // covers building the echo program once
	defer cancel()
	if out, err := cp.Kubectl(wctx, "-n", "portico-demo", "wait", "--for=condition=Available", "deployment", "--all", "--timeout=110s"); err != nil {
		pods, _ := cp.Kubectl(ctx, "-n", "portico-demo", "get", "pods", "-o", "wide")
		return fmt.Errorf("deployments not available: %v\n%s\n%s", err, out, pods)
	}
	pods, err := cp.Kubectl(ctx, "-n", "portico-demo", "get", "pods", "-o", "wide")
	if err != nil {
		return err
	}
	say("the Deployments' Pods run as processes, each in its own network namespace:")
	fmt.Print(indent(string(pods)))

	say("building and starting portico")
	bin, err := harness.PorticoBinary()
	if err != nil {
		return err
	}
	logPath := filepath.Join(cp.Dir, "portico.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--kubeconfig", cp.Kubeconfig, "--http-addr", httpAddr,
		"--https-addr", httpsAddr, "--metrics-addr", metricsAddr)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	if err := waitReady(ctx, "http://"+metricsAddr+"/readyz", exited); err != nil {
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}
	say("portico is ready; its log: %s", logPath)

	if err := check(httpAddr, httpsAddr, metricsAddr, filepath.Join(cp.BinDir, "kubectl"), cp.Kubeconfig); err != nil {
		return err
	}
	if once {
		return nil
	}
	say("try the lines above; Ctrl-C stops everything")
	select {
	case <-ctx.Done():
		say("stopping")
	case err := <-exited:
		return fmt.Errorf("portico exited: %v (log: %s)", err, logPath)
	}
	return nil
}

// secret makes the TLS Secret the "secure" sample Ingress names, with a key
// generated now: no private key is ever committed.
func secret(ctx context.Context, cp *harness.ControlPlane) error {
	_, err := cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "portico-demo"}}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return err
	}
	now := time.Now()
	certPEM, keyPEM, err := tlsstore.SelfSigned([]string{"secure.portico.test"}, now.Add(-time.Hour), now.Add(30*24*time.Hour))
	if err != nil {
		return err
	}
	_, err = cp.Client.CoreV1().Secrets("portico-demo").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "secure-tls", Namespace: "portico-demo"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}, metav1.CreateOptions{})
	return err
}

func waitReady(ctx context.Context, url string, exited <-chan error) error {
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-exited:
			return fmt.Errorf("portico exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("portico not ready after 60s")
}

type probe struct {
	curl       string
	scheme     string
	host, path string
	want       string // "200 nginx-" (a Pod of Deployment nginx), "404", "308"
}

// check runs each printed curl line's request and shows what came back.
func check(httpAddr, httpsAddr, metricsAddr, kubectl, kubeconfig string) error {
	_, httpsPort, _ := net.SplitHostPort(httpsAddr)
	probes := []probe{
		{"curl -H 'Host: demo.portico.test' http://ADDR/nginx", "http", "demo.portico.test", "/nginx", "200 nginx-"},
		{"curl -H 'Host: demo.portico.test' http://ADDR/tomcat/index.jsp", "http", "demo.portico.test", "/tomcat/index.jsp", "200 tomcat-"},
		{"curl -H 'Host: echo.portico.test' http://ADDR/anything", "http", "echo.portico.test", "/anything", "200 echo-"},
		{"curl -H 'Host: a.apps.portico.test' http://ADDR/", "http", "a.apps.portico.test", "/", "200 echo-"},
		{"curl -i -H 'Host: demo.portico.test' http://ADDR/missing      # no rule: 404", "http", "demo.portico.test", "/missing", "404"},
		{"curl -i -H 'Host: other.portico.test' http://ADDR/           # another controller's Ingress: 404", "http", "other.portico.test", "/", "404"},
		{"curl -i -H 'Host: secure.portico.test' http://ADDR/          # TLS host: 308 to https", "http", "secure.portico.test", "/", "308"},
		{"curl -k --resolve secure.portico.test:" + httpsPort + ":127.0.0.1 https://secure.portico.test:" + httpsPort + "/", "https", "secure.portico.test", "/", "200 echo-"},
	}
	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	secure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "secure.portico.test"}, //nolint:gosec // self-signed demo certificate
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, httpsAddr)
		}}}
	fmt.Println()
	say("these curl lines work now (each was just tried):")
	failed := 0
	for _, p := range probes {
		line := strings.ReplaceAll(p.curl, "ADDR", httpAddr)
		url, c := "http://"+httpAddr+p.path, plain
		if p.scheme == "https" {
			url, c = "https://"+p.host+":"+httpsPort+p.path, secure
		}
		// The EndpointSlice controller may be a moment behind the Pods.
		got := try(c, url, p.host)
		for deadline := time.Now().Add(5 * time.Second); !p.matches(got) && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			got = try(c, url, p.host)
		}
		mark := "ok "
		if !p.matches(got) {
			mark, failed = "BAD", failed+1
		}
		fmt.Printf("  %s\n      -> %s  [%s, want %s]\n", line, got, mark, strings.Replace(p.want, "-", " (a Pod of that Deployment)", 1))
	}
	fmt.Printf("  curl -s http://%s/metrics | grep ^portico_\n  curl -s http://%s/readyz\n", metricsAddr, metricsAddr)
	fmt.Printf("  %s --kubeconfig %s -n portico-demo logs deploy/echo   # the requests a Pod served\n", kubectl, kubeconfig)
	fmt.Printf("  %s --kubeconfig %s -n portico-demo rollout restart deploy/echo   # new Pods, no failed request\n\n", kubectl, kubeconfig)
	if failed > 0 {
		return fmt.Errorf("%d of %d demo requests did not answer as expected", failed, len(probes))
	}
	return nil
}

// matches: want "200 echo-" is any Pod of Deployment echo.
func (p probe) matches(got string) bool {
	return got == p.want || (strings.HasSuffix(p.want, "-") && strings.HasPrefix(got, p.want))
}

func try(c *http.Client, url, host string) string {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if b := resp.Header.Get("X-Backend"); b != "" {
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	return fmt.Sprint(resp.StatusCode)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
