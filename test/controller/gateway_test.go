package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1b1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"portico.dev/portico/controller"
	"portico.dev/portico/gateway"
	"portico.dev/portico/test/harness"
)

// TestGatewaySnapshotAndPorts: the translator sees every Gateway API kind
// from the caches, the Namespace with its labels, and the Services,
// EndpointSlices and TLS Secrets the Ingress side watches; its ports reach
// the data plane hook; without leadership nothing is written.
func TestGatewaySnapshotAndPorts(t *testing.T) {
	ctx := context.Background()
	ns := harness.Namespace(t, cp)
	nsObj, err := cp.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Labels = map[string]string{"team": "checkout"}
	if _, err := cp.Client.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrlName := controllerNameFor(ns)
	createClass(t, "cls-"+ns, ctrlName)
	createGateway(t, ns, "gw", "cls-"+ns)
	createRoute(t, ns, "route", "gw")
	if _, err := gwAdmin(t).GatewayV1beta1().ReferenceGrants(ns).Create(ctx, &gwv1b1.ReferenceGrant{
		ObjectMeta: metav1.ObjectMeta{Name: "grant"},
		Spec: gwv1b1.ReferenceGrantSpec{
			From: []gwv1b1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: gwv1.Namespace(ns)}},
			To:   []gwv1b1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	harness.Service(t, cp, ns, "web", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "web", "web-1", 8080, harness.Endpoint{Addr: "10.123.0.5"}))
	if _, err := cp.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cert"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": []byte("x"), "tls.key": []byte("y")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	r := startReplica(t, ns, "replica-a", ctrlName, fakeTranslate("v1"))
	harness.Eventually(t, 10*time.Second, func() error {
		s := r.snapshot()
		switch {
		case s == nil:
			return fmt.Errorf("no translation yet")
		case !hasClass(s, "cls-"+ns):
			return fmt.Errorf("snapshot without GatewayClass cls-%s", ns)
		case len(s.Gateways) != 1 || len(s.HTTPRoutes) != 1 || len(s.ReferenceGrants) != 1:
			return fmt.Errorf("snapshot has %d Gateways, %d HTTPRoutes, %d ReferenceGrants; want 1 each",
				len(s.Gateways), len(s.HTTPRoutes), len(s.ReferenceGrants))
		case len(s.Namespaces) != 1 || s.Namespaces[ns] == nil || s.Namespaces[ns].Labels["team"] != "checkout":
			return fmt.Errorf("snapshot Namespaces %v, want only %s with its labels", keys(s.Namespaces), ns)
		case s.Services[nn(ns, "web")] == nil || len(s.Slices[nn(ns, "web")]) != 1 || s.Secrets[nn(ns, "cert")] == nil:
			return fmt.Errorf("snapshot without the Service web, its EndpointSlice or the Secret cert")
		}
		return nil
	})
	calls := r.portCalls()
	last := calls[len(calls)-1]
	if len(last) != 1 || last[0].Addr.String() != "127.1.0.1:80" || last[0].Listeners[0].Gateway != nn(ns, "gw") {
		t.Errorf("GatewayPorts got %+v, want the translation's one port", last)
	}

	// Not leading: nothing is written.
	staysTrue(t, time.Second, func() error {
		if p := ourParents(getRoute(t, ns, "route"), ctrlName); len(p) > 0 {
			return fmt.Errorf("a replica that does not lead wrote route status: %+v", p)
		}
		return nil
	})
}

