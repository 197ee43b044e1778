package harness

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestControllerManagerRunsDeployments: with Options.Controllers a
// Deployment gets a ReplicaSet and Pods (which stay Pending: no node agent
// here), and a deleted namespace is emptied and goes away. It has a control
// plane of its own: with kube-controller-manager's watches open, stopping
// the API server (TestAPIServerRestartKeepsData) takes its full 10 s grace.
func TestControllerManagerRunsDeployments(t *testing.T) {
	ctx := t.Context()
	own, err := Start(ctx, Options{BinDir: cp.BinDir, Controllers: true, Log: cp.Log()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Stop)
	ns := "kcm-test"
	if _, err := own.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	_, err = own.Client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "portico.dev/echo"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	took := Eventually(t, 30*time.Second, func() error {
		pods, err := own.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(pods.Items) != 2 {
			return fmt.Errorf("%d pods, want 2", len(pods.Items))
		}
		return nil
	})
	t.Logf("Deployment to 2 Pods in %v", took.Round(time.Millisecond))

	if err := own.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The Pods have no node, so no kubelet has to confirm their end: the
	// namespace controller deletes them and then the namespace.
	Eventually(t, 60*time.Second, func() error {
		_, err := own.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace %s still there (err %v)", ns, err)
	})
}

// TestBridgePods: pods on one bridge get distinct addresses of its CIDR,
// answer from the root namespace, and give their address back on Close.
func TestBridgePods(t *testing.T) {
	b, err := NewBridge()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	var addrs []netip.Addr
	for i := range 3 {
		pod, err := b.NewPod()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pod.Close() })
		a := pod.Addrs[0]
		if !b.Prefix.Contains(a) || a == b.HostAddr || pod.HostAddr != b.HostAddr {
			t.Fatalf("pod %d: address %v, gateway %v; bridge %v on %v", i, a, pod.HostAddr, b.HostAddr, b.Prefix)
		}
		addrs = append(addrs, a)
		l, err := pod.Listen("tcp", net.JoinHostPort(a.String(), "8080"))
		if err != nil {
			t.Fatal(err)
		}
		be := StartBackend(l, fmt.Sprint("b", i))
		t.Cleanup(be.Close)
	}
	if addrs[0] == addrs[1] || addrs[1] == addrs[2] || addrs[0] == addrs[2] {
		t.Fatalf("addresses not distinct: %v", addrs)
	}
	for i, a := range addrs {
		status, name, _, err := Get(plainClient(), "http://"+net.JoinHostPort(a.String(), "8080")+"/", "")
		if err != nil || status != http.StatusOK || name != fmt.Sprint("b", i) {
			t.Errorf("GET %v = %d %q %v", a, status, name, err)
		}
	}
	// Addresses are handed out in order, not the one just freed.
	pod, err := b.NewPod()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Close() })
	if pod.Addrs[0] == addrs[0] || pod.Addrs[0] == addrs[2] {
		t.Errorf("fourth pod got %v, already given out in %v", pod.Addrs[0], addrs)
	}
}
