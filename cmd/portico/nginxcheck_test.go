package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const checkYAML = `apiVersion: v1
kind: List
items:
- apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata:
    name: shop
    namespace: web
    annotations:
      nginx.ingress.kubernetes.io/use-regex: "true"
      nginx.ingress.kubernetes.io/enable-modsecurity: "true"
---
apiVersion: v1
kind: Service
metadata: {name: ignored}
---
{"apiVersion": "networking.k8s.io/v1", "kind": "IngressList", "items": [
  {"metadata": {"name": "json", "namespace": "api", "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: api
  annotations:
    nginx.ingress.kubernetes.io/proxy-body-size: lots
`

func TestNginxCheckCommand(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "ings.yaml")
	if err := os.WriteFile(file, []byte(checkYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if rc := nginxCheckCommand([]string{"-f", file}, nil, &out, &errOut); rc != 1 {
		t.Fatalf("exit %d, want 1 (some not honoured); stderr %s", rc, errOut.String())
	}
	for _, want := range []string{
		"default/api  nginx.ingress.kubernetes.io/proxy-body-size     invalid",
		"web/shop     nginx.ingress.kubernetes.io/enable-modsecurity  ignored  Portico has no web application firewall",
		"web/shop     nginx.ingress.kubernetes.io/use-regex           differs  regular expressions are RE2",
		"3 Ingresses, 4 annotations: 2 honoured, 1 ignored, 1 invalid",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "api/json") {
		t.Errorf("honoured annotation listed without --all:\n%s", out.String())
	}

	// Everything honoured, from standard input, with --all: exit 0.
	out.Reset()
	in := strings.NewReader("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ok\n  annotations:\n    nginx.ingress.kubernetes.io/proxy-read-timeout: \"30\"\n")
	if rc := nginxCheckCommand([]string{"-f", "-", "--all"}, in, &out, &errOut); rc != 0 {
		t.Fatalf("exit %d, want 0:\n%s", rc, out.String())
	}
	if !strings.Contains(out.String(), "default/ok  nginx.ingress.kubernetes.io/proxy-read-timeout  honoured") {
		t.Errorf("--all output:\n%s", out.String())
	}

	// A document that does not parse: exit 1 with the document named.
	errOut.Reset()
	if rc := nginxCheckCommand([]string{"-f", "-"}, strings.NewReader("kind: Ingress\nmetadata: [\n"), &out, &errOut); rc != 1 ||
		!strings.Contains(errOut.String(), "document 1") {
		t.Errorf("bad YAML: exit %d, stderr %q", rc, errOut.String())
	}
	if rc := nginxCheckCommand([]string{"extra"}, nil, &out, &errOut); rc != 2 {
		t.Errorf("extra argument: exit %d, want 2", rc)
	}
}