// TestGatewayStatusLeaderOnly runs two replicas under real leader
// election. Only the leader writes GatewayClass, Gateway and HTTPRoute
// status, with observedGeneration; a rebuild with nothing new writes
// nothing (also with the fields the API server defaults); when the leader
// steps down, the new leader writes its own view at once (a full pass on
// becoming leader, with no new build), keeping lastTransitionTime of
// conditions whose status did not change.
func TestGatewayStatusLeaderOnly(t *testing.T) {
	ns := harness.Namespace(t, cp)
	ctrlName := controllerNameFor(ns)
	class := "cls-" + ns
	createClass(t, class, ctrlName)
	createGateway(t, ns, "gw", class)
	route := createRoute(t, ns, "route", "gw")
	a := startReplica(t, ns, "replica-a", ctrlName, fakeTranslate("from replica-a"))
	b := startReplica(t, ns, "replica-b", ctrlName, fakeTranslate("from replica-b"))

	stopA := elect(t, ns, "replica-a", a.status)
	harness.Eventually(t, 15*time.Second, wantStatusFrom(t, ns, class, ctrlName, "from replica-a", route.Generation))
	elect(t, ns, "replica-b", b.status)

	t.Run("followers write nothing", func(t *testing.T) {
		staysTrue(t, 1500*time.Millisecond, wantStatusFrom(t, ns, class, ctrlName, "from replica-a", route.Generation))
		if m := statusManagers(getRoute(t, ns, "route").ManagedFields); m["replica-b"] || !m["replica-a"] {
			t.Errorf("status field managers %v, want replica-a only", m)
		}
	})

	t.Run("no write when nothing changed", func(t *testing.T) {
		before := resourceVersions(t, ns, class)
		touch(t, ns)
		time.Sleep(500 * time.Millisecond)
		touch(t, ns)
		time.Sleep(time.Second) // two builds on each replica, and the leader's passes after them
		if after := resourceVersions(t, ns, class); after != before {
			t.Errorf("status rewritten without a change: resourceVersions %v, then %v", before, after)
		}
	})

	t.Run("a new leader writes at once", func(t *testing.T) {
		accepted := *findCond(ourParents(getRoute(t, ns, "route"), ctrlName)[0].Conditions, "Accepted")
		stopA() // releases the Lease: replica-b takes over within a retry period
		harness.Eventually(t, 10*time.Second, wantStatusFrom(t, ns, class, ctrlName, "from replica-b", route.Generation))
		got := *findCond(ourParents(getRoute(t, ns, "route"), ctrlName)[0].Conditions, "Accepted")
		if !got.LastTransitionTime.Equal(&accepted.LastTransitionTime) {
			t.Errorf("Accepted stayed True but its lastTransitionTime moved from %v to %v", accepted.LastTransitionTime, got.LastTransitionTime)
		}
		if m := statusManagers(getRoute(t, ns, "route").ManagedFields); !m["replica-b"] {
			t.Errorf("status field managers %v, want replica-b among them", m)
		}
	})

	t.Run("observedGeneration follows the spec", func(t *testing.T) {
		updateRoute(t, ns, "route", func(rt *gwv1.HTTPRoute) {
			rt.Spec.Hostnames = []gwv1.Hostname{"shop.example.com"}
		})
		gen := getRoute(t, ns, "route").Generation
		if gen == route.Generation {
			t.Fatal("a spec change did not bump the generation")
		}
		harness.Eventually(t, 10*time.Second, wantStatusFrom(t, ns, class, ctrlName, "from replica-b", gen))
	})
}

