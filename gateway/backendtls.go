package gateway

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/router"
)

// policyTarget is what a BackendTLSPolicy targetRef selects: a Service in
// the policy's namespace, and one of its ports by name (sectionName), or
// every port ("").
type policyTarget struct {
	namespace, service, section string
}

// policyState is one BackendTLSPolicy as this build sees it.
type policyState struct {
	p   *gwv1.BackendTLSPolicy
	key types.NamespacedName

	accepted issue // Conflicted, NoValidCACertificate, Invalid
	resolved issue // InvalidCACertificateRef, InvalidKind
	// tls is what backends it applies to get: a verified configuration, or
	// one marked Invalid when its CA certificates cannot be used.
	tls *router.BackendTLS
	// ancestors are the Gateways whose routes send traffic to a target of
	// the policy, in the order first seen.
	ancestors []*gatewayState
}

// checkPolicies reads every BackendTLSPolicy, oldest first, and decides
// which one applies to each target. BackendTLSPolicySpec.TargetRefs: "When
// more than one BackendTLSPolicy selects the same target and sectionName,
// implementations MUST determine precedence using the following criteria,
// continuing on ties: The older policy by creation timestamp takes
// precedence. [...] The policy appearing first in alphabetical order by
// {namespace}/{name}. [...] For any BackendTLSPolicy that does not take
// precedence, the implementation MUST ensure the Accepted Condition is set
// to status: False, with Reason Conflicted."
func (t *translator) checkPolicies() {
	list := slices.Clone(t.snap.BackendTLSPolicies)
	slices.SortStableFunc(list, func(a, b *gwv1.BackendTLSPolicy) int {
		return cmpObjects(a.CreationTimestamp, b.CreationTimestamp, a.Namespace, b.Namespace, a.Name, b.Name)
	})
	for _, p := range list {
		ps := &policyState{p: p, key: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}}
		t.policies = append(t.policies, ps)
		for _, tr := range p.Spec.TargetRefs {
			if (tr.Group != "" && tr.Group != "core") || tr.Kind != "Service" {
				continue // only Services are supported targets; others are not ours to judge
			}
			k := policyTarget{namespace: p.Namespace, service: string(tr.Name)}
			if tr.SectionName != nil {
				k.section = string(*tr.SectionName)
			}
			if w := t.byTarget[k]; len(w) > 0 {
				ps.accepted.set(string(gwv1.PolicyReasonConflicted), fmt.Sprintf("BackendTLSPolicy %s is older and selects the same target", w[0].key))
			}
			t.byTarget[k] = append(t.byTarget[k], ps)
		}
		ps.tls = t.policyTLS(ps)
	}
}

