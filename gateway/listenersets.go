package gateway

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// listenerSetState is a ListenerSet whose parent is a Gateway of Portico's:
// listeners that another team adds to a shared Gateway (GEP-1713).
type listenerSetState struct {
	ls        *gwv1.ListenerSet
	key       types.NamespacedName
	gw        *gatewayState
	listeners []*listenerState
	allowed   issue // NotAllowed (the Gateway's allowedListeners), ParentNotAccepted
}

// checkListenerSets attaches each ListenerSet to its parent Gateway, oldest
// first. A Gateway takes ListenerSets only from the namespaces its
// spec.allowedListeners names ("None" when unset).
func (t *translator) checkListenerSets() {
	for _, ls := range sortedListenerSets(t.snap.ListenerSets) {
		pr := ls.Spec.ParentRef
		if (pr.Group != nil && *pr.Group != groupName) || (pr.Kind != nil && *pr.Kind != "Gateway") {
			continue
		}
		ns := ls.Namespace
		if pr.Namespace != nil && *pr.Namespace != "" {
			ns = string(*pr.Namespace)
		}
		g := t.byKey[types.NamespacedName{Namespace: ns, Name: string(pr.Name)}]
		if g == nil {
			continue // not a Gateway of ours: another controller's to report
		}
		s := &listenerSetState{ls: ls, key: types.NamespacedName{Namespace: ls.Namespace, Name: ls.Name}, gw: g}
		if ok, _, _ := g.acceptedStatus(); !ok {
			s.allowed.set(string(gwv1.ListenerSetReasonParentNotAccepted), fmt.Sprintf("the parent Gateway %s is not accepted", g.key))
		} else if !t.allowsListenerSet(g, ls.Namespace) {
			s.allowed.set(string(gwv1.ListenerSetReasonNotAllowed), fmt.Sprintf("Gateway %s does not allow ListenerSets from namespace %s (spec.allowedListeners)", g.key, ls.Namespace))
		}
		for i := range ls.Spec.Listeners {
			e := &ls.Spec.Listeners[i]
			spec := &gwv1.Listener{Name: e.Name, Hostname: e.Hostname, Port: e.Port, Protocol: e.Protocol, TLS: e.TLS, AllowedRoutes: e.AllowedRoutes}
			l := &listenerState{spec: spec, gw: g, set: s}
			if spec.Hostname != nil {
				l.hostname = lower(string(*spec.Hostname))
			}
			t.checkListener(l)
			s.listeners = append(s.listeners, l)
		}
		g.sets = append(g.sets, s)
		t.sets = append(t.sets, s)
		t.setByKey[s.key] = s
	}
}

// allowsListenerSet applies a Gateway's spec.allowedListeners to a
// ListenerSet in namespace ns.
func (t *translator) allowsListenerSet(g *gatewayState, ns string) bool {
	al := g.gw.Spec.AllowedListeners
	if al == nil || al.Namespaces == nil || al.Namespaces.From == nil {
		return false
	}
	switch *al.Namespaces.From {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSame:
		return ns == g.gw.Namespace
	case gwv1.NamespacesFromSelector:
		if al.Namespaces.Selector == nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(al.Namespaces.Selector)
		n := t.snap.Namespaces[ns]
		return err == nil && n != nil && sel.Matches(labels.Set(n.Labels))
	}
	return false // None
}

// allListeners are a Gateway's own listeners, then those of its allowed
// ListenerSets, in precedence order.
func (g *gatewayState) allListeners() []*listenerState {
	out := g.listeners
	if len(g.sets) == 0 {
		return out
	}
	out = append([]*listenerState(nil), out...)
	for _, s := range g.sets {
		if s.allowed.ok() {
			out = append(out, s.listeners...)
		}
	}
	return out
}

// acceptedOK: a ListenerSet is accepted when its Gateway allows it and at
// least one of its listeners is valid.
func (s *listenerSetState) acceptedOK() bool {
	return s.allowed.ok() && s.valid() > 0
}

// valid counts the listeners that can be served: accepted, not in
// conflict, and for HTTPS with a certificate (a listener whose only
// certificate reference is refused is not a valid listener).
func (s *listenerSetState) valid() int {
	n := 0
	for _, l := range s.listeners {
		if l.usable() {
			n++
		}
	}
	return n
}

func (s *listenerSetState) status(now metav1.Time) *gwv1.ListenerSetStatus {
	gen := s.ls.Generation
	st := &gwv1.ListenerSetStatus{}
	valid := s.valid()
	acc, prog := string(gwv1.ListenerSetConditionAccepted), string(gwv1.ListenerSetConditionProgrammed)
	switch {
	case !s.allowed.ok():
		st.Conditions = append(st.Conditions,
			condition(acc, false, s.allowed.reason, s.allowed.msg, gen, now),
			condition(prog, false, s.allowed.reason, s.allowed.msg, gen, now))
	case valid == 0:
		msg := "no listener of the ListenerSet is valid; see status.listeners"
		st.Conditions = append(st.Conditions,
			condition(acc, false, string(gwv1.ListenerSetReasonListenersNotValid), msg, gen, now),
			condition(prog, false, string(gwv1.ListenerSetReasonListenersNotValid), msg, gen, now))
	default:
		reason := string(gwv1.ListenerSetReasonAccepted)
		if valid < len(s.listeners) {
			reason = string(gwv1.ListenerSetReasonListenersNotValid)
		}
		st.Conditions = append(st.Conditions, condition(acc, true, reason, "", gen, now))
		if s.gw.programmed.ok() {
			st.Conditions = append(st.Conditions, condition(prog, true, string(gwv1.ListenerSetReasonProgrammed), "", gen, now))
		} else {
			st.Conditions = append(st.Conditions, condition(prog, false, string(gwv1.ListenerSetReasonPending), "the parent Gateway has no usable address yet", gen, now))
		}
	}
	for _, l := range s.listeners {
		ls := l.status(gen, now)
		st.Listeners = append(st.Listeners, gwv1.ListenerEntryStatus{Name: ls.Name, SupportedKinds: ls.SupportedKinds, AttachedRoutes: ls.AttachedRoutes, Conditions: ls.Conditions})
	}
	return st
}
