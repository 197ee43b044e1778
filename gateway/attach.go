package gateway

import (
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// attachment is where one parentRef of a route attached: the listeners
// and, per listener, the hostnames the route serves there.
type attachment struct {
	listeners []*listenerState
	hosts     [][]string
	problem   issue // why it attached nowhere
}

// attach resolves one parentRef of a route of kind in namespace ns with
// the given hostnames. ours is false when the reference names no Gateway
// of a class Portico owns: its status entry belongs to someone else.
//
// A parentRef may narrow the listeners by sectionName and port; a
// listener takes the route when it accepts the route's kind and namespace
// and shares a hostname with it. When none does, the reason is the most
// telling one: NoMatchingParent (no listener has that name or port),
// NotAllowedByListeners (kind or namespace refused), or
// NoMatchingListenerHostname.
func (t *translator) attach(pr gwv1.ParentReference, kind, ns string, hostnames []gwv1.Hostname) (a attachment, ours bool) {
	group, pkind := groupName, "Gateway"
	if pr.Group != nil {
		group = string(*pr.Group)
	}
	if pr.Kind != nil {
		pkind = string(*pr.Kind)
	}
	if group != groupName {
		return a, false
	}
	pns := ns
	if pr.Namespace != nil && *pr.Namespace != "" {
		pns = string(*pr.Namespace)
	}
	key := types.NamespacedName{Namespace: pns, Name: string(pr.Name)}
	var candidates []*listenerState
	var parent string
	switch pkind {
	case "Gateway":
		g := t.byKey[key]
		if g == nil {
			return a, false
		}
		candidates, parent = g.listeners, "Gateway "+key.String()
	case "ListenerSet":
		s := t.setByKey[key]
		if s == nil {
			return a, false
		}
		parent = "ListenerSet " + key.String()
		if !s.allowed.ok() {
			a.problem.set(string(gwv1.RouteReasonNotAllowedByListeners), parent+": "+s.allowed.msg)
			return a, true
		}
		candidates = s.listeners
	default:
		return a, false
	}
	route := make([]string, len(hostnames))
	for i, h := range hostnames {
		route[i] = string(h)
	}
	named, allowed := false, false
	for _, l := range candidates {
		if pr.SectionName != nil && *pr.SectionName != l.spec.Name {
			continue
		}
		if pr.Port != nil && *pr.Port != l.spec.Port {
			continue
		}
		named = true
		if !l.attachable() || !l.allowsKind(kind) || !t.allowsNamespace(l, ns) {
			continue
		}
		allowed = true
		hosts, ok := Hostnames(l.hostname, route)
		if !ok {
			continue
		}
		a.listeners = append(a.listeners, l)
		a.hosts = append(a.hosts, hosts)
	}
	switch {
	case len(a.listeners) > 0:
	case !named:
		a.problem.set(string(gwv1.RouteReasonNoMatchingParent), fmt.Sprintf("%s has no listener%s", parent, selectorText(pr)))
	case !allowed:
		a.problem.set(string(gwv1.RouteReasonNotAllowedByListeners), fmt.Sprintf("no listener of %s%s allows %s from namespace %s", parent, selectorText(pr), kind, ns))
	default:
		a.problem.set(string(gwv1.RouteReasonNoMatchingListenerHostname), fmt.Sprintf("no listener of %s%s shares a hostname with the route", parent, selectorText(pr)))
	}
	return a, true
}

func selectorText(pr gwv1.ParentReference) string {
	s := ""
	if pr.SectionName != nil {
		s += fmt.Sprintf(" named %q", *pr.SectionName)
	}
	if pr.Port != nil {
		s += fmt.Sprintf(" on port %d", *pr.Port)
	}
	return s
}

// parentStatus is a route's status entry for one parentRef.
func (t *translator) parentStatus(pr gwv1.ParentReference, a attachment, refs, invalid issue, gen int64) gwv1.RouteParentStatus {
	now := t.stamp
	st := gwv1.RouteParentStatus{ParentRef: pr, ControllerName: gwv1.GatewayController(t.cfg.ControllerName)}
	if a.problem.ok() {
		st.Conditions = append(st.Conditions, condition(string(gwv1.RouteConditionAccepted), true, string(gwv1.RouteReasonAccepted), "", gen, now))
	} else {
		st.Conditions = append(st.Conditions, condition(string(gwv1.RouteConditionAccepted), false, a.problem.reason, a.problem.msg, gen, now))
	}
	if refs.ok() {
		st.Conditions = append(st.Conditions, condition(string(gwv1.RouteConditionResolvedRefs), true, string(gwv1.RouteReasonResolvedRefs), "", gen, now))
	} else {
		st.Conditions = append(st.Conditions, condition(string(gwv1.RouteConditionResolvedRefs), false, refs.reason, refs.msg, gen, now))
	}
	if !invalid.ok() && a.problem.ok() {
		// "PartiallyInvalid: some rules are invalid and were dropped."
		st.Conditions = append(st.Conditions, condition(string(gwv1.RouteConditionPartiallyInvalid), true, invalid.reason, invalid.msg, gen, now))
	}
	return st
}
