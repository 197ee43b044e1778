// Package reliability proves Portico under fire: configuration churn, long
// streams through table swaps, graceful shutdown, API server outages, bad
// objects and hostile clients, each while traffic to a good route is
// measured. Like test/e2e it runs the real binary against a real
// kube-apiserver and etcd, with backends in network namespaces, and talks to
// Portico only over its sockets. docs/reliability.md has the figures of a
// real run and the command that reproduces them.
package reliability

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"portico.dev/portico/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) { harness.Main(m, &cp) }

// Shared helpers (test/harness/testing.go) under short local names.
var (
	pods          = harness.Pods
	listenBackend = harness.PodBackend
	hostOf        = harness.HostOf
	wantBackend   = harness.WantBackend
	wantStatus    = harness.WantStatus
	buildsTotal   = harness.BuildsTotal
)

// site creates Service name with addrs and an Ingress routing host / to it.
func site(t *testing.T, ns, name, host string, ann map[string]string, addrs ...string) {
	t.Helper()
	harness.Site(t, cp, ns, name, host, ann, addrs...)
}

const prefix, exact = networkingv1.PathTypePrefix, networkingv1.PathTypeExact

// wantEvent waits for a Warning Event of reason on the Ingress whose message
// contains every one of parts, and returns its message.
func wantEvent(t *testing.T, ns, name, reason string, parts ...string) string {
	t.Helper()
	var msg string
	harness.Eventually(t, 15*time.Second, func() error {
		sel := fields.Set{"involvedObject.kind": "Ingress", "involvedObject.name": name}.AsSelector().String()
		l, err := cp.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return err
		}
		var seen []string
	next:
		for _, e := range l.Items {
			seen = append(seen, e.Type+"/"+e.Reason+": "+e.Message)
			if e.Type != corev1.EventTypeWarning || e.Reason != reason {
				continue
			}
			for _, p := range parts {
				if !strings.Contains(e.Message, p) {
					continue next
				}
			}
			msg = e.Message
			return nil
		}
		return fmt.Errorf("Ingress %s/%s: no Warning Event %s containing %q; have %q", ns, name, reason, parts, seen)
	})
	return msg
}

// rssKiB is the resident set size of a process, from /proc.
func rssKiB(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// noPanic fails the test if Portico's log shows a panic.
func noPanic(t *testing.T, p *harness.Portico) {
	t.Helper()
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "panic") {
		t.Errorf("Portico logged a panic (log %s)", p.LogPath)
	}
	select {
	case <-p.Done():
		t.Errorf("Portico exited: %v", p.ExitErr())
	default:
	}
}

// figure prints a line for docs/reliability.md's table; the table was made
// from these lines of a real run (go test -v).
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("FIGURE %s: %s", t.Name(), fmt.Sprintf(format, args...))
}
