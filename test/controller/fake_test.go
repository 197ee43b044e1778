package controller

import (
	"net/netip"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/gateway"
)

var isConflict = apierrors.IsConflict

// fakeTranslate is a small, plausible translator for the controller's
// plumbing: every GatewayClass of cfg.ControllerName is Accepted; each
// Gateway of such a class is Accepted and Programmed on 127.1.0.1 with its
// listeners, and served on one Port per listener; each HTTPRoute gets one
// status.parents entry per parentRef that names such a Gateway. Every
// condition carries the object's generation and message, which tells
// translations (and replicas) apart. Times are left for the writer to set;
// address types and route groups are left unset, for the API server to
// default.
func fakeTranslate(message string) translateFunc {
	return func(s *gateway.Snapshot, cfg gateway.Config) *gateway.Result {
		res := &gateway.Result{Status: gateway.Status{
			Classes:    map[string]*gwv1.GatewayClassStatus{},
			Gateways:   map[types.NamespacedName]*gwv1.GatewayStatus{},
			HTTPRoutes: map[types.NamespacedName][]gwv1.RouteParentStatus{},
		}}
		ours := map[string]bool{}
		for _, c := range s.Classes {
			if string(c.Spec.ControllerName) != cfg.ControllerName {
				continue
			}
			ours[c.Name] = true
			res.Status.Classes[c.Name] = &gwv1.GatewayClassStatus{
				Conditions:        []metav1.Condition{condition("Accepted", "Accepted", message, c.Generation)},
				SupportedFeatures: []gwv1.SupportedFeature{{Name: "Gateway"}, {Name: "HTTPRoute"}},
			}
		}
		gateways := map[types.NamespacedName]bool{}
		for _, g := range s.Gateways {
			if !ours[string(g.Spec.GatewayClassName)] {
				continue
			}
			key := types.NamespacedName{Namespace: g.Namespace, Name: g.Name}
			gateways[key] = true
			st := &gwv1.GatewayStatus{
				Addresses: []gwv1.GatewayStatusAddress{{Value: "127.1.0.1"}},
				Conditions: []metav1.Condition{condition("Accepted", "Accepted", message, g.Generation),
					condition("Programmed", "Programmed", message, g.Generation)},
			}
			for _, l := range g.Spec.Listeners {
				st.Listeners = append(st.Listeners, gwv1.ListenerStatus{
					Name: l.Name, SupportedKinds: []gwv1.RouteGroupKind{{Kind: "HTTPRoute"}},
					Conditions: []metav1.Condition{condition("Accepted", "Accepted", message, g.Generation),
						condition("Programmed", "Programmed", message, g.Generation)},
				})
				res.Ports = append(res.Ports, gateway.Port{
					Addr:      netip.AddrPortFrom(netip.MustParseAddr("127.1.0.1"), uint16(l.Port)),
					Listeners: []gateway.Listener{{Gateway: key, Name: string(l.Name)}},
				})
			}
			res.Status.Gateways[key] = st
		}
		for _, rt := range s.HTTPRoutes {
			var parents []gwv1.RouteParentStatus
			for _, ref := range rt.Spec.ParentRefs {
				ns := rt.Namespace
				if ref.Namespace != nil {
					ns = string(*ref.Namespace)
				}
				if !gateways[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}] {
					continue
				}
				parents = append(parents, gwv1.RouteParentStatus{
					ParentRef:      ref,
					ControllerName: gwv1.GatewayController(cfg.ControllerName),
					Conditions: []metav1.Condition{condition("Accepted", "Accepted", message, rt.Generation),
						condition("ResolvedRefs", "ResolvedRefs", message, rt.Generation)},
				})
				for i := range res.Status.Gateways[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}].Listeners {
					res.Status.Gateways[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}].Listeners[i].AttachedRoutes++
				}
			}
			if parents != nil {
				res.Status.HTTPRoutes[types.NamespacedName{Namespace: rt.Namespace, Name: rt.Name}] = parents
			}
		}
		slices.SortFunc(res.Ports, func(a, b gateway.Port) int { return a.Addr.Compare(b.Addr) })
		return res
	}
}

func condition(typ, reason, message string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: message, ObservedGeneration: gen}
}

// ourParents returns the route's status.parents entries of controllerName.
func ourParents(rt *gwv1.HTTPRoute, controllerName string) []gwv1.RouteParentStatus {
	var out []gwv1.RouteParentStatus
	for _, p := range rt.Status.Parents {
		if string(p.ControllerName) == controllerName {
			out = append(out, p)
		}
	}
	return out
}

func findCond(cs []metav1.Condition, typ string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}
