package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"portico.dev/portico/test/harness"
)

// Fast leader election for tests: a SIGKILLed leader is replaced within
// about lease + retry = 4.5 s instead of 17 s with the defaults. client-go
// polls every retry..2.2×retry (jitter) and measures expiry from when it
// last observed a renewal, so a short retry keeps the takeover within
// lease + 1 s even on a loaded machine.
const (
	testLease, testRenew, testRetry = 4 * time.Second, 3 * time.Second, 200 * time.Millisecond
)

func electionFlags(ns string) []string {
	return []string{"--election-namespace", ns, "--election-id", "portico-leader",
		"--lease-duration", testLease.String(), "--renew-deadline", testRenew.String(), "--retry-period", testRetry.String()}
}

// startReplica starts Portico with $POD_NAME (its leader election
// identity) and optionally $POD_NAMESPACE set. The child inherits the test
// process's environment at start, so t.Setenv is enough (and restored when
// the test ends); e2e tests do not run in parallel.
func startReplica(t *testing.T, podName, podNamespace string, flags ...string) *harness.Portico {
	t.Helper()
	t.Setenv("POD_NAME", podName)
	t.Setenv("POD_NAMESPACE", podNamespace)
	return harness.StartPortico(t, cp, flags...)
}

// leaseHolder returns the Lease's holder identity ("" when released or absent).
func leaseHolder(ns, name string) (string, error) {
	l, err := cp.Client.CoordinationV1().Leases(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if l.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *l.Spec.HolderIdentity, nil
}

// metric returns the value of an unlabelled sample (or one whose labels
// are given verbatim, e.g. `portico_ingresses{state="admitted"}`).
func metric(p *harness.Portico, sample string) (float64, error) {
	text, err := p.Metrics()
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && name == sample {
			return strconv.ParseFloat(strings.TrimSpace(val), 64)
		}
	}
	return 0, fmt.Errorf("no sample %s in /metrics", sample)
}

// statusOf returns the Ingress's status addresses as "ip" or "hostname" strings, sorted.
func statusOf(ns, name string) ([]string, error) {
	ing, err := cp.Client.NetworkingV1().Ingresses(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range ing.Status.LoadBalancer.Ingress {
		out = append(out, a.IP+a.Hostname)
	}
	slices.Sort(out)
	return out, nil
}

// wantStatusAddrs returns a check that the Ingress's status is exactly want.
func wantStatusAddrs(ns, name string, want ...string) func() error {
	slices.Sort(want)
	return func() error {
		got, err := statusOf(ns, name)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("Ingress %s/%s status %v, want %v", ns, name, got, want)
		}
		return nil
	}
}

// staysTrue fails the test if check fails at any point during d.
func staysTrue(t *testing.T, d time.Duration, check func() error) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if err := check(); err != nil {
			t.Fatal(err)
		}
	}
}

// eventsFor lists the core/v1 Events whose involvedObject is the Ingress.
func eventsFor(ns, name string) ([]corev1.Event, error) {
	sel := fields.Set{"involvedObject.kind": "Ingress", "involvedObject.name": name}.AsSelector().String()
	l, err := cp.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// logLines counts lines of a Portico log containing s.
func logLines(t *testing.T, p *harness.Portico, s string) int {
	t.Helper()
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

// webApp starts one echo backend with a Service "web" and its EndpointSlice
// in ns, and an Ingress name of class for host routing / to it.
func webApp(t *testing.T, ns, name, class, host string) *harness.Backend {
	t.Helper()
	_, bs := pods(t, name, 1)
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, endpoints(bs...)...))
	harness.CreateIngress(t, cp, harness.IngressObject(ns, name, class, host, harness.Path("/", prefix, "web", 80)))
	return bs[0]
}

func ingressClass(t *testing.T, name, controller string, isDefault bool) {
	t.Helper()
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.IngressClassSpec{Controller: controller}}
	if isDefault {
		ic.Annotations = map[string]string{"ingressclass.kubernetes.io/is-default-class": "true"}
	}
	if _, err := cp.Client.NetworkingV1().IngressClasses().Create(context.Background(), ic, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create IngressClass %s: %v", name, err)
	}
	// A default class changes how the API server admits every class-less
	// Ingress in the cluster: never leave one behind for other tests.
	t.Cleanup(func() {
		_ = cp.Client.NetworkingV1().IngressClasses().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}
