package gateway

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/endpoints"
	"portico.dev/portico/router"
)

// backend resolves one backendRef of a route in namespace ns. A reference
// that does not resolve returns nil and the reason, which the route's
// ResolvedRefs condition reports: InvalidKind (not a core Service),
// RefNotPermitted (another namespace without a ReferenceGrant),
// BackendNotFound (no such Service or port) or UnsupportedProtocol (an
// appProtocol Portico cannot speak). The caller keeps the reference's
// weight, so its share of requests is answered 500.
func (t *translator) backend(br gwv1.BackendObjectReference, routeKind, ns string) (*router.Backend, issue) {
	var bad issue
	group, kind := "", "Service"
	if br.Group != nil {
		group = string(*br.Group)
	}
	if br.Kind != nil {
		kind = string(*br.Kind)
	}
	svcNS := ns
	if br.Namespace != nil && *br.Namespace != "" {
		svcNS = string(*br.Namespace)
	}
	name := svcNS + "/" + string(br.Name)
	if (group != "" && group != "core") || kind != "Service" {
		bad.set(string(gwv1.RouteReasonInvalidKind), fmt.Sprintf("backendRef %s: kind %s/%s is not supported, only core Services", name, group, kind))
		return nil, bad
	}
	if !t.grants.allows(ref{group: groupName, kind: routeKind, namespace: ns}, ref{kind: "Service", namespace: svcNS, name: string(br.Name)}) {
		bad.set(string(gwv1.RouteReasonRefNotPermitted), fmt.Sprintf("backendRef %s: no ReferenceGrant in %s allows %ss from %s", name, svcNS, routeKind, ns))
		return nil, bad
	}
	key := types.NamespacedName{Namespace: svcNS, Name: string(br.Name)}
	svc := t.snap.Services[key]
	if svc == nil {
		bad.set(string(gwv1.RouteReasonBackendNotFound), fmt.Sprintf("backendRef %s: Service not found", name))
		return nil, bad
	}
	if br.Port == nil {
		bad.set(string(gwv1.RouteReasonBackendNotFound), fmt.Sprintf("backendRef %s: a port is required", name))
		return nil, bad
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == int32(*br.Port) {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		bad.set(string(gwv1.RouteReasonBackendNotFound), fmt.Sprintf("backendRef %s: Service has no port %d", name, *br.Port))
		return nil, bad
	}
	proto, ok := appProtocol(sp.AppProtocol)
	if !ok {
		bad.set(string(gwv1.RouteReasonUnsupportedProtocol), fmt.Sprintf("backendRef %s: appProtocol %q of port %d is not supported", name, *sp.AppProtocol, sp.Port))
		return nil, bad
	}
	port := strconv.Itoa(int(sp.Port))
	id := svcNS + "/" + string(br.Name) + ":" + port
	if b := t.backends[id]; b != nil {
		return b, bad
	}
	b := &router.Backend{
		ID: id, Namespace: svcNS, Service: string(br.Name), Port: port, Protocol: proto,
		Endpoints: endpoints.Addrs(*sp, t.snap.Slices[key]),
	}
	if ps := t.policyFor(svcNS, string(br.Name), sp.Name); len(ps) > 0 {
		// The oldest policy applies (BackendTLSPolicy precedence); every
		// one selecting the port gets the Gateways using it as ancestors.
		b.TLS = ps[0].tls
		t.backendPolicies[id] = ps
	}
	t.backends[id] = b
	return b, bad
}

// appProtocol maps a Service port's appProtocol to how Portico speaks to
// it: kubernetes.io/h2c is HTTP/2 over cleartext (prior knowledge),
// kubernetes.io/ws and plain HTTP are HTTP/1.1 (WebSocket upgrades pass
// through).
func appProtocol(p *string) (router.Protocol, bool) {
	if p == nil {
		return router.HTTP, true
	}
	switch *p {
	case "", "http", "HTTP", "kubernetes.io/ws", "tcp", "TCP":
		return router.HTTP, true
	case "kubernetes.io/h2c", "h2c":
		return router.H2C, true
	case "https", "HTTPS":
		// TLS without verification unless a BackendTLSPolicy says how to
		// verify (then the policy's configuration applies).
		return router.HTTPS, true
	}
	return router.HTTP, false
}