// policyTLS resolves a policy's validation into the TLS configuration of
// the backends it applies to. CACertificateRefs: "A CACertificateRef is
// invalid if: It refers to a resource that cannot be resolved [...] or is
// misconfigured (e.g., a ConfigMap does not contain a key named ca.crt).
// In this case, the Reason must be set to InvalidCACertificateRef [...] It
// refers to an unknown or unsupported kind of resource. In this case, the
// Reason must be set to InvalidKind [...] Connections using an invalid
// CACertificateRef MUST fail, and the client MUST receive an HTTP 5xx
// error response. If ALL CACertificateRefs are invalid, the implementation
// MUST also ensure the Accepted Condition [...] is set to status: False,
// with a Reason NoValidCACertificate." Portico fails a backend as soon as
// one reference is invalid: it cannot know which CA the backend's
// certificate was meant to chain to.
func (t *translator) policyTLS(ps *policyState) *router.BackendTLS {
	v := ps.p.Spec.Validation
	bt := &router.BackendTLS{ServerName: string(v.Hostname)}
	for _, san := range v.SubjectAltNames {
		switch san.Type {
		case gwv1.HostnameSubjectAltNameType:
			bt.SANs = append(bt.SANs, router.SAN{DNS: string(san.Hostname)})
		case gwv1.URISubjectAltNameType:
			bt.SANs = append(bt.SANs, router.SAN{URI: string(san.URI)})
		}
	}
	var bundles []string
	switch {
	case len(v.CACertificateRefs) > 0:
		pool := x509.NewCertPool()
		valid := 0
		for _, r := range v.CACertificateRefs {
			name := ps.p.Namespace + "/" + string(r.Name)
			if (r.Group != "" && r.Group != "core") || r.Kind != "ConfigMap" {
				ps.resolved.set(string(gwv1.BackendTLSPolicyReasonInvalidKind), fmt.Sprintf("caCertificateRef %s: kind %s/%s is not supported, only ConfigMaps with ca.crt", name, r.Group, r.Kind))
				continue
			}
			cm := t.snap.ConfigMaps[types.NamespacedName{Namespace: ps.p.Namespace, Name: string(r.Name)}]
			if cm == nil {
				ps.resolved.set(string(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef), fmt.Sprintf("caCertificateRef %s: ConfigMap not found", name))
				continue
			}
			bundle := cm.Data["ca.crt"]
			if bundle == "" {
				ps.resolved.set(string(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef), fmt.Sprintf("caCertificateRef %s: ConfigMap has no key ca.crt", name))
				continue
			}
			if !pool.AppendCertsFromPEM([]byte(bundle)) {
				ps.resolved.set(string(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef), fmt.Sprintf("caCertificateRef %s: ca.crt holds no PEM certificate", name))
				continue
			}
			bundles = append(bundles, bundle)
			valid++
		}
		if valid == 0 {
			ps.accepted.set(string(gwv1.BackendTLSPolicyReasonNoValidCACertificate), "no caCertificateRef is usable")
		}
		bt.RootCAs = pool
	case v.WellKnownCACertificates != nil && *v.WellKnownCACertificates == gwv1.WellKnownCACertificatesSystem:
		// RootCAs nil: the system roots.
		bundles = append(bundles, "system")
	default:
		// "If an implementation does not support the WellKnownCACertificates
		// field, or the supplied value is not recognized, [...] Accepted
		// [...] status: False, with a Reason Invalid."
		wk := ""
		if v.WellKnownCACertificates != nil {
			wk = string(*v.WellKnownCACertificates)
		}
		ps.accepted.set(string(gwv1.PolicyReasonInvalid), fmt.Sprintf("wellKnownCACertificates %q is not supported; use System or caCertificateRefs", wk))
	}
	if !ps.resolved.ok() {
		return &router.BackendTLS{Invalid: ps.resolved.msg}
	}
	if !ps.accepted.ok() && ps.accepted.reason != string(gwv1.PolicyReasonConflicted) {
		return &router.BackendTLS{Invalid: ps.accepted.msg}
	}
	bt.Key = tlsKey(bt, bundles, nil)
	return bt
}

// tlsKey names a backend TLS configuration by its contents, so equal
// configurations share a connection pool and a changed CA bundle gets a
// new one.
func tlsKey(bt *router.BackendTLS, bundles []string, clientCert []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "sni=%q\n", bt.ServerName)
	for _, b := range bundles {
		fmt.Fprintf(h, "ca=%q\n", b)
	}
	for _, s := range bt.SANs {
		fmt.Fprintf(h, "san=%q,%q\n", s.DNS, s.URI)
	}
	fmt.Fprintf(h, "client=%x\n", clientCert)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// policyFor returns the policies that select a Service port (winner
// first): those naming the port by sectionName, else those naming the
// whole Service.
func (t *translator) policyFor(ns, svc, portName string) []*policyState {
	if portName != "" {
		if ps := t.byTarget[policyTarget{namespace: ns, service: svc, section: portName}]; len(ps) > 0 {
			return ps
		}
	}
	return t.byTarget[policyTarget{namespace: ns, service: svc}]
}

