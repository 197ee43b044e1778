package gateway

import (
	"crypto/x509"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// frontendValidation is the client certificate validation of one HTTPS
// listener's port: spec.tls.frontend.perPort for its port, else
// spec.tls.frontend.default.
func frontendValidation(gw *gwv1.Gateway, port gwv1.PortNumber) *gwv1.FrontendTLSValidation {
	if gw.Spec.TLS == nil || gw.Spec.TLS.Frontend == nil {
		return nil
	}
	f := gw.Spec.TLS.Frontend
	for _, pp := range f.PerPort {
		if pp.Port == port {
			return pp.TLS.Validation
		}
	}
	return f.Default.Validation
}

// checkClientValidation loads the CA bundles an HTTPS listener validates
// client certificates with. Each reference must name a core ConfigMap with
// a PEM bundle under ca.crt (InvalidCACertificateKind for other kinds,
// InvalidCACertificateRef when missing or unreadable), in another namespace
// only through a ReferenceGrant (RefNotPermitted). A bad reference makes
// ResolvedRefs false; when none is left the listener is not accepted
// (NoValidCACertificate): it must not serve without the validation asked
// for.
func (t *translator) checkClientValidation(l *listenerState) {
	v := frontendValidation(l.gw.gw, l.spec.Port)
	if v == nil {
		return
	}
	gw := l.gw.gw
	pool := x509.NewCertPool()
	valid := 0
	for _, r := range v.CACertificateRefs {
		ns := gw.Namespace
		if r.Namespace != nil && *r.Namespace != "" {
			ns = string(*r.Namespace)
		}
		name := ns + "/" + string(r.Name)
		if (r.Group != "" && r.Group != "core") || r.Kind != "ConfigMap" {
			l.resolved.set(string(gwv1.ListenerReasonInvalidCACertificateKind), fmt.Sprintf("caCertificateRef %s: kind %s/%s is not supported, only ConfigMaps with ca.crt", name, r.Group, r.Kind))
			continue
		}
		if !t.grants.allows(ref{group: groupName, kind: "Gateway", namespace: gw.Namespace}, ref{kind: "ConfigMap", namespace: ns, name: string(r.Name)}) {
			l.resolved.set(string(gwv1.ListenerReasonRefNotPermitted), fmt.Sprintf("caCertificateRef %s: no ReferenceGrant in %s allows Gateways from %s", name, ns, gw.Namespace))
			continue
		}
		cm := t.snap.ConfigMaps[types.NamespacedName{Namespace: ns, Name: string(r.Name)}]
		if cm == nil {
			l.resolved.set(string(gwv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("caCertificateRef %s: ConfigMap not found", name))
			continue
		}
		bundle := cm.Data["ca.crt"]
		if bundle == "" {
			l.resolved.set(string(gwv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("caCertificateRef %s: ConfigMap has no key ca.crt", name))
			continue
		}
		if !pool.AppendCertsFromPEM([]byte(bundle)) {
			l.resolved.set(string(gwv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("caCertificateRef %s: ca.crt holds no PEM certificate", name))
			continue
		}
		valid++
	}
	if valid == 0 {
		l.accepted.set(string(gwv1.ListenerReasonNoValidCACertificate), "no caCertificateRef of the client certificate validation is usable")
		return
	}
	l.client = &ClientValidation{CAs: pool, InsecureFallback: v.Mode == gwv1.AllowInsecureFallback}
}

// insecureFrontend reports whether any port of g accepts clients without a
// valid certificate though validation is configured.
func insecureFrontend(gw *gwv1.Gateway) bool {
	if gw.Spec.TLS == nil || gw.Spec.TLS.Frontend == nil {
		return false
	}
	f := gw.Spec.TLS.Frontend
	if v := f.Default.Validation; v != nil && v.Mode == gwv1.AllowInsecureFallback {
		return true
	}
	for _, pp := range f.PerPort {
		if v := pp.TLS.Validation; v != nil && v.Mode == gwv1.AllowInsecureFallback {
			return true
		}
	}
	return false
}
