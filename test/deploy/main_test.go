// Package deploy tests what users install: the kustomize overlays in
// deploy/ rendered by a real kubectl and applied to a real API server, the
// RBAC in them with Portico running as their ServiceAccount, the Dockerfile,
// the Prometheus metrics and the Grafana dashboard.
//
// Tests here share the cluster-scoped objects and the namespace "portico"
// that the overlays create, so none of them runs in parallel; each one
// deletes what it applied (except the Namespace, which never finishes
// deleting without a controller-manager).
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"portico.dev/portico/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) { harness.Main(m, &cp) }

// The overlays users apply as they are.
const (
	overlayNodePort          = "deploy/overlays/nodeport"
	overlayDaemonSet         = "deploy/overlays/daemonset-hostnetwork"
	componentACME            = "deploy/components/acme"
	componentGatewayServices = "deploy/components/gateway-services"
	componentNginxConfigMap  = "deploy/components/nginx-configmap"
	porticoNamespace         = "portico"
	porticoSA                = "portico"
	electionLeaseName        = "portico-leader"
)

// rendered is the output of kubectl kustomize: the YAML as rendered and
// the objects in it, in order.
type rendered struct {
	yaml []byte
	objs []*unstructured.Unstructured
}

// repoPath is path (relative to the repository root) made absolute.
func repoPath(t *testing.T, path string) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, path)
}

// render runs the harness's kubectl kustomize on the overlay, plus any
// components (as a user adds them with "components:" in a kustomization of
// their own).
func render(t *testing.T, overlay string, components ...string) rendered {
	t.Helper()
	dir := repoPath(t, overlay)
	if len(components) > 0 {
		// kustomize refuses absolute resource paths: refer to the repository
		// relatively from a kustomization in a temporary folder.
		tmp := t.TempDir()
		rel := func(p string) string {
			r, err := filepath.Rel(tmp, repoPath(t, p))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [%s]\ncomponents:\n", rel(overlay))
		for _, c := range components {
			k += "  - " + rel(c) + "\n"
		}
		if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
		dir = tmp
	}
	out, err := cp.Kubectl(context.Background(), "kustomize", dir)
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", overlay, err)
	}
	objs, err := decodeAll(out)
	if err != nil {
		t.Fatalf("kubectl kustomize %s: output is not YAML objects: %v", overlay, err)
	}
	if len(objs) == 0 {
		t.Fatalf("kubectl kustomize %s rendered no objects", overlay)
	}
	return rendered{yaml: out, objs: objs}
}

func decodeAll(b []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find returns the rendered object of that kind and name, decoded into out.
func (r rendered) find(t *testing.T, kind, name string, out any) {
	t.Helper()
	for _, o := range r.objs {
		if o.GetKind() == kind && o.GetName() == name {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, out, true); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
}

// kinds is the set of "Kind/name" of the rendered objects.
func (r rendered) kinds() map[string]bool {
	m := map[string]bool{}
	for _, o := range r.objs {
		m[o.GetKind()+"/"+o.GetName()] = true
	}
	return m
}

// apply creates every rendered object for real with kubectl apply (which
// fails if the API server rejects any one of them), checks each one can be
// read back, and deletes them all except the Namespace when the test ends.
func apply(t *testing.T, r rendered) {
	t.Helper()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(file, r.yaml, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteApplied(t, r) })
	out, err := cp.Kubectl(ctx, "apply", "-f", file)
	if err != nil {
		t.Fatalf("the API server rejected a rendered object: %v\n%s", err, out)
	}
	got, err := cp.Kubectl(ctx, "get", "-f", file, "-o", "name")
	if err != nil {
		t.Fatalf("reading back the applied objects: %v", err)
	}
	if n := len(strings.Fields(string(got))); n != len(r.objs) {
		t.Fatalf("rendered %d objects, %d exist after apply:\n%s", len(r.objs), n, got)
	}
}

// deleteApplied removes what apply created (but the Namespace) and what a
// test made in Portico's namespace, so the next test sees only its own
// overlay's RBAC.
func deleteApplied(t *testing.T, r rendered) {
	ctx := context.Background()
	list := map[string]any{"apiVersion": "v1", "kind": "List"}
	var items []any
	for _, o := range r.objs {
		if o.GetKind() != "Namespace" {
			items = append(items, o.Object)
		}
	}
	list["items"] = items
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "delete.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Kubectl(ctx, "delete", "--ignore-not-found", "--wait=false", "-f", file); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	zero := int64(0)
	_ = cp.Client.CoreV1().Pods(porticoNamespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	if err := cp.Client.CoordinationV1().Leases(porticoNamespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("cleanup: leases: %v", err)
	}
}
