package controller

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"portico.dev/portico/gateway"
)

// GatewayStatusConfig for NewGatewayStatusWriter.
type GatewayStatusConfig struct {
	Client gatewayclient.Interface
	Log    *slog.Logger
	// RetryAfter is the first wait before retrying after a failed write
	// (other than a conflict, which is retried at once); it doubles while
	// writes keep failing, up to 30s. Default 2s.
	RetryAfter time.Duration
	// Now stamps lastTransitionTime of conditions that changed; nil means
	// time.Now.
	Now func() time.Time
}

// GatewayStatusWriter writes the status gateway.Translate computed:
// GatewayClasses whose spec.controllerName is Portico's, Gateways of those
// classes, and Portico's entries in HTTPRoutes' status.parents. Every replica
// feeds it translations (through Config.GatewayStatus); only the leader runs
// Lead, so only the leader writes.
//
// Like the Ingress StatusWriter it writes only what differs from the cached
// object (lastTransitionTime aside, which is kept while a condition's status
// stays), with UpdateStatus on the status subresource, retrying conflicts
// from the latest cached object; it never blocks the build. In
// status.parents it replaces only the entries whose controllerName is
// Portico's: other controllers' entries are left as they are, so two
// controllers never fight over one route.
type GatewayStatusWriter struct {
	cfg  GatewayStatusConfig
	loop statusLoop
	// Set by New from the controller's caches and Config.Gateway.
	caches *gatewayWatch
	ours   gwv1.GatewayController

	mu   sync.Mutex
	want *gateway.Status // the latest translation's; nil before the first
	// sent remembers, per object, the resourceVersion this writer's last
	// write produced and what it wanted then. While the object stays at
	// that version and the wanted status is the same, it is not written
	// again even if it compares different: the API server normalized
	// something this writer does not model, and writing again would only
	// loop (each write is a change that causes a build).
	sent map[types.UID]sentStatus
}

type sentStatus struct {
	resourceVersion, want string
}

// NewGatewayStatusWriter returns a writer; pass it as Config.GatewayStatus
// and run Lead while leading.
func NewGatewayStatusWriter(cfg GatewayStatusConfig) *GatewayStatusWriter {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &GatewayStatusWriter{cfg: cfg, loop: newStatusLoop(cfg.RetryAfter), sent: map[types.UID]sentStatus{}}
}

func (w *GatewayStatusWriter) use(caches *gatewayWatch, controllerName string) {
	if w != nil {
		w.caches, w.ours = caches, gwv1.GatewayController(controllerName)
	}
}

// update records the latest translation's status. It runs on the build
// goroutine on every replica and never blocks on the API server. s is
// kept, not copied: a Result is not modified after Translate returns it.
func (w *GatewayStatusWriter) update(s gateway.Status) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.want = &s
	w.mu.Unlock()
	w.loop.signal()
}

// Lead writes status until ctx ends (leadership lost or shutdown). It
// starts with a full pass over every object, as a new leader must.
func (w *GatewayStatusWriter) Lead(ctx context.Context) {
	w.loop.run(ctx, w.sync)
}