// TestGatewayStatusKeepsOtherControllers: in HTTPRoute status.parents,
// entries of another controller survive every write of Portico's, also
// while both controllers write at the same time (conflicts retried from
// the cache); Portico's entry for a parent the route no longer references
// is removed, and so are all of Portico's entries once no parent is
// Portico's.
func TestGatewayStatusKeepsOtherControllers(t *testing.T) {
	ctx := context.Background()
	ns := harness.Namespace(t, cp)
	ctrlName := controllerNameFor(ns)
	class := "cls-" + ns
	createClass(t, class, ctrlName)
	createGateway(t, ns, "gw1", class)
	createGateway(t, ns, "gw2", class)
	createRoute(t, ns, "route", "gw1", "theirs")
	const theirs = gwv1.GatewayController("example.com/other-controller")
	// Group and kind as the API server defaults them, so the entry compares
	// equal to what is read back.
	foreign := gwv1.RouteParentStatus{ControllerName: theirs, ParentRef: gwv1.ParentReference{
		Name: "theirs", Group: ptr.To(gwv1.Group(gwv1.GroupName)), Kind: ptr.To(gwv1.Kind("Gateway"))},
		Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "theirs-0",
			ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}}}
	setForeign := func(message string) {
		t.Helper()
		for range 20 {
			rt := getRoute(t, ns, "route")
			f := *foreign.DeepCopy()
			f.Conditions[0].Message = message
			rt.Status.Parents = slicesReplace(rt.Status.Parents, theirs, f)
			_, err := gwAdmin(t).GatewayV1().HTTPRoutes(ns).UpdateStatus(ctx, rt, metav1.UpdateOptions{})
			if err == nil {
				return
			}
			if !isConflict(err) {
				t.Fatal(err)
			}
		}
		t.Fatal("other controller: status update kept conflicting")
	}
	setForeign("theirs-0")

	r := startReplica(t, ns, "replica-a", ctrlName, fakeTranslate("ours-0"))
	r.leadWhile(t)
	check := func(ours []string, theirsMessage string) func() error {
		return func() error {
			rt := getRoute(t, ns, "route")
			var got []string
			for _, p := range ourParents(rt, ctrlName) {
				c := findCond(p.Conditions, "Accepted")
				got = append(got, fmt.Sprintf("%s:%s:%d", p.ParentRef.Name, c.Message, c.ObservedGeneration))
			}
			if strings.Join(got, ",") != strings.Join(ours, ",") {
				return fmt.Errorf("our parents %v, want %v", got, ours)
			}
			f := ourParents(rt, string(theirs))
			want := *foreign.DeepCopy()
			want.Conditions[0].Message = theirsMessage
			if len(f) != 1 || !equality.Semantic.DeepEqual(f[0], want) {
				return fmt.Errorf("other controller's entry %+v, want %+v", f, want)
			}
			return nil
		}
	}
	harness.Eventually(t, 10*time.Second, check([]string{"gw1:ours-0:1"}, "theirs-0"))

	t.Run("a parent no longer referenced", func(t *testing.T) {
		updateRoute(t, ns, "route", func(rt *gwv1.HTTPRoute) {
			rt.Spec.ParentRefs = []gwv1.ParentReference{{Name: "gw2"}, {Name: "theirs"}}
		})
		harness.Eventually(t, 10*time.Second, check([]string{"gw2:ours-0:2"}, "theirs-0"))
	})

	t.Run("both controllers writing at once", func(t *testing.T) {
		const n = 20
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 1; i <= n; i++ {
				setForeign(fmt.Sprintf("theirs-%d", i))
				time.Sleep(10 * time.Millisecond)
			}
		})
		for i := 1; i <= n; i++ {
			r.setTranslate(fakeTranslate(fmt.Sprintf("ours-%d", i)))
			touch(t, ns)
			time.Sleep(20 * time.Millisecond)
		}
		wg.Wait()
		harness.Eventually(t, 15*time.Second, check([]string{fmt.Sprintf("gw2:ours-%d:2", n)}, fmt.Sprintf("theirs-%d", n)))
	})

	t.Run("no parent is ours any more", func(t *testing.T) {
		updateRoute(t, ns, "route", func(rt *gwv1.HTTPRoute) {
			rt.Spec.ParentRefs = []gwv1.ParentReference{{Name: "theirs"}}
		})
		harness.Eventually(t, 10*time.Second, check(nil, fmt.Sprintf("theirs-%d", 20)))
	})
}

