package gateway

import (
	"crypto/tls"
	"fmt"
	"net/netip"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// gatewayState is one Gateway of a class Portico owns.
type gatewayState struct {
	gw        *gwv1.Gateway
	key       types.NamespacedName
	listeners []*listenerState
	sets      []*listenerSetState // ListenerSets naming it as parent, oldest first

	unavailable map[netip.AddrPort]string // Config.Unavailable
	accepted    issue                     // UnsupportedAddress, or ListenersNotValid when no listener is valid
	programmed  issue                     // AddressNotAssigned, AddressNotUsable
	addrs       []netip.Addr
	// backendTLS: spec.tls.backend names a client certificate, so the
	// Gateway reports ResolvedRefs; resolved is why it does not resolve.
	backendTLS bool
	resolved   issue
	clientCert *tls.Certificate // presented to TLS backends; nil for none
}

// checkClasses accepts the GatewayClasses Portico owns. Accepting a class
// needs nothing but the controller name: Portico has no parametersRef
// kinds, so a class that names one is not accepted (InvalidParameters).
func (t *translator) checkClasses() {
	for _, c := range t.snap.Classes {
		if string(c.Spec.ControllerName) != t.cfg.ControllerName {
			continue
		}
		gen, now := c.Generation, t.stamp
		st := &gwv1.GatewayClassStatus{}
		if c.Spec.ParametersRef != nil {
			st.Conditions = []metav1.Condition{condition(string(gwv1.GatewayClassConditionStatusAccepted), false,
				string(gwv1.GatewayClassReasonInvalidParameters),
				fmt.Sprintf("parametersRef %s/%s is not supported: Portico has no GatewayClass parameters", c.Spec.ParametersRef.Group, c.Spec.ParametersRef.Kind), gen, now)}
			t.problem("GatewayClass", "", c.Name, string(gwv1.GatewayClassReasonInvalidParameters), st.Conditions[0].Message)
		} else {
			st.Conditions = []metav1.Condition{condition(string(gwv1.GatewayClassConditionStatusAccepted), true,
				string(gwv1.GatewayClassReasonAccepted), "accepted by "+t.cfg.ControllerName, gen, now)}
			t.classes[c.Name] = true
		}
		for _, f := range SupportedFeatures(t.cfg) {
			st.SupportedFeatures = append(st.SupportedFeatures, gwv1.SupportedFeature{Name: gwv1.FeatureName(f)})
		}
		t.res.Status.Classes[c.Name] = st
	}
}

// checkGateways builds the state of every Gateway of an accepted class,
// oldest first (the older Gateway keeps an address both ask for).
func (t *translator) checkGateways() {
	for _, gw := range sortedGateways(t.snap.Gateways) {
		if !t.classes[string(gw.Spec.GatewayClassName)] {
			continue
		}
		g := &gatewayState{gw: gw, key: types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}, unavailable: t.cfg.Unavailable}
		if inf := gw.Spec.Infrastructure; inf != nil && inf.ParametersRef != nil {
			// Portico defines no parameters kinds, so any reference is one it
			// cannot resolve.
			g.accepted.set(string(gwv1.GatewayReasonInvalidParameters),
				fmt.Sprintf("infrastructure.parametersRef %s/%s %s is not supported: Portico has no Gateway parameters", inf.ParametersRef.Group, inf.ParametersRef.Kind, inf.ParametersRef.Name))
		}
		t.checkListeners(g)
		t.checkBackendClientCert(g)
		t.gateways = append(t.gateways, g)
		t.byKey[g.key] = g
	}
	t.checkListenerSets()
	for _, g := range t.gateways {
		markConflicts(g.allListeners())
		valid := 0
		for _, l := range g.listeners {
			if l.attachable() {
				valid++
			}
		}
		if valid < len(g.listeners) && g.accepted.ok() {
			g.accepted.set(string(gwv1.GatewayReasonListenersNotValid), "some listeners are not valid; see status.listeners")
		}
	}
	t.assignAddresses()
}

// gatewayAccepted: a Gateway is not accepted when an address cannot be
// understood or none of its listeners is valid.
func (g *gatewayState) acceptedStatus() (bool, string, string) {
	if !g.accepted.ok() {
		if g.accepted.reason == string(gwv1.GatewayReasonListenersNotValid) {
			if g.anyValid() {
				return true, g.accepted.reason, g.accepted.msg
			}
		}
		return false, g.accepted.reason, g.accepted.msg
	}
	return true, string(gwv1.GatewayReasonAccepted), ""
}

// status is the Gateway's status.
func (g *gatewayState) status(now metav1.Time) *gwv1.GatewayStatus {
	gen := g.gw.Generation
	st := &gwv1.GatewayStatus{}
	for _, a := range g.addrs {
		typ := gwv1.IPAddressType
		st.Addresses = append(st.Addresses, gwv1.GatewayStatusAddress{Type: &typ, Value: a.String()})
	}
	ok, reason, msg := g.acceptedStatus()
	st.Conditions = append(st.Conditions, condition(string(gwv1.GatewayConditionAccepted), ok, reason, msg, gen, now))
	switch {
	case !ok:
		st.Conditions = append(st.Conditions, condition(string(gwv1.GatewayConditionProgrammed), false, string(gwv1.GatewayReasonInvalid), "the Gateway is not accepted", gen, now))
	case !g.programmed.ok():
		st.Conditions = append(st.Conditions, condition(string(gwv1.GatewayConditionProgrammed), false, g.programmed.reason, g.programmed.msg, gen, now))
	default:
		st.Conditions = append(st.Conditions, condition(string(gwv1.GatewayConditionProgrammed), true, string(gwv1.GatewayReasonProgrammed), "", gen, now))
	}
	if g.backendTLS {
		if g.resolved.ok() {
			st.Conditions = append(st.Conditions, condition(string(gwv1.GatewayConditionResolvedRefs), true, string(gwv1.GatewayReasonResolvedRefs), "", gen, now))
		} else {
			st.Conditions = append(st.Conditions, condition(string(gwv1.GatewayConditionResolvedRefs), false, g.resolved.reason, g.resolved.msg, gen, now))
		}
	}
	if ok && insecureFrontend(g.gw) {
		st.Conditions = append(st.Conditions, condition(string(gwv1.GatewayConditionInsecureFrontendValidationMode), true,
			string(gwv1.GatewayReasonConfigurationChanged), "client certificate validation allows insecure fallback (AllowInsecureFallback)", gen, now))
	}
	for _, l := range g.listeners {
		st.Listeners = append(st.Listeners, l.status(gen, now))
	}
	if g.gw.Spec.AllowedListeners != nil || len(g.sets) > 0 {
		n := int32(0)
		for _, s := range g.sets {
			if s.acceptedOK() {
				n++
			}
		}
		st.AttachedListenerSets = &n
	}
	return st
}