// sync brings every cached object to its wanted status and reports whether
// all writes succeeded.
func (w *GatewayStatusWriter) sync(ctx context.Context) bool {
	w.mu.Lock()
	want := w.want
	w.mu.Unlock()
	if want == nil || w.caches == nil {
		return true // no translation yet; the first one signals
	}
	now := metav1.NewTime(w.cfg.Now().Truncate(time.Second))
	seen := map[types.UID]bool{}
	good := true
	for name, st := range want.Classes {
		cls, err := w.caches.classes.Get(name)
		if st == nil || err != nil || cls.Spec.ControllerName != w.ours {
			continue // gone, or not Portico's
		}
		seen[cls.UID] = true
		good = w.report("GatewayClass", "", name, w.writeClass(ctx, cls, st, now)) && good
	}
	for nn, st := range want.Gateways {
		gw, err := w.caches.gateways.Gateways(nn.Namespace).Get(nn.Name)
		if st == nil || err != nil || !w.ownsGateway(gw) {
			continue
		}
		seen[gw.UID] = true
		good = w.report("Gateway", nn.Namespace, nn.Name, w.writeGateway(ctx, gw, st, now)) && good
	}
	for nn, st := range want.ListenerSets {
		if w.caches.sets == nil {
			break
		}
		ls, err := w.caches.sets.ListenerSets(nn.Namespace).Get(nn.Name)
		if err != nil {
			continue
		}
		seen[ls.UID] = true
		good = w.report("ListenerSet", nn.Namespace, nn.Name, w.writeListenerSet(ctx, ls, st, now)) && good
	}
	if w.caches.policies != nil {
		policies, err := w.caches.policies.List(labels.Everything())
		if err != nil {
			return false
		}
		for _, p := range policies {
			ancestors := want.BackendTLSPolicies[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}]
			if len(ancestors) == 0 && !w.hasOurAncestors(p) {
				continue
			}
			seen[p.UID] = true
			good = w.report("BackendTLSPolicy", p.Namespace, p.Name, w.writePolicy(ctx, p, ancestors, now)) && good
		}
	}
	routes, err := w.caches.routes.List(labels.Everything())
	if err != nil {
		return false
	}
	for _, rt := range routes {
		parents := want.HTTPRoutes[types.NamespacedName{Namespace: rt.Namespace, Name: rt.Name}]
		if len(parents) == 0 && !w.hasOurParents(rt) {
			continue // the common case for other controllers' routes: nothing to compare
		}
		seen[rt.UID] = true
		good = w.report("HTTPRoute", rt.Namespace, rt.Name, w.writeRoute(ctx, rt, parents, now)) && good
	}
	w.mu.Lock()
	for uid := range w.sent {
		if !seen[uid] {
			delete(w.sent, uid)
		}
	}
	w.mu.Unlock()
	return good
}

// report logs a failed write and says whether to count it as one. An
// object deleted meanwhile is no failure; neither is a status the API
// server refuses as invalid, which no retry can fix (the next translation
// may): it is logged as an error instead of retried in a loop.
func (w *GatewayStatusWriter) report(kind, ns, name string, err error) bool {
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return true
	case apierrors.IsInvalid(err):
		w.cfg.Log.Error("gateway API status refused by the API server", "kind", kind, "object", ns+"/"+name, "err", err)
		return true
	default:
		w.cfg.Log.Warn("writing gateway API status", "kind", kind, "object", ns+"/"+name, "err", err)
		return false
	}
}

func (w *GatewayStatusWriter) ownsGateway(gw *gwv1.Gateway) bool {
	cls, err := w.caches.classes.Get(string(gw.Spec.GatewayClassName))
	return err == nil && cls.Spec.ControllerName == w.ours
}

func (w *GatewayStatusWriter) hasOurParents(rt *gwv1.HTTPRoute) bool {
	for _, p := range rt.Status.Parents {
		if p.ControllerName == w.ours {
			return true
		}
	}
	return false
}

func (w *GatewayStatusWriter) writeClass(ctx context.Context, cls *gwv1.GatewayClass, want *gwv1.GatewayClassStatus, now metav1.Time) error {
	api := w.cfg.Client.GatewayV1().GatewayClasses()
	fp := fingerprint(normalClassStatus(want))
	latest := func() (*gwv1.GatewayClass, bool, error) {
		return fromCache(w.caches.classes.Get(cls.Name))(cls.UID)
	}
	change := func(cur *gwv1.GatewayClass) (*gwv1.GatewayClass, bool) {
		if cur.Spec.ControllerName != w.ours || sameClassStatus(&cur.Status, want) || w.alreadySent(cur, fp) {
			return nil, false
		}
		next := cur.DeepCopy()
		next.Status = *mergeClassStatus(&cur.Status, want, now)
		return next, true
	}
	update := func(next *gwv1.GatewayClass) error {
		res, err := api.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		w.remember(res, err, fp)
		return err
	}
	wrote, err := updateStatus(cls, latest, change, update)
	return w.logWrite("GatewayClass", cls, wrote, err)
}

func (w *GatewayStatusWriter) writeGateway(ctx context.Context, gw *gwv1.Gateway, want *gwv1.GatewayStatus, now metav1.Time) error {
	api := w.cfg.Client.GatewayV1().Gateways(gw.Namespace)
	fp := fingerprint(normalGatewayStatus(want))
	latest := func() (*gwv1.Gateway, bool, error) {
		return fromCache(w.caches.gateways.Gateways(gw.Namespace).Get(gw.Name))(gw.UID)
	}
	change := func(cur *gwv1.Gateway) (*gwv1.Gateway, bool) {
		if sameGatewayStatus(&cur.Status, want) || w.alreadySent(cur, fp) {
			return nil, false
		}
		next := cur.DeepCopy()
		next.Status = *mergeGatewayStatus(&cur.Status, want, now)
		return next, true
	}
	update := func(next *gwv1.Gateway) error {
		res, err := api.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		w.remember(res, err, fp)
		return err
	}
	wrote, err := updateStatus(gw, latest, change, update)
	return w.logWrite("Gateway", gw, wrote, err)
}

