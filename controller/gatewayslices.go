package controller

import (
	"context"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"portico.dev/portico/gateway"
)

// writeSlices brings the EndpointSlices of a generated Service to its
// endpoints: one slice per address family that has any ("<service>-ipv4",
// "<service>-ipv6"), owned by the Service (the garbage collector removes
// them with it). Slices of a family without endpoints are deleted: with
// only loopback addresses (which the API server refuses in a slice) the
// Service has none.
func (w *GatewayServiceWriter) writeSlices(ctx context.Context, svc *corev1.Service, s gateway.GatewayService) error {
	api := w.cfg.Client.DiscoveryV1().EndpointSlices(svc.Namespace)
	want := map[string]*discoveryv1.EndpointSlice{}
	for _, a := range s.Endpoints {
		typ, suffix := discoveryv1.AddressTypeIPv4, "-ipv4"
		if a.Is6() && !a.Is4In6() {
			typ, suffix = discoveryv1.AddressTypeIPv6, "-ipv6"
		}
		es := want[svc.Name+suffix]
		if es == nil {
			es = desiredSlice(svc, svc.Name+suffix, typ, s)
			want[es.Name] = es
		}
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{a.Unmap().String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	have, err := w.slices.EndpointSlices(svc.Namespace).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: gateway.SliceManagedBy,
	}))
	if err != nil {
		return err
	}
	for _, cur := range have {
		next := want[cur.Name]
		if next == nil || next.AddressType != cur.AddressType {
			if err := api.Delete(ctx, cur.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err != nil {
				return err
			}
			continue
		}
		delete(want, cur.Name)
		upd := cur.DeepCopy()
		upd.Labels, upd.OwnerReferences, upd.Endpoints, upd.Ports = next.Labels, next.OwnerReferences, next.Endpoints, next.Ports
		if sameSlice(cur, upd) {
			continue
		}
		if _, err := api.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, err := api.Create(ctx, want[name], metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func desiredSlice(svc *corev1.Service, name string, typ discoveryv1.AddressType, s gateway.GatewayService) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: gateway.SliceManagedBy},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(false),
			}},
		},
		AddressType: typ,
	}
	for _, p := range s.Ports {
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(p.Port)})
	}
	return es
}

func sameSlice(a, b *discoveryv1.EndpointSlice) bool {
	return maps.Equal(a.Labels, b.Labels) && slices.EqualFunc(a.OwnerReferences, b.OwnerReferences, sameOwnerRef) &&
		slices.EqualFunc(a.Ports, b.Ports, func(x, y discoveryv1.EndpointPort) bool {
			return ptr.Deref(x.Name, "") == ptr.Deref(y.Name, "") && ptr.Deref(x.Port, 0) == ptr.Deref(y.Port, 0) &&
				ptr.Deref(x.Protocol, "") == ptr.Deref(y.Protocol, "")
		}) &&
		slices.EqualFunc(a.Endpoints, b.Endpoints, func(x, y discoveryv1.Endpoint) bool {
			return slices.Equal(x.Addresses, y.Addresses) && ptr.Deref(x.Conditions.Ready, false) == ptr.Deref(y.Conditions.Ready, false)
		})
}
