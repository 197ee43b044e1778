package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/test/harness"
)

// TestNginxCheckCluster runs `portico nginx-check` against the real
// apiserver: it lists the namespace's Ingresses and reports their
// ingress-nginx annotations as the controller would read them.
func TestNginxCheckCluster(t *testing.T) {
	ns := harness.Namespace(t, cp)
	prefix := networkingv1.PathTypePrefix
	for name, ann := range map[string]map[string]string{
		"shop": {"nginx.ingress.kubernetes.io/enable-modsecurity": "true", "nginx.ingress.kubernetes.io/proxy-read-timeout": "30"},
		"api":  {"nginx.ingress.kubernetes.io/limit-rps": "fast"},
	} {
		ing := harness.IngressObject(ns, name, "portico", name+".check.test", harness.Path("/", prefix, "svc", 80))
		ing.Annotations = ann
		harness.CreateIngress(t, cp, ing)
	}
	bin, err := harness.PorticoBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "nginx-check", "--kubeconfig", cp.Kubeconfig, "-n", ns, "--all").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1 (some annotations not honoured)\n%s", err, out)
	}
	for _, want := range []string{
		ns + "/api   nginx.ingress.kubernetes.io/limit-rps           invalid",
		ns + "/shop  nginx.ingress.kubernetes.io/enable-modsecurity  ignored   Portico has no web application firewall",
		ns + "/shop  nginx.ingress.kubernetes.io/proxy-read-timeout  honoured",
		"2 Ingresses, 3 annotations: 1 honoured, 1 ignored, 1 invalid",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
