package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"portico.dev/portico/test/harness"
)

// TestRBACNodePort runs Portico exactly as the nodeport overlay deploys it
// (its RBAC applied as rendered, a TokenRequest token of the portico
// ServiceAccount, the container's flags and downward-API environment, only
// the listen addresses moved to loopback) and shows it does its whole job
// while the API server refuses none of its requests, and refuses that
// identity what it must not do.
func TestRBACNodePort(t *testing.T) {
	ctx := context.Background()
	r := render(t, overlayNodePort)
	apply(t, r)
	var d appsv1.Deployment
	r.find(t, "Deployment", "portico", &d)
	svc, err := cp.Client.CoreV1().Services(porticoNamespace).Get(ctx, "portico", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	a := newApp(t, true, 1, 0)
	p, sa := runAsServiceAccount(t, d.Spec.Template, "portico-7d9f-abcde", a)
	// --publish-service=portico/portico: a NodePort Service has no load
	// balancer and no external IPs, so its cluster IP is published.
	harness.Eventually(t, 15*time.Second, wantStatus(a.ns, "site", svc.Spec.ClusterIP))
	denied(t, sa, a.ns, []string{"get nodes"}, func(sa kubernetes.Interface) error {
		_, err := sa.CoreV1().Nodes().Get(ctx, "any", metav1.GetOptions{})
		return err
	})
	noForbiddenInLog(t, p)
}

// TestRBACDaemonSet is TestRBACNodePort for the hostNetwork DaemonSet,
// whose status comes from the addresses of the nodes its pods run on. No
// kubelets run here: the Nodes and the DaemonSet's Pods (from its rendered
// template, admitted under the namespace's Pod Security level) are made by
// hand, placed with spec.nodeName like a scheduler would.
func TestRBACDaemonSet(t *testing.T) {
	ctx := context.Background()
	r := render(t, overlayDaemonSet)
	apply(t, r)
	var ds appsv1.DaemonSet
	r.find(t, "DaemonSet", "portico", &ds)

	nodes := map[string]string{"deploy-node-a": "198.51.100.71", "deploy-node-b": "198.51.100.72"}
	for name, ip := range nodes {
		n, err := cp.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cp.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}) })
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.71.0.1"}, {Type: corev1.NodeExternalIP, Address: ip}}
		if _, err := cp.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "portico-" + name[len(name)-1:], Labels: ds.Spec.Template.Labels}, Spec: *ds.Spec.Template.Spec.DeepCopy()}
		pod.Labels["controller-revision-hash"] = "6b5d8f"
		pod.Spec.NodeName = name
		if _, err := cp.Client.CoreV1().Pods(porticoNamespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("a Pod of the DaemonSet is not admitted: %v", err)
		}
	}

	a := newApp(t, true, 1, 0)
	p, sa := runAsServiceAccount(t, ds.Spec.Template, "portico-a", a)
	harness.Eventually(t, 15*time.Second, wantStatus(a.ns, "site", "198.51.100.71", "198.51.100.72"))
	denied(t, sa, a.ns, []string{"list nodes", "list pods in another namespace"},
		func(sa kubernetes.Interface) error {
			_, err := sa.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			return err
		},
		func(sa kubernetes.Interface) error {
			_, err := sa.CoreV1().Pods(a.ns).List(ctx, metav1.ListOptions{})
			return err
		})
	noForbiddenInLog(t, p)
}

