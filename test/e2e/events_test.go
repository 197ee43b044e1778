package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"

	"portico.dev/portico/test/harness"
)

// wantEvent waits for an Event of type and reason on the Ingress whose
// message contains every one of parts.
func wantEvent(t *testing.T, ns, name, typ, reason string, parts ...string) {
	t.Helper()
	harness.Eventually(t, 10*time.Second, func() error {
		evs, err := eventsFor(ns, name)
		if err != nil {
			return err
		}
		var seen []string
	next:
		for _, e := range evs {
			seen = append(seen, e.Type+"/"+e.Reason+": "+e.Message)
			if e.Type != typ || e.Reason != reason {
				continue
			}
			for _, p := range parts {
				if !strings.Contains(e.Message, p) {
					continue next
				}
			}
			return nil
		}
		return fmt.Errorf("Ingress %s/%s: no %s Event %s containing %q; have %q", ns, name, typ, reason, parts, seen)
	})
}

// TestProblemEvents: every problem becomes an Event on its Ingress, visible
// through the Events API as `kubectl describe ingress` shows them, and a
// broken Ingress updated 200 times produces a bounded number of Events.
func TestProblemEvents(t *testing.T) {
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	webApp(t, ns, "good", "portico", "good.test")
	create := func(name, host string, paths ...networkingv1.HTTPIngressPath) {
		harness.CreateIngress(t, cp, harness.IngressObject(ns, name, "portico", host, paths...))
	}
	create("no-service", "a.test", harness.Path("/", prefix, "missing", 80))
	create("no-port", "b.test", harness.Path("/", prefix, "web", 81))
	create("aaa-first", "conflict.test", harness.Path("/x", prefix, "web", 80))
	time.Sleep(1100 * time.Millisecond) // creationTimestamp has 1 s resolution: make the order unambiguous
	create("zzz-second", "conflict.test", harness.Path("/x", prefix, "web", 80), harness.Path("/y", prefix, "web", 80))
	resource := harness.Path("/", prefix, "web", 80)
	resource.Backend = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
		APIGroup: ptr.To("storage.example.com"), Kind: "Bucket", Name: "assets"}}
	create("resource", "c.test", resource)

	p := startReplica(t, "portico-events", "", append([]string{"--watch-namespace", ns, "--publish-status-address", "192.0.2.50"}, electionFlags(ns)...)...)

	t.Run("problems become Warning Events", func(t *testing.T) {
		wantEvent(t, ns, "no-service", corev1.EventTypeWarning, "ServiceNotFound", "missing")
		wantEvent(t, ns, "no-port", corev1.EventTypeWarning, "ServicePortNotFound", "81")
		wantEvent(t, ns, "zzz-second", corev1.EventTypeWarning, "RuleConflict", "conflict.test", `"/x"`, ns+"/aaa-first")
		wantEvent(t, ns, "resource", corev1.EventTypeWarning, "UnsupportedBackend", "Bucket")
		if evs, _ := eventsFor(ns, "aaa-first"); len(evs) > 0 {
			for _, e := range evs {
				if e.Type == corev1.EventTypeWarning {
					t.Errorf("the conflict's winner got a Warning: %s: %s", e.Reason, e.Message)
				}
			}
		}
	})

	t.Run("first admission is a Normal Event", func(t *testing.T) {
		wantEvent(t, ns, "good", corev1.EventTypeNormal, "Admitted")
		wantEvent(t, ns, "zzz-second", corev1.EventTypeNormal, "Admitted") // /y is live
	})

	t.Run("a flood of updates to a broken Ingress gives a bounded number of Events", func(t *testing.T) {
		create("flood", "flood.test", harness.Path("/p0", prefix, "missing", 80))
		wantEvent(t, ns, "flood", corev1.EventTypeWarning, "ServiceNotFound")
		builds := func() float64 {
			v, err := metric(p, `portico_config_builds_total{result="partial"}`)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		before := builds()
		// Spaced just over the 100 ms build holdoff, so nearly every
		// update is its own build with a problem never seen before (new
		// generation): without rate limiting, each would be an Event.
		for i := 1; i <= 200; i++ {
			harness.UpdateIngress(t, cp, ns, "flood", func(ing *networkingv1.Ingress) {
				ing.Spec.Rules[0].HTTP.Paths[0].Path = fmt.Sprintf("/p%d", i)
			})
			time.Sleep(110 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // let the last Events land
		evs, err := eventsFor(ns, "flood")
		if err != nil {
			t.Fatal(err)
		}
		var total int32
		for _, e := range evs {
			n := max(e.Count, 1)
			if e.Series != nil {
				n = max(n, e.Series.Count)
			}
			total += n
		}
		nBuilds := builds() - before
		t.Logf("200 updates -> %.0f builds with problems -> %d Event objects, occurrences counted %d", nBuilds, len(evs), total)
		if nBuilds < 50 {
			t.Fatalf("only %.0f builds: the flood did not reach the Event sink often enough to test the bound", nBuilds)
		}
		if total > 25 {
			t.Errorf("%d Event occurrences for one broken Ingress, want at most 25", total)
		}
	})
}
