package controller

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Pure helpers of the Gateway API status writer: what to write, and whether
// it differs from what is there. Differences in lastTransitionTime alone
// never count, and a condition whose status did not change keeps its
// lastTransitionTime (the Condition type's contract: "the last time the
// condition transitioned from one status to another").

// mergeConditions returns want's conditions, each with the
// lastTransitionTime of the current condition of the same type when its
// status is unchanged; a new or changed condition gets want's time, or now
// when want left it unset.
func mergeConditions(cur, want []metav1.Condition, now metav1.Time) []metav1.Condition {
	if want == nil {
		return nil
	}
	out := make([]metav1.Condition, len(want))
	for i, c := range want {
		if old := findCondition(cur, c.Type); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		} else if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
		}
		out[i] = c
	}
	return out
}

func findCondition(cs []metav1.Condition, typ string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

// normalConditions is a copy for comparison: sorted by type (conditions are
// a list map keyed by type, so order means nothing) and without times.
func normalConditions(cs []metav1.Condition) []metav1.Condition {
	out := slices.Clone(cs)
	for i := range out {
		out[i].LastTransitionTime = metav1.Time{}
	}
	slices.SortFunc(out, func(a, b metav1.Condition) int { return cmp.Compare(a.Type, b.Type) })
	return out
}

// Defaults the CRDs (v1.6.3, config/crd/standard) apply to status fields.
// The API server stores a status with them filled in, so a wanted status
// must be compared with them filled in too, or it would always differ.
var (
	defaultGroup       = gwv1.Group(gwv1.GroupName)
	defaultParentKind  = gwv1.Kind("Gateway")
	defaultAddressType = gwv1.IPAddressType
)

// mergeClassStatus is want with the lastTransitionTimes kept from cur.
func mergeClassStatus(cur, want *gwv1.GatewayClassStatus, now metav1.Time) *gwv1.GatewayClassStatus {
	out := want.DeepCopy()
	out.Conditions = mergeConditions(cur.Conditions, want.Conditions, now)
	return out
}

func normalClassStatus(s *gwv1.GatewayClassStatus) *gwv1.GatewayClassStatus {
	out := s.DeepCopy()
	out.Conditions = normalConditions(out.Conditions)
	return out
}

func sameClassStatus(a, b *gwv1.GatewayClassStatus) bool {
	return equality.Semantic.DeepEqual(normalClassStatus(a), normalClassStatus(b))
}

// mergeGatewayStatus is want with the lastTransitionTimes kept from cur,
// for the Gateway's conditions and for each listener's (by name).
func mergeGatewayStatus(cur, want *gwv1.GatewayStatus, now metav1.Time) *gwv1.GatewayStatus {
	out := want.DeepCopy()
	out.Conditions = mergeConditions(cur.Conditions, want.Conditions, now)
	for i := range out.Listeners {
		l := &out.Listeners[i]
		var old []metav1.Condition
		for _, c := range cur.Listeners {
			if c.Name == l.Name {
				old = c.Conditions
				break
			}
		}
		l.Conditions = mergeConditions(old, l.Conditions, now)
	}
	return out
}

func normalGatewayStatus(s *gwv1.GatewayStatus) *gwv1.GatewayStatus {
	out := s.DeepCopy()
	out.Conditions = normalConditions(out.Conditions)
	for i := range out.Addresses {
		if out.Addresses[i].Type == nil {
			out.Addresses[i].Type = &defaultAddressType
		}
	}
	for i := range out.Listeners {
		l := &out.Listeners[i]
		l.Conditions = normalConditions(l.Conditions)
		for j := range l.SupportedKinds {
			if l.SupportedKinds[j].Group == nil {
				l.SupportedKinds[j].Group = &defaultGroup
			}
		}
	}
	// Listeners are a list map keyed by name.
	slices.SortFunc(out.Listeners, func(a, b gwv1.ListenerStatus) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func sameGatewayStatus(a, b *gwv1.GatewayStatus) bool {
	return equality.Semantic.DeepEqual(normalGatewayStatus(a), normalGatewayStatus(b))
}

// parentKey identifies a parentRef with the CRD's defaults applied (and the
// route's namespace for an unset namespace, as the spec reads it).
type parentKey struct {
	group, kind, namespace, name, section string
	port                                  int32
}

func parentKeyOf(ref gwv1.ParentReference, routeNS string) parentKey {
	k := parentKey{group: gwv1.GroupName, kind: "Gateway", namespace: routeNS, name: string(ref.Name)}
	if ref.Group != nil {
		k.group = string(*ref.Group)
	}
	if ref.Kind != nil {
		k.kind = string(*ref.Kind)
	}
	if ref.Namespace != nil {
		k.namespace = string(*ref.Namespace)
	}
	if ref.SectionName != nil {
		k.section = string(*ref.SectionName)
	}
	if ref.Port != nil {
		k.port = int32(*ref.Port)
	}
	return k
}

func normalParent(p gwv1.RouteParentStatus) gwv1.RouteParentStatus {
	out := *p.DeepCopy()
	out.Conditions = normalConditions(out.Conditions)
	if out.ParentRef.Group == nil {
		out.ParentRef.Group = &defaultGroup
	}
	if out.ParentRef.Kind == nil {
		out.ParentRef.Kind = &defaultParentKind
	}
	return out
}

func sameParent(a, b gwv1.RouteParentStatus) bool {
	return equality.Semantic.DeepEqual(normalParent(a), normalParent(b))
}

// mergeParents computes an HTTPRoute's status.parents: the entries of other
// controllers stay as and where they are; this controller's entries become
// want (one per parentRef: the first wins), updated in place where the
// parentRef still appears in want, removed where it does not (a parent no
// longer referenced, or no longer Portico's), and appended where new.
// changed is false when that is what cur already holds, up to
// lastTransitionTime and order.
func mergeParents(cur, want []gwv1.RouteParentStatus, ours gwv1.GatewayController, routeNS string, now metav1.Time) (out []gwv1.RouteParentStatus, changed bool) {
	wanted := make(map[parentKey]int, len(want))
	for i, p := range want {
		if k := parentKeyOf(p.ParentRef, routeNS); !hasKey(wanted, k) {
			wanted[k] = i
		}
	}
	next := func(i int, old []metav1.Condition) gwv1.RouteParentStatus {
		p := *want[i].DeepCopy()
		p.ControllerName = ours
		p.Conditions = mergeConditions(old, p.Conditions, now)
		return p
	}
	done := make(map[parentKey]bool, len(want))
	out = make([]gwv1.RouteParentStatus, 0, len(cur)+len(want))
	for _, p := range cur {
		if p.ControllerName != ours {
			out = append(out, p)
			continue
		}
		k := parentKeyOf(p.ParentRef, routeNS)
		i, ok := wanted[k]
		if !ok || done[k] {
			changed = true // no longer wanted, or a duplicate
			continue
		}
		done[k] = true
		n := next(i, p.Conditions)
		changed = changed || !sameParent(p, n)
		out = append(out, n)
	}
	for i, p := range want {
		if k := parentKeyOf(p.ParentRef, routeNS); !done[k] {
			done[k] = true
			out = append(out, next(i, nil))
			changed = true
		}
	}
	return out, changed
}

func hasKey(m map[parentKey]int, k parentKey) bool {
	_, ok := m[k]
	return ok
}
