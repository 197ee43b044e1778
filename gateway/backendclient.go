package gateway

import (
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/tlsstore"
)

// checkBackendClientCert loads the certificate a Gateway presents to TLS
// backends (spec.tls.backend.clientCertificateRef). GatewayBackendTLS: "A
// ClientCertificateRef is considered invalid if: It refers to a resource
// that cannot be resolved (e.g., the referenced resource does not exist)
// or is misconfigured (e.g., a Secret does not contain the keys named
// tls.crt and tls.key). In this case, the ResolvedRefs condition on the
// Gateway MUST be set to False with the Reason InvalidClientCertificateRef
// [...] It refers to a resource in another namespace UNLESS there is a
// ReferenceGrant in the target namespace that allows the certificate to be
// attached. If a ReferenceGrant does not allow this reference, the
// ResolvedRefs condition on the Gateway MUST be set to False with the
// Reason RefNotPermitted." The Gateway stays accepted; its backends get no
// client certificate.
func (t *translator) checkBackendClientCert(g *gatewayState) {
	gw := g.gw
	if gw.Spec.TLS == nil || gw.Spec.TLS.Backend == nil || gw.Spec.TLS.Backend.ClientCertificateRef == nil {
		return
	}
	g.backendTLS = true
	r := gw.Spec.TLS.Backend.ClientCertificateRef
	group, kind := "", "Secret"
	if r.Group != nil {
		group = string(*r.Group)
	}
	if r.Kind != nil {
		kind = string(*r.Kind)
	}
	ns := gw.Namespace
	if r.Namespace != nil && *r.Namespace != "" {
		ns = string(*r.Namespace)
	}
	name := ns + "/" + string(r.Name)
	if (group != "" && group != "core") || kind != "Secret" {
		g.resolved.set(string(gwv1.GatewayReasonInvalidClientCertificateRef), fmt.Sprintf("tls.backend.clientCertificateRef %s: kind %s/%s is not supported, only core Secrets", name, group, kind))
		return
	}
	if !t.grants.allows(ref{group: groupName, kind: "Gateway", namespace: gw.Namespace}, ref{kind: "Secret", namespace: ns, name: string(r.Name)}) {
		g.resolved.set(string(gwv1.GatewayReasonRefNotPermitted), fmt.Sprintf("tls.backend.clientCertificateRef %s: no ReferenceGrant in %s allows Gateways from %s", name, ns, gw.Namespace))
		return
	}
	sec := t.snap.Secrets[types.NamespacedName{Namespace: ns, Name: string(r.Name)}]
	if sec == nil {
		g.resolved.set(string(gwv1.GatewayReasonInvalidClientCertificateRef), fmt.Sprintf("tls.backend.clientCertificateRef %s: Secret not found (or not of type kubernetes.io/tls)", name))
		return
	}
	cert, err := tlsstore.Parse(sec.Data["tls.crt"], sec.Data["tls.key"], t.now)
	if err != nil {
		g.resolved.set(string(gwv1.GatewayReasonInvalidClientCertificateRef), fmt.Sprintf("tls.backend.clientCertificateRef %s: %v", name, err))
		return
	}
	g.clientCert = cert.Cert
}
