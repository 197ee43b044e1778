package harness

import (
	"context"
	"fmt"
	"k8s.io/utils/ptr"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

var cp *ControlPlane

func TestMain(m *testing.M) { Main(m, &cp) }

// newNamespace creates a fresh namespace; nothing deletes namespaces for real
// here (no controller-manager), so every test uses its own.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns, err := cp.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "harness-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

func newTestPod(t *testing.T, n int) *Pod {
	t.Helper()
	pod, err := NewPod(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pod.Close(); err != nil {
			t.Error(err)
		}
	})
	return pod
}

func startBackend(t *testing.T, pod *Pod, addr netip.Addr, name string) *Backend {
	t.Helper()
	l, err := pod.Listen("tcp", netip.AddrPortFrom(addr, 8080).String())
	if err != nil {
		t.Fatal(err)
	}
	b := StartBackend(l, name)
	t.Cleanup(b.Close)
	return b
}

func plainClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
}

// TestEndpointSliceToPodBackend is the path every end-to-end test relies on:
// an EndpointSlice naming a pod address is accepted, and the address answers
// HTTP from the root namespace.
func TestEndpointSliceToPodBackend(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t)
	pod := newTestPod(t, 2)
	backend := startBackend(t, pod, pod.Addrs[1], "web-1")

	svc, err := cp.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	if svc.Spec.ClusterIP == "" {
		t.Errorf("service got no cluster IP")
	}
	port := int32(8080)
	_, err = cp.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "web-abc",
			Labels: map[string]string{discoveryv1.LabelServiceName: "web"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{pod.Addrs[1].String()}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: &port}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create endpointslice with pod address %v: %v", pod.Addrs[1], err)
	}

	status, echo, err := GetEcho(plainClient(), backend.URL+"/a%2Fb/c?x=1", "example.test")
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || echo.Backend != "web-1" || echo.Host != "example.test" ||
		echo.Path != "/a/b/c" || echo.RawPath != "/a%2Fb/c" || echo.Query != "x=1" {
		t.Errorf("echo = %d %+v", status, echo)
	}
	if got := backend.Requests.Load(); got != 1 {
		t.Errorf("Requests = %d, want 1", got)
	}

	out, err := cp.Kubectl(ctx, "-n", ns, "get", "endpointslices", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "web-abc") {
		t.Errorf("kubectl get endpointslices = %q, want web-abc", out)
	}
}

func TestBackendSpecialPathsAndH2C(t *testing.T) {
	pod := newTestPod(t, 1)
	backend := startBackend(t, pod, pod.Addrs[0], "b")

	status, name, _, err := Get(plainClient(), backend.URL+"/__status/503", "")
	if err != nil || status != 503 || name != "b" {
		t.Errorf("/__status/503 = %d %q %v", status, name, err)
	}

	start := time.Now()
	status, _, _, err = Get(plainClient(), backend.URL+"/__sleep?d=300ms", "")
	if err != nil || status != 200 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("/__sleep = %d %v after %v", status, err, time.Since(start))
	}

	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true) // only h2c: prior knowledge, no upgrade
	h2c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &protocols}}
	_, echo, err := GetEcho(h2c, backend.URL+"/", "")
	if err != nil || echo.Proto != "HTTP/2.0" {
		t.Errorf("h2c: proto %q, err %v", echo.Proto, err)
	}
}

// TestPodsConcurrently checks distinct subnets and clean removal when pods
// are created at the same time.
func TestPodsConcurrently(t *testing.T) {
	const n = 4
	pods := make([]*Pod, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { pods[i], errs[i] = NewPod(1) })
	}
	wg.Wait()
	seen := map[netip.Prefix]bool{}
	for i, p := range pods {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() { _ = p.Close() })
		if seen[p.Prefix] {
			t.Errorf("subnet %v handed out twice", p.Prefix)
		}
		seen[p.Prefix] = true
	}
	p := pods[0]
	extra := p.Addrs[0].Next()
	if err := p.AddAddr(extra); err != nil {
		t.Fatal(err)
	}
	startBackend(t, p, extra, "extra")
	if status, name, _, err := Get(plainClient(), "http://"+netip.AddrPortFrom(extra, 8080).String(), ""); err != nil || status != 200 || name != "extra" {
		t.Errorf("GET added address = %d %q %v", status, name, err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if linkExists(p.HostLink) || netnsExists(p.Name) {
		t.Errorf("pod %s left link or namespace behind", p.Name)
	}
}

func TestNewPodWithPrefix(t *testing.T) {
	prefix := netip.MustParsePrefix("10.199.7.0/28") // outside NewPod's range: no clash with parallel packages
	pod, err := NewPodWithPrefix(prefix, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer pod.Close()
	want := []string{"10.199.7.2", "10.199.7.3", "10.199.7.4"}
	if pod.HostAddr.String() != "10.199.7.1" || fmt.Sprint(pod.Addrs) != fmt.Sprint(want) {
		t.Errorf("host %v pods %v, want 10.199.7.1 %v", pod.HostAddr, pod.Addrs, want)
	}
	if _, err := NewPodWithPrefix(prefix, 1); err == nil {
		t.Errorf("second pod on %v: want an overlap error", prefix)
	}
}

// TestAPIServerRestartKeepsData is the outage scenario: objects survive a
// restart, and the server comes back on the same URL.
func TestAPIServerRestartKeepsData(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t)
	cms := cp.Client.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "keep"},
		Data:       map[string]string{"k": "v"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("StopAPIServer took %v", time.Since(start))
	shortCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err := cms.Get(shortCtx, "keep", metav1.GetOptions{})
	cancel()
	if err == nil {
		t.Fatalf("Get while the API server is stopped succeeded")
	}

	start = time.Now()
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("StartAPIServer took %v", time.Since(start))
	cm, err := cms.Get(ctx, "keep", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	if cm.Data["k"] != "v" {
		t.Errorf("data after restart = %v", cm.Data)
	}
}

// TestKubeconfigForTokenRBAC checks that a ServiceAccount token without any
// binding is authenticated but forbidden: RBAC is enforced for real.
func TestKubeconfigForTokenRBAC(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t)
	if _, err := cp.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "nobody"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cp.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "nobody", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}

	client, err := kubernetes.NewForConfig(cp.ConfigForToken(tr.Status.Token))
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("list configmaps as unbound ServiceAccount: err = %v, want Forbidden", err)
	}

	kubeconfig, err := cp.KubeconfigForToken("nobody", tr.Status.Token)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cp.KubectlAs(ctx, kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:" + ns + ":nobody"; string(out) != want {
		t.Errorf("whoami = %q, want %q", out, want)
	}
}

// TestListenerStaysInNamespace makes sure the namespace switch does not leak:
// a listener on a pod address is impossible in the root namespace.
func TestListenerStaysInNamespace(t *testing.T) {
	pod := newTestPod(t, 1)
	if l, err := net.Listen("tcp", netip.AddrPortFrom(pod.Addrs[0], 0).String()); err == nil {
		l.Close()
		t.Fatalf("root namespace can bind pod address %v", pod.Addrs[0])
	}
}