// TestGatewayTranslatePanic: a translator that panics keeps the last good
// ports and status, the Ingress side goes on building, and the next good
// translation goes live.
func TestGatewayTranslatePanic(t *testing.T) {
	ns := harness.Namespace(t, cp)
	ctrlName := controllerNameFor(ns)
	class := "cls-" + ns
	createClass(t, class, ctrlName)
	createGateway(t, ns, "gw", class)
	createRoute(t, ns, "route", "gw")
	r := startReplica(t, ns, "replica-a", ctrlName, fakeTranslate("good"))
	r.leadWhile(t)
	harness.Eventually(t, 10*time.Second, wantStatusFrom(t, ns, class, ctrlName, "good", 1))

	r.setTranslate(func(*gateway.Snapshot, gateway.Config) *gateway.Result { panic("translator bug") })
	panics := func() int { return strings.Count(r.log.String(), "gateway API translation panicked") }
	touch(t, ns)
	harness.Eventually(t, 10*time.Second, func() error {
		if panics() == 0 {
			return fmt.Errorf("no panic logged yet")
		}
		return nil
	})
	calls, versions, seen := len(r.portCalls()), resourceVersions(t, ns, class), panics()
	harness.Service(t, cp, ns, "web", 80)
	harness.CreateIngress(t, cp, harness.IngressObject(ns, "site", "", "site.test", harness.Path("/", "Prefix", "web", 80)))
	harness.Eventually(t, 10*time.Second, func() error {
		if tbl := r.live.Load(); tbl == nil || tbl.Len() == 0 {
			return fmt.Errorf("the Ingress did not go live while the Gateway API translator panics")
		}
		if panics() <= seen {
			return fmt.Errorf("no build with a panic after the Ingress was created")
		}
		return nil
	})
	if got := len(r.portCalls()); got != calls {
		t.Errorf("GatewayPorts called %d more times while the translator panicked", got-calls)
	}
	time.Sleep(300 * time.Millisecond) // the writer's pass, if a panic had reached it
	if got := resourceVersions(t, ns, class); got != versions {
		t.Errorf("status changed while the translator panicked: %v, then %v", versions, got)
	}

	r.setTranslate(fakeTranslate("recovered"))
	touch(t, ns)
	harness.Eventually(t, 10*time.Second, wantStatusFrom(t, ns, class, ctrlName, "recovered", 1))
}

// TestGatewayProblemEvents: a problem becomes one Warning Event on the
// Gateway API object it names (apiVersion, kind, UID), not one per build.
func TestGatewayProblemEvents(t *testing.T) {
	ctx := context.Background()
	ns := harness.Namespace(t, cp)
	ctrlName := controllerNameFor(ns)
	class := "cls-" + ns
	createClass(t, class, ctrlName)
	createGateway(t, ns, "gw", class)
	route := createRoute(t, ns, "route", "gw")
	good := fakeTranslate("v1")
	startReplica(t, ns, "replica-a", ctrlName, func(s *gateway.Snapshot, cfg gateway.Config) *gateway.Result {
		res := good(s, cfg)
		res.Problems = []gateway.Problem{{Kind: "HTTPRoute", Namespace: ns, Name: "route", Reason: "BackendNotFound",
			Message: `Service "web" not found`}}
		return res
	})
	events := func() ([]corev1.Event, error) {
		sel := fields.Set{"involvedObject.kind": "HTTPRoute", "involvedObject.name": "route"}.AsSelector().String()
		l, err := cp.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}
	harness.Eventually(t, 10*time.Second, func() error {
		evs, err := events()
		if err != nil || len(evs) == 0 {
			return fmt.Errorf("no Event on the HTTPRoute yet (%v)", err)
		}
		return nil
	})
	touch(t, ns)
	touch(t, ns)
	time.Sleep(time.Second)
	evs, err := events()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Count > 1 {
		t.Fatalf("Events on the HTTPRoute: %d (first count %d), want 1 sent once", len(evs), evs[0].Count)
	}
	e := evs[0]
	if e.Type != corev1.EventTypeWarning || e.Reason != "BackendNotFound" || e.InvolvedObject.APIVersion != "gateway.networking.k8s.io/v1" ||
		e.InvolvedObject.UID != route.UID || !strings.Contains(e.Message, `"web"`) {
		t.Errorf("Event %s %s %q on %+v", e.Type, e.Reason, e.Message, e.InvolvedObject)
	}
}

