package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"portico.dev/portico/test/harness"
)

// TestIngressClassOwnership: Portico writes status only on Ingresses it
// serves; another controller's Ingress keeps its status, an unknown class
// and a class-less Ingress get none (and no Events) until a default
// IngressClass of Portico's makes class-less Ingresses admitted; writes are
// idempotent; losing the class withdraws only Portico's own status.
func TestIngressClassOwnership(t *testing.T) {
	ctx := context.Background()
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	other := "other-" + ns
	ingressClass(t, other, "example.com/other-controller", false)
	webApp(t, ns, "ours", "portico", "ours.test")
	// Every foreign Ingress points at a missing Service: if Portico wrongly
	// took one, it would also send a ServiceNotFound Event.
	missing := harness.Path("/", prefix, "no-such-service", 80)
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "theirs", other, "theirs.test", missing))
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "unknown", "no-such-class-"+ns, "unknown.test", missing))
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "legacy-theirs", "", "legacy.test", missing))
	harness.UpdateIngress(t, cp, ns, "legacy-theirs", func(ing *networkingv1.Ingress) {
		ing.Annotations = map[string]string{"kubernetes.io/ingress.class": "nginx"}
	})
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "classless", "", "classless.test", harness.Path("/", prefix, "web", 80)))
	// The other controller has published its own address.
	theirs, err := cp.Client.NetworkingV1().Ingresses(ns).Get(ctx, "theirs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	theirs.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "198.51.100.99"}}
	if _, err := cp.Client.NetworkingV1().Ingresses(ns).UpdateStatus(ctx, theirs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	p := startReplica(t, "portico-class", "", append([]string{"--watch-namespace", ns, "--publish-status-address", "192.0.2.20"}, electionFlags(ns)...)...)
	c, base := p.Client(), "http://"+p.HTTPAddr
	harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "ours", "192.0.2.20"))

	foreign := func() error {
		for name, want := range map[string][]string{"theirs": {"198.51.100.99"}, "unknown": nil, "legacy-theirs": nil, "classless": nil} {
			if err := wantStatusAddrs(ns, name, want...)(); err != nil {
				return err
			}
			evs, err := eventsFor(ns, name)
			if err != nil {
				return err
			}
			if len(evs) > 0 {
				return fmt.Errorf("Ingress %s got Events: %s: %s", name, evs[0].Reason, evs[0].Message)
			}
		}
		return nil
	}
	t.Run("other classes get no status and no Events", func(t *testing.T) {
		staysTrue(t, 1500*time.Millisecond, foreign)
		harness.Eventually(t, time.Second, wantStatus(c, base+"/", "classless.test", 404))
	})

	t.Run("a rebuild with nothing new writes nothing", func(t *testing.T) {
		before, err := cp.Client.NetworkingV1().Ingresses(ns).Get(ctx, "ours", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		builds := func() float64 {
			v, err := metric(p, `portico_config_builds_total{result="success"}`)
			if err != nil {
				t.Fatal(err)
			}
			w, _ := metric(p, `portico_config_builds_total{result="partial"}`)
			return v + w
		}
		n, writes := builds(), logLines(t, p, "ingress status written")
		harness.Service(t, cp, ns, "poke", 80) // any watched change triggers a build
		harness.Eventually(t, 5*time.Second, func() error {
			if builds() <= n {
				return fmt.Errorf("no build after the change")
			}
			return nil
		})
		time.Sleep(500 * time.Millisecond) // room for a (wrong) status write to land
		after, err := cp.Client.NetworkingV1().Ingresses(ns).Get(ctx, "ours", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The API server drops identical updates without a new
		// resourceVersion, so count Portico's write calls too.
		if w := logLines(t, p, "ingress status written"); w != writes {
			t.Errorf("a no-op build made %d status write calls", w-writes)
		}
		if after.ResourceVersion != before.ResourceVersion {
			t.Errorf("Ingress rewritten by a no-op build: resourceVersion %s -> %s", before.ResourceVersion, after.ResourceVersion)
		}
	})

	t.Run("a default IngressClass makes class-less Ingresses admitted", func(t *testing.T) {
		ingressClass(t, "portico-default-"+ns, harness.ControllerName, true)
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "classless", "192.0.2.20"))
		harness.Eventually(t, 5*time.Second, wantBackend(c, base+"/", "classless.test", "ours-0"))
		// Created now, the API server's DefaultIngressClass admission names
		// the default class in spec; Portico serves it either way.
		created := harness.CreateIngress(t, cp, harness.IngressObject(ns, "classless-new", "", "new.test", harness.Path("/", prefix, "web", 80)))
		t.Logf("class-less Ingress created with a default class present: spec.ingressClassName = %v", ptr.Deref(created.Spec.IngressClassName, "<nil>"))
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "classless-new", "192.0.2.20"))
		if err := wantStatusAddrs(ns, "theirs", "198.51.100.99")(); err != nil {
			t.Error(err)
		}
	})

	t.Run("moving an Ingress to another class withdraws only Portico's status", func(t *testing.T) {
		harness.UpdateIngress(t, cp, ns, "ours", func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = ptr.To(other) })
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "ours"))
		harness.Eventually(t, 5*time.Second, wantStatus(c, base+"/", "ours.test", 404))
		staysTrue(t, time.Second, wantStatusAddrs(ns, "theirs", "198.51.100.99"))
	})
}

