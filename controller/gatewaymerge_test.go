package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

var (
	lt0 = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	lt1 = metav1.NewTime(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
)

func mkCond(typ string, status metav1.ConditionStatus, reason string, gen int64, at metav1.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: reason, ObservedGeneration: gen, LastTransitionTime: at}
}

func TestMergeConditions(t *testing.T) {
	t.Parallel()
	cur := []metav1.Condition{mkCond("Accepted", "True", "Accepted", 1, lt0), mkCond("ResolvedRefs", "True", "ResolvedRefs", 1, lt0)}
	want := []metav1.Condition{
		mkCond("Accepted", "True", "Accepted", 2, metav1.Time{}),             // same status, newer generation: time kept
		mkCond("ResolvedRefs", "False", "BackendNotFound", 2, metav1.Time{}), // changed: now
		mkCond("Programmed", "True", "Programmed", 2, metav1.Time{}),         // new: now
	}
	got := mergeConditions(cur, want, lt1)
	wantTimes := []metav1.Time{lt0, lt1, lt1}
	for i, c := range got {
		if !c.LastTransitionTime.Equal(&wantTimes[i]) {
			t.Errorf("%s: lastTransitionTime %v, want %v", c.Type, c.LastTransitionTime, wantTimes[i])
		}
		if c.ObservedGeneration != 2 || c.Reason != want[i].Reason {
			t.Errorf("%s: got %+v, want the wanted fields", c.Type, c)
		}
	}
	if want[0].LastTransitionTime != (metav1.Time{}) {
		t.Error("mergeConditions modified its input")
	}
}

func TestSameGatewayStatus(t *testing.T) {
	t.Parallel()
	ip := gwv1.IPAddressType
	base := func() *gwv1.GatewayStatus {
		return &gwv1.GatewayStatus{
			Addresses:  []gwv1.GatewayStatusAddress{{Value: "127.1.0.1"}},
			Conditions: []metav1.Condition{mkCond("Accepted", "True", "Accepted", 1, lt0), mkCond("Programmed", "True", "Programmed", 1, lt0)},
			Listeners: []gwv1.ListenerStatus{
				{Name: "a", AttachedRoutes: 1, SupportedKinds: []gwv1.RouteGroupKind{{Kind: "HTTPRoute"}},
					Conditions: []metav1.Condition{mkCond("Accepted", "True", "Accepted", 1, lt0)}},
				{Name: "b", Conditions: []metav1.Condition{mkCond("Accepted", "True", "Accepted", 1, lt0)}},
			},
		}
	}
	tests := []struct {
		name   string
		change func(*gwv1.GatewayStatus)
		same   bool
	}{
		{"identical", func(*gwv1.GatewayStatus) {}, true},
		{"only lastTransitionTime", func(s *gwv1.GatewayStatus) { s.Conditions[0].LastTransitionTime = lt1 }, true},
		{"conditions reordered", func(s *gwv1.GatewayStatus) { s.Conditions[0], s.Conditions[1] = s.Conditions[1], s.Conditions[0] }, true},
		{"listeners reordered", func(s *gwv1.GatewayStatus) { s.Listeners[0], s.Listeners[1] = s.Listeners[1], s.Listeners[0] }, true},
		{"defaults filled in by the API server", func(s *gwv1.GatewayStatus) {
			s.Addresses[0].Type = &ip
			s.Listeners[0].SupportedKinds[0].Group = ptr.To(gwv1.Group(gwv1.GroupName))
		}, true},
		{"observedGeneration", func(s *gwv1.GatewayStatus) { s.Conditions[1].ObservedGeneration = 2 }, false},
		{"listener condition reason", func(s *gwv1.GatewayStatus) { s.Listeners[1].Conditions[0].Reason = "x" }, false},
		{"attachedRoutes", func(s *gwv1.GatewayStatus) { s.Listeners[0].AttachedRoutes = 2 }, false},
		{"address", func(s *gwv1.GatewayStatus) { s.Addresses[0].Value = "127.1.0.2" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := base()
			tc.change(b)
			if got := sameGatewayStatus(base(), b); got != tc.same {
				t.Errorf("sameGatewayStatus = %v, want %v", got, tc.same)
			}
		})
	}
}