// forGateway returns the backends of a route as one Gateway uses them:
// each backend a BackendTLSPolicy applies to makes that Gateway an
// ancestor of the policy, and gets the Gateway's client certificate
// (spec.tls.backend.clientCertificateRef). The slice is shared when
// nothing changes.
func (t *translator) forGateway(g *gatewayState, in []router.WeightedBackend) []router.WeightedBackend {
	out := in
	for i, wb := range in {
		b := wb.Backend
		if b == nil || b.TLS == nil {
			continue
		}
		for _, ps := range t.backendPolicies[b.ID] {
			ps.addAncestor(g)
		}
		if g.clientCert == nil || b.TLS.Invalid != "" {
			continue
		}
		if &out[0] == &in[0] {
			out = slices.Clone(in)
		}
		out[i].Backend = t.withClientCert(g, b)
	}
	return out
}

// withClientCert is b with g's client certificate, one copy per Gateway
// and backend per build.
func (t *translator) withClientCert(g *gatewayState, b *router.Backend) *router.Backend {
	k := g.key.String() + " " + b.ID
	if c := t.clientBackends[k]; c != nil {
		return c
	}
	c := *b
	bt := *b.TLS
	bt.ClientCertificate = g.clientCert
	bt.Key = tlsKey(b.TLS, []string{b.TLS.Key}, g.clientCert.Certificate[0])
	c.TLS = &bt
	t.clientBackends[k] = &c
	return &c
}

func (ps *policyState) addAncestor(g *gatewayState) {
	if !slices.Contains(ps.ancestors, g) {
		ps.ancestors = append(ps.ancestors, g)
	}
}

// policyStatus is each policy's status.ancestors entries of this
// controller: one per Gateway of ours whose routes use a target of the
// policy (at most 16, the CRD's limit), with Accepted and ResolvedRefs.
func (t *translator) policyStatus() {
	for _, ps := range t.policies {
		gen := ps.p.Generation
		var entries []gwv1.PolicyAncestorStatus
		for _, g := range ps.ancestors {
			if len(entries) == 16 {
				break
			}
			group := gwv1.Group(groupName)
			kind := gwv1.Kind("Gateway")
			ns := gwv1.Namespace(g.key.Namespace)
			e := gwv1.PolicyAncestorStatus{
				AncestorRef:    gwv1.ParentReference{Group: &group, Kind: &kind, Namespace: &ns, Name: gwv1.ObjectName(g.key.Name)},
				ControllerName: gwv1.GatewayController(t.cfg.ControllerName),
			}
			if ps.accepted.ok() {
				e.Conditions = append(e.Conditions, condition(string(gwv1.PolicyConditionAccepted), true, string(gwv1.PolicyReasonAccepted), "", gen, t.stamp))
			} else {
				e.Conditions = append(e.Conditions, condition(string(gwv1.PolicyConditionAccepted), false, ps.accepted.reason, ps.accepted.msg, gen, t.stamp))
			}
			if ps.resolved.ok() {
				e.Conditions = append(e.Conditions, condition(string(gwv1.BackendTLSPolicyConditionResolvedRefs), true, string(gwv1.BackendTLSPolicyReasonResolvedRefs), "", gen, t.stamp))
			} else {
				e.Conditions = append(e.Conditions, condition(string(gwv1.BackendTLSPolicyConditionResolvedRefs), false, ps.resolved.reason, ps.resolved.msg, gen, t.stamp))
			}
			entries = append(entries, e)
		}
		t.res.Status.BackendTLSPolicies[ps.key] = entries
		if len(entries) == 0 {
			continue
		}
		if !ps.accepted.ok() {
			msg := ps.accepted.msg
			if !ps.resolved.ok() {
				msg += ": " + ps.resolved.msg
			}
			t.problem("BackendTLSPolicy", ps.key.Namespace, ps.key.Name, ps.accepted.reason, msg)
		} else if !ps.resolved.ok() {
			t.problem("BackendTLSPolicy", ps.key.Namespace, ps.key.Name, ps.resolved.reason, ps.resolved.msg)
		}
	}
}