// TestStatusAddressModes: the three sources of status addresses.
func TestStatusAddressModes(t *testing.T) {
	ctx := context.Background()
	harness.EnsureIngressClass(t, cp, "portico", false)

	t.Run("--publish-service: load balancer, else external IPs, else cluster IP", func(t *testing.T) {
		ns := harness.Namespace(t, cp)
		webApp(t, ns, "site", "portico", "site.test")
		svc, err := cp.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "portico"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		startReplica(t, "portico-svc", "", append([]string{"--watch-namespace", ns, "--publish-service", ns + "/portico"}, electionFlags(ns)...)...)
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "site", svc.Spec.ClusterIP))

		svc.Spec.ExternalIPs = []string{"192.0.2.31", "192.0.2.32"}
		if svc, err = cp.Client.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "site", "192.0.2.31", "192.0.2.32"))

		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.5"}, {Hostname: "lb.example.test"}}
		if _, err = cp.Client.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "site", "203.0.113.5", "lb.example.test"))
	})

	t.Run("--publish-status-address: IPs and host names", func(t *testing.T) {
		ns := harness.Namespace(t, cp)
		webApp(t, ns, "site", "portico", "site.test")
		startReplica(t, "portico-static", "", append([]string{"--watch-namespace", ns,
			"--publish-status-address", "192.0.2.41, edge.example.test"}, electionFlags(ns)...)...)
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "site", "192.0.2.41", "edge.example.test"))
		ing, err := cp.Client.NetworkingV1().Ingresses(ns).Get(ctx, "site", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range ing.Status.LoadBalancer.Ingress {
			if (a.IP == "") == (a.Hostname == "") || a.IP == "edge.example.test" || a.Hostname == "192.0.2.41" {
				t.Errorf("status entry %+v: IPs belong in ip, names in hostname", a)
			}
		}
	})

	t.Run("hostNetwork: addresses of the nodes running Portico pods", func(t *testing.T) {
		ns := harness.Namespace(t, cp)
		webApp(t, ns, "site", "portico", "site.test")
		// No kubelets here: Nodes and Pods are made by hand, placed by
		// spec.nodeName like a scheduler would.
		node := func(name string, addrs ...corev1.NodeAddress) {
			n, err := cp.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cp.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}) })
			n.Status.Addresses = addrs
			if _, err := cp.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		pod := func(name, nodeName string, labels map[string]string) {
			_, err := cp.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
				Spec: corev1.PodSpec{NodeName: nodeName, HostNetwork: true,
					Containers: []corev1.Container{{Name: "portico", Image: "portico:test"}}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
		}
		nodeA, nodeB, nodeC := ns+"-a", ns+"-b", ns+"-c"
		node(nodeA, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.1.0.1"}, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "198.51.100.1"})
		node(nodeB, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.1.0.2"}, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "b"})
		node(nodeC, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "198.51.100.3"})
		pod("portico-x1", nodeA, map[string]string{"app": "portico", "controller-revision-hash": "1"})
		pod("portico-x2", nodeB, map[string]string{"app": "portico", "controller-revision-hash": "2"})
		pod("other-app", nodeC, map[string]string{"app": "web"})

		startReplica(t, "portico-x1", ns, append([]string{"--watch-namespace", ns}, electionFlags(ns)...)...)
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "site", "198.51.100.1", "10.1.0.2"))

		if err := cp.Client.CoreV1().Pods(ns).Delete(ctx, "portico-x2", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 10*time.Second, wantStatusAddrs(ns, "site", "198.51.100.1"))
	})
}