func TestMergeParents(t *testing.T) {
	t.Parallel()
	const ours, theirs = gwv1.GatewayController("portico.dev/gateway-controller"), gwv1.GatewayController("example.com/other")
	ref := func(name string) gwv1.ParentReference { return gwv1.ParentReference{Name: gwv1.ObjectName(name)} }
	entry := func(c gwv1.GatewayController, name string, reason string, at metav1.Time) gwv1.RouteParentStatus {
		return gwv1.RouteParentStatus{ParentRef: ref(name), ControllerName: c,
			Conditions: []metav1.Condition{mkCond("Accepted", "True", reason, 1, at)}}
	}
	names := func(ps []gwv1.RouteParentStatus) []string {
		var out []string
		for _, p := range ps {
			who := "ours"
			if p.ControllerName != ours {
				who = "theirs"
			}
			out = append(out, who+":"+string(p.ParentRef.Name)+":"+p.Conditions[0].Reason)
		}
		return out
	}
	tests := []struct {
		name        string
		cur, want   []gwv1.RouteParentStatus
		wantNames   []string
		wantChanged bool
	}{
		{"nothing", nil, nil, nil, false},
		{"first write keeps the other controller's entry",
			[]gwv1.RouteParentStatus{entry(theirs, "gw", "Theirs", lt0)},
			[]gwv1.RouteParentStatus{entry("", "gw", "Accepted", metav1.Time{})},
			[]string{"theirs:gw:Theirs", "ours:gw:Accepted"}, true},
		{"same up to time and defaults",
			[]gwv1.RouteParentStatus{entry(ours, "gw", "Accepted", lt0)},
			[]gwv1.RouteParentStatus{{ParentRef: gwv1.ParentReference{Name: "gw", Group: ptr.To(gwv1.Group(gwv1.GroupName)), Kind: ptr.To(gwv1.Kind("Gateway"))},
				ControllerName: ours, Conditions: []metav1.Condition{mkCond("Accepted", "True", "Accepted", 1, lt1)}}},
			[]string{"ours:gw:Accepted"}, false},
		{"ours updated in place, theirs untouched",
			[]gwv1.RouteParentStatus{entry(ours, "a", "Old", lt0), entry(theirs, "a", "Theirs", lt0), entry(ours, "b", "Accepted", lt0)},
			[]gwv1.RouteParentStatus{entry(ours, "b", "Accepted", lt0), entry(ours, "a", "New", lt1)},
			[]string{"ours:a:New", "theirs:a:Theirs", "ours:b:Accepted"}, true},
		{"a parent no longer referenced loses our entry only",
			[]gwv1.RouteParentStatus{entry(ours, "a", "Accepted", lt0), entry(theirs, "b", "Theirs", lt0), entry(ours, "b", "Accepted", lt0)},
			[]gwv1.RouteParentStatus{entry(ours, "a", "Accepted", lt0)},
			[]string{"ours:a:Accepted", "theirs:b:Theirs"}, true},
		{"route no longer ours at all",
			[]gwv1.RouteParentStatus{entry(theirs, "b", "Theirs", lt0), entry(ours, "a", "Accepted", lt0)},
			nil,
			[]string{"theirs:b:Theirs"}, true},
		{"a duplicate parentRef in want is written once",
			nil,
			[]gwv1.RouteParentStatus{entry(ours, "a", "First", lt0), entry(ours, "a", "Second", lt0)},
			[]string{"ours:a:First"}, true},
		{"a section is another parent",
			[]gwv1.RouteParentStatus{entry(ours, "a", "Accepted", lt0)},
			[]gwv1.RouteParentStatus{{ParentRef: gwv1.ParentReference{Name: "a", SectionName: ptr.To(gwv1.SectionName("http"))},
				Conditions: []metav1.Condition{mkCond("Accepted", "True", "Section", 1, lt0)}}},
			[]string{"ours:a:Section"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, changed := mergeParents(tc.cur, tc.want, ours, "ns", lt1)
			if changed != tc.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tc.wantChanged)
			}
			if g := names(got); len(g) != len(tc.wantNames) || (len(g) > 0 && !equalStrings(g, tc.wantNames)) {
				t.Errorf("parents = %v, want %v", g, tc.wantNames)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMergePolicyAncestors: a BackendTLSPolicy's ancestors are merged as
// a route's parents are: another controller's entry stays where it is,
// ours is updated in place (keeping an unchanged condition's time), one
// for a Gateway no longer using the policy goes, a new one is appended.
func TestMergePolicyAncestors(t *testing.T) {
	t.Parallel()
	ref := func(name string) gwv1.ParentReference {
		return gwv1.ParentReference{Group: ptr.To(gwv1.Group("gateway.networking.k8s.io")), Kind: ptr.To(gwv1.Kind("Gateway")),
			Namespace: ptr.To(gwv1.Namespace("infra")), Name: gwv1.ObjectName(name)}
	}
	ours, theirs := gwv1.GatewayController("portico.dev/gateway-controller"), gwv1.GatewayController("example.com/other")
	cur := []gwv1.PolicyAncestorStatus{
		{AncestorRef: ref("kept"), ControllerName: ours, Conditions: []metav1.Condition{mkCond("Accepted", "True", "Accepted", 1, lt0)}},
		{AncestorRef: ref("theirs"), ControllerName: theirs, Conditions: []metav1.Condition{mkCond("Accepted", "False", "Conflicted", 7, lt0)}},
		{AncestorRef: ref("gone"), ControllerName: ours, Conditions: []metav1.Condition{mkCond("Accepted", "True", "Accepted", 1, lt0)}},
	}
	want := []gwv1.PolicyAncestorStatus{
		{AncestorRef: ref("kept"), Conditions: []metav1.Condition{mkCond("Accepted", "True", "Accepted", 2, lt1)}},
		{AncestorRef: ref("new"), Conditions: []metav1.Condition{mkCond("Accepted", "True", "Accepted", 2, lt1)}},
	}
	merged, changed := mergeParents(ancestorsAsParents(cur), ancestorsAsParents(want), ours, "infra", lt1)
	got := parentsAsAncestors(merged)
	if !changed {
		t.Fatal("not changed")
	}
	names := []string{}
	for _, a := range got {
		names = append(names, string(a.AncestorRef.Name)+"/"+string(a.ControllerName))
	}
	wantNames := []string{"kept/" + string(ours), "theirs/" + string(theirs), "new/" + string(ours)}
	if len(names) != len(wantNames) {
		t.Fatalf("ancestors %v, want %v", names, wantNames)
	}
	for i := range names {
		if names[i] != wantNames[i] {
			t.Fatalf("ancestors %v, want %v", names, wantNames)
		}
	}
	if c := got[0].Conditions[0]; c.ObservedGeneration != 2 || !c.LastTransitionTime.Equal(&lt0) {
		t.Errorf("kept entry: %+v, want generation 2 and the old time", c)
	}
	if c := got[1].Conditions[0]; c.ObservedGeneration != 7 {
		t.Errorf("another controller's entry changed: %+v", c)
	}
}