// runAsServiceAccount starts Portico with tmpl's container args (listen
// addresses on loopback instead) and a kubeconfig holding a TokenRequest
// token of the portico ServiceAccount, with POD_NAME=podName and
// POD_NAMESPACE=portico as the downward API sets them. It checks the parts
// of the job both modes share: routing (also of an Ingress created later),
// TLS from a Secret, Events, the Lease and portico_leader. It returns
// Portico and a client with the same token. The test's status check and
// the refusals are up to the caller (and denied).
func runAsServiceAccount(t *testing.T, tmpl corev1.PodTemplateSpec, podName string, app *app) (*harness.Portico, kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	tok, err := cp.Client.CoreV1().ServiceAccounts(porticoNamespace).CreateToken(ctx, porticoSA, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := cp.KubeconfigForToken("sa-portico-"+podName, tok.Status.Token)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := kubernetes.NewForConfig(cp.ConfigForToken(tok.Status.Token))
	if err != nil {
		t.Fatal(err)
	}

	var args []string
	for _, a := range tmpl.Spec.Containers[0].Args {
		switch name, _, _ := strings.Cut(a, "="); name {
		case "--http-addr", "--https-addr", "--metrics-addr": // the harness picks loopback ports
		default:
			args = append(args, a)
		}
	}
	// Fail here, not later with a confusing symptom, if an env var the
	// test sets is not what the template sets.
	for _, e := range tmpl.Spec.Containers[0].Env {
		if e.ValueFrom == nil {
			t.Fatalf("the template sets env %s to a literal value: pass it to Portico here too", e.Name)
		}
	}
	t.Setenv("POD_NAME", podName)
	t.Setenv("POD_NAMESPACE", porticoNamespace)

	a := app.ns
	broken := harness.IngressObject(a, "broken", "portico", "broken."+a+".test", harness.Path("/", prefix, "missing", 80))
	harness.CreateIngress(t, cp, broken)

	before := forbiddenRequests(t)
	// The later --kubeconfig wins over the harness's admin one.
	p := harness.StartPortico(t, cp, append(args, "--kubeconfig", kubeconfig)...)
	c := p.Client()
	base := "http://" + p.HTTPAddr + "/"
	harness.Eventually(t, 15*time.Second, wantRouted(c, base, app.host))
	harness.Eventually(t, 15*time.Second, wantCertificate(p.HTTPSAddr, app.host, app.cert))
	harness.Eventually(t, 15*time.Second, wantEvent(a, "site", corev1.EventTypeNormal, "Admitted"))
	harness.Eventually(t, 15*time.Second, wantEvent(a, "broken", corev1.EventTypeWarning, "ServiceNotFound"))
	harness.Eventually(t, 15*time.Second, wantLeaseHolder(podName))
	harness.Eventually(t, 15*time.Second, func() error { return wantSample(p, "portico_leader", 1) })
	// Changes after start-up flow through the watches.
	harness.CreateIngress(t, cp, harness.IngressObject(a, "later", "portico", "later."+a+".test", harness.Path("/", prefix, "web", 80)))
	harness.Eventually(t, 15*time.Second, wantRouted(c, base, "later."+a+".test"))
	time.Sleep(time.Second) // a retrying forbidden watch or write would show by now
	if n := forbiddenRequests(t) - before; n != 0 {
		t.Errorf("the API server answered %.0f requests with 403 while Portico ran as its ServiceAccount", n)
	}
	return p, sa
}

// denied asserts that the ServiceAccount is refused what it must never do
// (in both modes, plus the mode's own extra cases), and that the API
// server's 403 counter saw every refusal, so the zero in
// runAsServiceAccount is a real measurement.
func denied(t *testing.T, sa kubernetes.Interface, appNS string, extraNames []string, extra ...func(kubernetes.Interface) error) {
	t.Helper()
	ctx := context.Background()
	// A Lease in Portico's namespace that is not the election Lease.
	if _, err := cp.Client.CoordinationV1().Leases(porticoNamespace).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "someone-else"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other, err := cp.Client.CoordinationV1().Leases(porticoNamespace).Get(ctx, "someone-else", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	web, err := cp.Client.CoreV1().Services(appNS).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret := func(ns string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "planted"}, StringData: map[string]string{"k": "v"}}
	}
	cases := []struct {
		name string
		call func(kubernetes.Interface) error
	}{
		{"list pods in all namespaces", func(sa kubernetes.Interface) error {
			_, err := sa.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"create a Deployment", func(sa kubernetes.Interface) error {
			_, err := sa.AppsV1().Deployments(appNS).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
			return err
		}},
		{"delete an Ingress", func(sa kubernetes.Interface) error {
			return sa.NetworkingV1().Ingresses(appNS).Delete(ctx, "site", metav1.DeleteOptions{})
		}},
		{"update a Service", func(sa kubernetes.Interface) error {
			_, err := sa.CoreV1().Services(appNS).Update(ctx, web, metav1.UpdateOptions{})
			return err
		}},
		{"patch Ingress status (Portico only updates it)", func(sa kubernetes.Interface) error {
			_, err := sa.NetworkingV1().Ingresses(appNS).Patch(ctx, "site", types.MergePatchType, []byte(`{"status":{}}`), metav1.PatchOptions{}, "status")
			return err
		}},
		{"update a Lease other than portico-leader", func(sa kubernetes.Interface) error {
			_, err := sa.CoordinationV1().Leases(porticoNamespace).Update(ctx, other, metav1.UpdateOptions{})
			return err
		}},
		{"delete the election Lease", func(sa kubernetes.Interface) error {
			return sa.CoordinationV1().Leases(porticoNamespace).Delete(ctx, electionLeaseName, metav1.DeleteOptions{})
		}},
		{"create a Lease in another namespace", func(sa kubernetes.Interface) error {
			_, err := sa.CoordinationV1().Leases(appNS).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: electionLeaseName}}, metav1.CreateOptions{})
			return err
		}},
		{"create a Secret in an application namespace", func(sa kubernetes.Interface) error {
			_, err := sa.CoreV1().Secrets(appNS).Create(ctx, secret(appNS), metav1.CreateOptions{})
			return err
		}},
		{"create a Secret in Portico's namespace (only the ACME component allows it)", func(sa kubernetes.Interface) error {
			_, err := sa.CoreV1().Secrets(porticoNamespace).Create(ctx, secret(porticoNamespace), metav1.CreateOptions{})
			return err
		}},
		{"list ClusterRoleBindings", func(sa kubernetes.Interface) error {
			_, err := sa.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
			return err
		}},
	}
	for i, f := range extra {
		cases = append(cases, struct {
			name string
			call func(kubernetes.Interface) error
		}{extraNames[i], f})
	}
	before := forbiddenRequests(t)
	for _, tc := range cases {
		if err := tc.call(sa); !apierrors.IsForbidden(err) {
			t.Errorf("%s: err = %v, want 403 Forbidden", tc.name, err)
		}
	}
	if n := forbiddenRequests(t) - before; n < float64(len(cases)) {
		t.Errorf("the API server's 403 counter rose by %.0f after %d refused requests; the zero-403 check cannot work", n, len(cases))
	}
}

func noForbiddenInLog(t *testing.T, p *harness.Portico) {
	t.Helper()
	if lines := logLinesContaining(t, p, "forbidden"); len(lines) != 0 {
		t.Errorf("Portico logged %d lines containing \"forbidden\", first: %s", len(lines), lines[0])
	}
}
