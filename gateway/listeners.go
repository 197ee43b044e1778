package gateway

import (
	"fmt"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

const groupName = gwv1.GroupName // "gateway.networking.k8s.io"

// listenerState is one listener of an accepted Gateway while Translate
// runs: what is wrong with it, what it supports and what attached to it.
type listenerState struct {
	spec     *gwv1.Listener
	gw       *gatewayState
	set      *listenerSetState // the ListenerSet it comes from; nil for the Gateway's own
	hostname string            // lower case, "" for any
	kinds    []gwv1.RouteGroupKind

	accepted   issue // why it is not accepted (UnsupportedProtocol, ...)
	resolved   issue // why its references do not resolve (InvalidCertificateRef, InvalidRouteKinds, ...)
	conflicted issue // HostnameConflict or ProtocolConflict

	// namespaces that may attach routes: from is Same, All or Selector.
	from     gwv1.FromNamespaces
	selector labels.Selector

	certs    []*tlsstore.Certificate
	client   *ClientValidation // client certificate validation of its port, nil for none
	attached int32
	routes   []router.Route
}

// attachable: routes may attach to a listener that is accepted and not in
// conflict with another.
func (l *listenerState) attachable() bool { return l.accepted.ok() && l.conflicted.ok() }

// usable: attachable and, on HTTPS, with a certificate to serve. A
// ListenerSet whose listeners are all unusable is not accepted
// (ListenersNotValid; ListenerSetReferenceGrant: "not accepted because the
// only listener is missing a reference grant").
func (l *listenerState) usable() bool {
	return l.attachable() && (l.spec.Protocol == gwv1.HTTPProtocolType || len(l.certs) > 0)
}

// served: the data plane opens it.
func (l *listenerState) served() bool {
	if ok, _, _ := l.gw.acceptedStatus(); !ok || !l.attachable() || !l.gw.programmed.ok() {
		return false
	}
	if l.set != nil && !l.set.allowed.ok() {
		return false
	}
	return l.spec.Protocol == gwv1.HTTPProtocolType || len(l.certs) > 0
}

// checkListeners validates each listener of g on its own, then finds the
// conflicts between them.
func (t *translator) checkListeners(g *gatewayState) {
	for i := range g.gw.Spec.Listeners {
		l := &listenerState{spec: &g.gw.Spec.Listeners[i], gw: g}
		if l.spec.Hostname != nil {
			l.hostname = lower(string(*l.spec.Hostname))
		}
		t.checkListener(l)
		g.listeners = append(g.listeners, l)
	}
}

// owner is the object that declares the listener: its Gateway, or its
// ListenerSet. "Same" namespace and certificate references are relative to
// it.
func (l *listenerState) owner() (kind, namespace string) {
	if l.set != nil {
		return "ListenerSet", l.set.key.Namespace
	}
	return "Gateway", l.gw.gw.Namespace
}

func (t *translator) checkListener(l *listenerState) {
	switch l.spec.Protocol {
	case gwv1.HTTPProtocolType, gwv1.HTTPSProtocolType:
	default:
		l.accepted.set(string(gwv1.ListenerReasonUnsupportedProtocol),
			fmt.Sprintf("protocol %q is not supported; Portico serves HTTP and HTTPS listeners", l.spec.Protocol))
		l.kinds = []gwv1.RouteGroupKind{}
		return
	}
	t.checkKinds(l)
	t.checkNamespaces(l)
	if l.spec.Protocol == gwv1.HTTPSProtocolType {
		t.checkTLS(l)
		t.checkClientValidation(l)
	}
}

// checkKinds: "Kinds specifies the groups and kinds of Routes that are
// allowed to bind to this Gateway Listener. When unspecified or empty, the
// kinds of Routes selected are determined using the Listener protocol."
// Kinds Portico cannot serve are left out of supportedKinds and make
// ResolvedRefs false with InvalidRouteKinds.
func (t *translator) checkKinds(l *listenerState) {
	if l.spec.AllowedRoutes == nil || len(l.spec.AllowedRoutes.Kinds) == 0 {
		l.kinds = []gwv1.RouteGroupKind{httpRouteKind()}
		return
	}
	l.kinds = []gwv1.RouteGroupKind{}
	for _, k := range l.spec.AllowedRoutes.Kinds {
		group := groupName
		if k.Group != nil {
			group = string(*k.Group)
		}
		if group == groupName && k.Kind == "HTTPRoute" {
			l.kinds = append(l.kinds, httpRouteKind())
			continue
		}
		l.resolved.set(string(gwv1.ListenerReasonInvalidRouteKinds),
			fmt.Sprintf("route kind %s/%s is not supported on a %s listener", group, k.Kind, l.spec.Protocol))
	}
}

func httpRouteKind() gwv1.RouteGroupKind {
	g := gwv1.Group(groupName)
	return gwv1.RouteGroupKind{Group: &g, Kind: "HTTPRoute"}
}

func (t *translator) checkNamespaces(l *listenerState) {
	l.from = gwv1.NamespacesFromSame
	if l.spec.AllowedRoutes == nil || l.spec.AllowedRoutes.Namespaces == nil || l.spec.AllowedRoutes.Namespaces.From == nil {
		return
	}
	ns := l.spec.AllowedRoutes.Namespaces
	l.from = *ns.From
	switch l.from {
	case gwv1.NamespacesFromSame, gwv1.NamespacesFromAll:
	case gwv1.NamespacesFromSelector:
		if ns.Selector == nil {
			l.accepted.set(string(gwv1.ListenerReasonUnsupportedValue), "allowedRoutes.namespaces.from is Selector but no selector is given")
			return
		}
		sel, err := metav1.LabelSelectorAsSelector(ns.Selector)
		if err != nil {
			l.accepted.set(string(gwv1.ListenerReasonUnsupportedValue), "allowedRoutes.namespaces.selector: "+err.Error())
			return
		}
		l.selector = sel
	default:
		l.accepted.set(string(gwv1.ListenerReasonUnsupportedValue), fmt.Sprintf("allowedRoutes.namespaces.from %q is not supported", l.from))
	}
}

// allowsNamespace reports whether a route in ns may attach to l.
func (t *translator) allowsNamespace(l *listenerState, ns string) bool {
	switch l.from {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSelector:
		n := t.snap.Namespaces[ns]
		return n != nil && l.selector != nil && l.selector.Matches(labels.Set(n.Labels))
	default:
		_, own := l.owner()
		return ns == own
	}
}

// allowsKind reports whether l accepts routes of kind.
func (l *listenerState) allowsKind(kind string) bool {
	for _, k := range l.kinds {
		if string(k.Kind) == kind {
			return true
		}
	}
	return false
}

// checkTLS loads an HTTPS listener's certificates. Each reference must name
// a core Secret, in another namespace only where a ReferenceGrant allows
// it, holding a valid certificate and key; a bad reference is left out
// and makes ResolvedRefs false.
func (t *translator) checkTLS(l *listenerState) {
	tls := l.spec.TLS
	if tls == nil {
		l.resolved.set(string(gwv1.ListenerReasonInvalidCertificateRef), "an HTTPS listener needs tls.certificateRefs")
		return
	}
	if tls.Mode != nil && *tls.Mode != gwv1.TLSModeTerminate {
		l.accepted.set(string(gwv1.ListenerReasonUnsupportedValue), fmt.Sprintf("tls.mode %q is not supported on an HTTPS listener", *tls.Mode))
		return
	}
	if len(tls.CertificateRefs) == 0 {
		l.resolved.set(string(gwv1.ListenerReasonInvalidCertificateRef), "an HTTPS listener needs tls.certificateRefs")
		return
	}
	ownerKind, ownerNS := l.owner()
	for _, cr := range tls.CertificateRefs {
		group, kind := "", "Secret"
		if cr.Group != nil {
			group = string(*cr.Group)
		}
		if cr.Kind != nil {
			kind = string(*cr.Kind)
		}
		ns := ownerNS
		if cr.Namespace != nil && *cr.Namespace != "" {
			ns = string(*cr.Namespace)
		}
		name := ns + "/" + string(cr.Name)
		if (group != "" && group != "core") || kind != "Secret" {
			l.resolved.set(string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef %s: kind %s/%s is not supported, only core Secrets", name, group, kind))
			continue
		}
		if !t.grants.allows(ref{group: groupName, kind: ownerKind, namespace: ownerNS}, ref{kind: "Secret", namespace: ns, name: string(cr.Name)}) {
			l.resolved.set(string(gwv1.ListenerReasonRefNotPermitted), fmt.Sprintf("certificateRef %s: no ReferenceGrant in %s allows %ss from %s", name, ns, ownerKind, ownerNS))
			continue
		}
		sec := t.snap.Secrets[types.NamespacedName{Namespace: ns, Name: string(cr.Name)}]
		if sec == nil {
			l.resolved.set(string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef %s: Secret not found (or not of type kubernetes.io/tls)", name))
			continue
		}
		cert, err := tlsstore.Parse(sec.Data["tls.crt"], sec.Data["tls.key"], t.now)
		if err != nil {
			l.resolved.set(string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef %s: %v", name, err))
			continue
		}
		cert.Source = name
		l.certs = append(l.certs, cert)
	}
}

// markConflicts applies the rules for listeners that share a port, in
// precedence order (a Gateway's own listeners in order, then its
// ListenerSets, oldest first, each in order): a listener whose port an
// earlier one already uses with another protocol is a ProtocolConflict;
// one whose protocol, port and hostname an earlier one already has is a
// HostnameConflict. The earlier listener keeps the port; only listeners
// that passed their own checks claim one.
func markConflicts(ls []*listenerState) {
	type key struct {
		port gwv1.PortNumber
		host string
	}
	protocol := make(map[gwv1.PortNumber]gwv1.ProtocolType)
	taken := make(map[key]*listenerState)
	for _, l := range ls {
		port := l.spec.Port
		if p, ok := protocol[port]; ok && p != l.spec.Protocol {
			// Also for a protocol Portico does not serve: the conflict is
			// the more telling reason.
			l.conflicted.set(string(gwv1.ListenerReasonProtocolConflict), fmt.Sprintf("port %d is already used with protocol %s", port, p))
			continue
		}
		if !l.accepted.ok() {
			continue
		}
		k := key{port, l.hostname}
		if w := taken[k]; w != nil {
			l.conflicted.set(string(gwv1.ListenerReasonHostnameConflict), fmt.Sprintf("hostname %q on port %d is already used by listener %s", anyHost(l.hostname), port, w.describe()))
			continue
		}
		protocol[port] = l.spec.Protocol
		taken[k] = l
	}
}

// describe names a listener for messages.
func (l *listenerState) describe() string {
	if l.set != nil {
		return fmt.Sprintf("%s of ListenerSet %s", l.spec.Name, l.set.key)
	}
	return fmt.Sprintf("%s of Gateway %s", l.spec.Name, l.gw.key)
}

func anyHost(h string) string {
	if h == "" {
		return "*"
	}
	return h
}

// status is the listener's entry in Gateway status.listeners.
func (l *listenerState) status(gen int64, now metav1.Time) gwv1.ListenerStatus {
	cs := make([]metav1.Condition, 0, 4)
	switch {
	case !l.conflicted.ok():
		// A listener that lost a conflict is neither accepted nor
		// programmed, for the conflict's reason.
		cs = append(cs, condition(string(gwv1.ListenerConditionAccepted), false, l.conflicted.reason, l.conflicted.msg, gen, now))
	case l.accepted.ok():
		cs = append(cs, condition(string(gwv1.ListenerConditionAccepted), true, string(gwv1.ListenerReasonAccepted), "", gen, now))
	default:
		cs = append(cs, condition(string(gwv1.ListenerConditionAccepted), false, l.accepted.reason, l.accepted.msg, gen, now))
	}
	if l.conflicted.ok() {
		cs = append(cs, condition(string(gwv1.ListenerConditionConflicted), false, string(gwv1.ListenerReasonNoConflicts), "", gen, now))
	} else {
		cs = append(cs, condition(string(gwv1.ListenerConditionConflicted), true, l.conflicted.reason, l.conflicted.msg, gen, now))
	}
	if l.resolved.ok() {
		cs = append(cs, condition(string(gwv1.ListenerConditionResolvedRefs), true, string(gwv1.ListenerReasonResolvedRefs), "", gen, now))
	} else {
		cs = append(cs, condition(string(gwv1.ListenerConditionResolvedRefs), false, l.resolved.reason, l.resolved.msg, gen, now))
	}
	unavailable := l.unavailable()
	switch {
	case l.served() && unavailable != "":
		cs = append(cs, condition(string(gwv1.ListenerConditionProgrammed), false, string(gwv1.ListenerReasonPortUnavailable), unavailable, gen, now))
	case l.served():
		cs = append(cs, condition(string(gwv1.ListenerConditionProgrammed), true, string(gwv1.ListenerReasonProgrammed), "", gen, now))
	case !l.conflicted.ok():
		cs = append(cs, condition(string(gwv1.ListenerConditionProgrammed), false, l.conflicted.reason, l.conflicted.msg, gen, now))
	case l.attachable() && !l.gw.programmed.ok() && l.gw.accepted.reason != string(gwv1.GatewayReasonUnsupportedAddress):
		cs = append(cs, condition(string(gwv1.ListenerConditionProgrammed), false, string(gwv1.ListenerReasonPending), "the Gateway has no usable address yet", gen, now))
	default:
		cs = append(cs, condition(string(gwv1.ListenerConditionProgrammed), false, string(gwv1.ListenerReasonInvalid), l.invalidMessage(), gen, now))
	}
	return gwv1.ListenerStatus{Name: l.spec.Name, SupportedKinds: l.kinds, AttachedRoutes: l.attached, Conditions: cs}
}

func (l *listenerState) invalidMessage() string {
	var parts []string
	for _, i := range []issue{l.accepted, l.conflicted, l.resolved} {
		if !i.ok() {
			parts = append(parts, i.msg)
		}
	}
	if len(parts) == 0 {
		return "the listener has no usable certificate"
	}
	return strings.Join(parts, "; ")
}

// unavailable is why the data plane could not open the listener's port on
// one of its Gateway's addresses; "" when it could.
func (l *listenerState) unavailable() string {
	for _, a := range l.gw.addrs {
		k := netip.AddrPortFrom(a, uint16(l.spec.Port))
		if msg, ok := l.gw.unavailable[k]; ok {
			return fmt.Sprintf("%s cannot be opened: %s", k, msg)
		}
	}
	return ""
}