// writeListenerSet writes a ListenerSet's status. Its shape is a
// Gateway's without addresses (conditions, and listeners keyed by name), so
// it is compared and merged as one.
func (w *GatewayStatusWriter) writeListenerSet(ctx context.Context, ls *gwv1.ListenerSet, want *gwv1.ListenerSetStatus, now metav1.Time) error {
	api := w.cfg.Client.GatewayV1().ListenerSets(ls.Namespace)
	wantGW := listenerSetAsGateway(want)
	fp := fingerprint(normalGatewayStatus(wantGW))
	latest := func() (*gwv1.ListenerSet, bool, error) {
		return fromCache(w.caches.sets.ListenerSets(ls.Namespace).Get(ls.Name))(ls.UID)
	}
	change := func(cur *gwv1.ListenerSet) (*gwv1.ListenerSet, bool) {
		curGW := listenerSetAsGateway(&cur.Status)
		if sameGatewayStatus(curGW, wantGW) || w.alreadySent(cur, fp) {
			return nil, false
		}
		next := cur.DeepCopy()
		next.Status = *gatewayAsListenerSet(mergeGatewayStatus(curGW, wantGW, now))
		return next, true
	}
	update := func(next *gwv1.ListenerSet) error {
		res, err := api.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		w.remember(res, err, fp)
		return err
	}
	wrote, err := updateStatus(ls, latest, change, update)
	return w.logWrite("ListenerSet", ls, wrote, err)
}

func listenerSetAsGateway(s *gwv1.ListenerSetStatus) *gwv1.GatewayStatus {
	out := &gwv1.GatewayStatus{Conditions: s.Conditions}
	for _, l := range s.Listeners {
		out.Listeners = append(out.Listeners, gwv1.ListenerStatus{Name: l.Name, SupportedKinds: l.SupportedKinds, AttachedRoutes: l.AttachedRoutes, Conditions: l.Conditions})
	}
	return out
}

func gatewayAsListenerSet(s *gwv1.GatewayStatus) *gwv1.ListenerSetStatus {
	out := &gwv1.ListenerSetStatus{Conditions: s.Conditions}
	for _, l := range s.Listeners {
		out.Listeners = append(out.Listeners, gwv1.ListenerEntryStatus{Name: l.Name, SupportedKinds: l.SupportedKinds, AttachedRoutes: l.AttachedRoutes, Conditions: l.Conditions})
	}
	return out
}

func (w *GatewayStatusWriter) hasOurAncestors(p *gwv1.BackendTLSPolicy) bool {
	for _, a := range p.Status.Ancestors {
		if a.ControllerName == w.ours {
			return true
		}
	}
	return false
}

// writePolicy writes a BackendTLSPolicy's status.ancestors: entries of
// other controllers stay as and where they are, this controller's become
// want (one per Gateway), merged like an HTTPRoute's status.parents.
func (w *GatewayStatusWriter) writePolicy(ctx context.Context, p *gwv1.BackendTLSPolicy, want []gwv1.PolicyAncestorStatus, now metav1.Time) error {
	api := w.cfg.Client.GatewayV1().BackendTLSPolicies(p.Namespace)
	wantParents := ancestorsAsParents(want)
	normal := make([]gwv1.RouteParentStatus, len(wantParents))
	for i, a := range wantParents {
		a.ControllerName = w.ours
		normal[i] = normalParent(a)
	}
	fp := fingerprint(normal)
	latest := func() (*gwv1.BackendTLSPolicy, bool, error) {
		return fromCache(w.caches.policies.BackendTLSPolicies(p.Namespace).Get(p.Name))(p.UID)
	}
	change := func(cur *gwv1.BackendTLSPolicy) (*gwv1.BackendTLSPolicy, bool) {
		merged, changed := mergeParents(ancestorsAsParents(cur.Status.Ancestors), wantParents, w.ours, cur.Namespace, now)
		if !changed || w.alreadySent(cur, fp) {
			return nil, false
		}
		next := cur.DeepCopy()
		next.Status.Ancestors = parentsAsAncestors(merged)
		return next, true
	}
	update := func(next *gwv1.BackendTLSPolicy) error {
		res, err := api.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		w.remember(res, err, fp)
		return err
	}
	wrote, err := updateStatus(p, latest, change, update)
	return w.logWrite("BackendTLSPolicy", p, wrote, err)
}