// elect runs real leader election for one replica (Lease "portico-leader"
// in ns, test timings) with its status writer as Lead; stop releases the
// Lease.
func elect(t *testing.T, ns, identity string, w *controller.GatewayStatusWriter) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := controller.RunLeaderElection(ctx, controller.LeaderConfig{
			Client: cp.Client, Namespace: ns, Name: "portico-leader", Identity: identity,
			LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 200 * time.Millisecond,
			Lead: w.Lead,
		})
		if err != nil {
			t.Errorf("leader election of %s: %v", identity, err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// wantStatusFrom checks that the GatewayClass, the Gateway "gw" (if it
// exists) and the HTTPRoute "route" carry the fake translator's status with
// message, the route's conditions at observedGeneration gen.
func wantStatusFrom(t *testing.T, ns, class, ctrlName, message string, gen int64) func() error {
	return func() error {
		ctx := context.Background()
		cls, err := gwAdmin(t).GatewayV1().GatewayClasses().Get(ctx, class, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c := findCond(cls.Status.Conditions, "Accepted"); c == nil || c.Message != message || c.ObservedGeneration != cls.Generation ||
			len(cls.Status.SupportedFeatures) != 2 {
			return fmt.Errorf("GatewayClass status %+v, want Accepted %q at generation %d", cls.Status, message, cls.Generation)
		}
		gw, err := gwAdmin(t).GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
		if err == nil {
			c := findCond(gw.Status.Conditions, "Programmed")
			if c == nil || c.Message != message || c.ObservedGeneration != gw.Generation || len(gw.Status.Listeners) != 1 ||
				gw.Status.Listeners[0].AttachedRoutes != 1 || len(gw.Status.Addresses) != 1 {
				return fmt.Errorf("Gateway status %+v, want Programmed %q at generation %d, one listener with one route", gw.Status, message, gw.Generation)
			}
		}
		ps := ourParents(getRoute(t, ns, "route"), ctrlName)
		if len(ps) != 1 {
			return fmt.Errorf("HTTPRoute has %d parent entries of %s, want 1", len(ps), ctrlName)
		}
		for _, typ := range []string{"Accepted", "ResolvedRefs"} {
			if c := findCond(ps[0].Conditions, typ); c == nil || c.Message != message || c.ObservedGeneration != gen {
				return fmt.Errorf("HTTPRoute %s condition %+v, want %q at generation %d", typ, c, message, gen)
			}
		}
		return nil
	}
}

// resourceVersions of the class, the Gateway "gw" and the HTTPRoute "route".
func resourceVersions(t *testing.T, ns, class string) string {
	t.Helper()
	ctx := context.Background()
	cls, err := gwAdmin(t).GatewayV1().GatewayClasses().Get(ctx, class, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gwAdmin(t).GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cls.ResourceVersion + "/" + gw.ResourceVersion + "/" + getRoute(t, ns, "route").ResourceVersion
}

// statusManagers are the field managers of the status subresource.
func statusManagers(mfs []metav1.ManagedFieldsEntry) map[string]bool {
	out := map[string]bool{}
	for _, mf := range mfs {
		if mf.Subresource == "status" {
			out[mf.Manager] = true
		}
	}
	return out
}

// slicesReplace puts entry in place of the entries of controller c (or at the end).
func slicesReplace(ps []gwv1.RouteParentStatus, c gwv1.GatewayController, entry gwv1.RouteParentStatus) []gwv1.RouteParentStatus {
	var out []gwv1.RouteParentStatus
	done := false
	for _, p := range ps {
		if p.ControllerName != c {
			out = append(out, p)
		} else if !done {
			out, done = append(out, entry), true
		}
	}
	if !done {
		out = append(out, entry)
	}
	return out
}

func staysTrue(t *testing.T, d time.Duration, check func() error) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if err := check(); err != nil {
			t.Fatal(err)
		}
	}
}

func hasClass(s *gateway.Snapshot, name string) bool {
	for _, c := range s.Classes {
		if c.Name == name {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
