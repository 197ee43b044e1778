package e2e

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"portico.dev/portico/test/harness"
)

// namespacedRules is everything Portico needs with --watch-namespace and
// --publish-status-address or --publish-service in that namespace, and the
// leader election Lease there too. docs/rbac.md holds the same rules as YAML:
// keep them in step.
var namespacedRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses/status"}, Verbs: []string{"update"}},
	{APIGroups: []string{""}, Resources: []string{"services", "secrets"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
}

// forbiddenRequests is the API server's count of requests its authorizer
// refused (answered 403), from its own /metrics.
func forbiddenRequests(t *testing.T) float64 {
	t.Helper()
	raw, err := cp.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// RBAC alone answers "no opinion" to what it does not allow; the
		// request is then refused with 403.
		if strings.HasPrefix(line, "authorization_attempts_total{") &&
			(strings.Contains(line, `result="denied"`) || strings.Contains(line, `result="no-opinion"`)) {
			if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				n += v
			}
		}
	}
	return n
}

// TestNamespacedRBAC runs Portico with a ServiceAccount token bound to a
// namespaced Role only (no ClusterRole at all): it routes, writes status,
// sends Events and holds the Lease, and the API server answers none of its
// requests with 403 (IngressClasses, which are cluster-scoped, are not read:
// Portico checks its access first and matches spec.ingressClassName by name).
func TestNamespacedRBAC(t *testing.T) {
	ctx := context.Background()
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	webApp(t, ns, "site", "portico", "site.test")
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "broken", "portico", "broken.test", harness.Path("/", prefix, "missing", 80)))

	if _, err := cp.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "portico"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "portico"}, Rules: namespacedRules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "portico"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "portico"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "portico", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := cp.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "portico", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := cp.KubeconfigForToken("portico-"+ns, tok.Status.Token)
	if err != nil {
		t.Fatal(err)
	}

	before := forbiddenRequests(t)
	// The later --kubeconfig wins over the harness's admin one.
	p := startReplica(t, "portico-rbac", ns, append([]string{"--kubeconfig", kubeconfig, "--watch-namespace", ns,
		"--publish-status-address", "192.0.2.60"}, electionFlags(ns)...)...)
	c, base := p.Client(), "http://"+p.HTTPAddr

	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "site.test", "site-0"))
	harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "site", "192.0.2.60"))
	wantEvent(t, ns, "broken", corev1.EventTypeWarning, "ServiceNotFound")
	wantEvent(t, ns, "site", corev1.EventTypeNormal, "Admitted")
	harness.Eventually(t, 10*time.Second, func() error {
		if h, err := leaseHolder(ns, "portico-leader"); err != nil || h != "portico-rbac" {
			return fmt.Errorf("Lease holder %q (%v), want portico-rbac", h, err)
		}
		return nil
	})
	// A change after start-up still flows through the namespaced watches.
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "later", "portico", "later.test", harness.Path("/", prefix, "web", 80)))
	harness.Eventually(t, 10*time.Second, wantBackend(c, base+"/", "later.test", "site-0"))
	harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "later", "192.0.2.60"))
	time.Sleep(time.Second) // a retrying forbidden watch would show up by now

	if n := forbiddenRequests(t) - before; n != 0 {
		t.Errorf("the API server answered %.0f requests with 403 while Portico ran with its Role", n)
	}
	if n := logLines(t, p, "forbidden"); n != 0 {
		t.Errorf("Portico logged %d lines containing \"forbidden\"", n)
	}
	if logLines(t, p, "no permission to list and watch IngressClasses") != 1 {
		t.Errorf("Portico did not log its fallback to class names")
	}

	// The token really is that narrow: the same identity is refused elsewhere.
	sa, err := kubernetes.NewForConfig(cp.ConfigForToken(tok.Status.Token))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sa.NetworkingV1().Ingresses("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Ingresses in another namespace: err = %v, want forbidden", err)
	}
	if _, err := sa.NetworkingV1().IngressClasses().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing IngressClasses: err = %v, want forbidden", err)
	}
	// ...and the API server's 403 counter saw those two: the zero above
	// is a real measurement.
	if n := forbiddenRequests(t) - before; n < 2 {
		t.Errorf("authorization_attempts_total{result=denied|no-opinion} rose by %.0f after two refused requests; the forbidden check cannot work", n)
	}
}