// ancestorsAsParents and parentsAsAncestors convert between a policy's
// ancestors and a route's parents, which have the same shape, so both are
// merged by mergeParents.
func ancestorsAsParents(in []gwv1.PolicyAncestorStatus) []gwv1.RouteParentStatus {
	if in == nil {
		return nil
	}
	out := make([]gwv1.RouteParentStatus, len(in))
	for i, a := range in {
		out[i] = gwv1.RouteParentStatus{ParentRef: a.AncestorRef, ControllerName: a.ControllerName, Conditions: a.Conditions}
	}
	return out
}

func parentsAsAncestors(in []gwv1.RouteParentStatus) []gwv1.PolicyAncestorStatus {
	out := make([]gwv1.PolicyAncestorStatus, len(in))
	for i, p := range in {
		out[i] = gwv1.PolicyAncestorStatus{AncestorRef: p.ParentRef, ControllerName: p.ControllerName, Conditions: p.Conditions}
	}
	return out
}

func (w *GatewayStatusWriter) writeRoute(ctx context.Context, rt *gwv1.HTTPRoute, want []gwv1.RouteParentStatus, now metav1.Time) error {
	api := w.cfg.Client.GatewayV1().HTTPRoutes(rt.Namespace)
	normal := make([]gwv1.RouteParentStatus, len(want))
	for i, p := range want {
		p.ControllerName = w.ours
		normal[i] = normalParent(p)
	}
	fp := fingerprint(normal)
	latest := func() (*gwv1.HTTPRoute, bool, error) {
		return fromCache(w.caches.routes.HTTPRoutes(rt.Namespace).Get(rt.Name))(rt.UID)
	}
	change := func(cur *gwv1.HTTPRoute) (*gwv1.HTTPRoute, bool) {
		parents, changed := mergeParents(cur.Status.Parents, want, w.ours, cur.Namespace, now)
		if !changed || w.alreadySent(cur, fp) {
			return nil, false
		}
		next := cur.DeepCopy()
		next.Status.Parents = parents
		return next, true
	}
	update := func(next *gwv1.HTTPRoute) error {
		res, err := api.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		w.remember(res, err, fp)
		return err
	}
	wrote, err := updateStatus(rt, latest, change, update)
	return w.logWrite("HTTPRoute", rt, wrote, err)
}

// fromCache adapts a lister's Get for updateStatus: the object, or ok=false
// when it is gone or was replaced by another of the same name.
func fromCache[T metav1.Object](obj T, err error) func(uid types.UID) (T, bool, error) {
	return func(uid types.UID) (T, bool, error) {
		if apierrors.IsNotFound(err) {
			return obj, false, nil
		}
		if err != nil {
			return obj, false, err
		}
		return obj, obj.GetUID() == uid, nil
	}
}

func (w *GatewayStatusWriter) alreadySent(cur metav1.Object, fp string) bool {
	w.mu.Lock()
	s, ok := w.sent[cur.GetUID()]
	w.mu.Unlock()
	if ok && s.resourceVersion == cur.GetResourceVersion() && s.want == fp {
		w.cfg.Log.Debug("gateway API status differs from the wanted one right after writing it; not writing it again",
			"object", cur.GetNamespace()+"/"+cur.GetName())
		return true
	}
	return false
}

// remember records a successful write for alreadySent.
func (w *GatewayStatusWriter) remember(res metav1.Object, err error, fp string) {
	if apierrors.IsConflict(err) {
		w.cfg.Log.Debug("gateway API status write conflicted; retrying from the cache", "err", err)
	}
	if err != nil {
		return
	}
	w.mu.Lock()
	w.sent[res.GetUID()] = sentStatus{resourceVersion: res.GetResourceVersion(), want: fp}
	w.mu.Unlock()
}

func (w *GatewayStatusWriter) logWrite(kind string, obj metav1.Object, wrote bool, err error) error {
	if wrote {
		w.cfg.Log.Info("gateway API status written", "kind", kind, "object", obj.GetNamespace()+"/"+obj.GetName())
	}
	return err
}

// fingerprint is a comparable form of a normalized wanted status.
func fingerprint(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "" // never for these types; "" only disables the loop guard
	}
	return string(b)
}
