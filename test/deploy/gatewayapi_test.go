package deploy

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

// TestRBACGatewayAPI is TestRBACNodePort with the Gateway API CRDs
// installed: Portico, as the nodeport overlay runs it (default
// --enable-gateway-api=auto) under the overlay's RBAC, turns the Gateway
// API on and watches it with zero 403s. The rules are exactly what the
// Gateway API code uses (list/watch, and UPDATE of the status
// subresources), asked of the API server for the ServiceAccount. The CRDs
// stay installed for the tests after this one, which then run with the
// Gateway API on too.
func TestRBACGatewayAPI(t *testing.T) {
	ctx := context.Background()
	if err := harness.InstallGatewayAPICRDs(ctx, cp, harness.GatewayAPIStandard); err != nil {
		t.Fatal(err)
	}
	r := render(t, overlayNodePort)
	apply(t, r)
	var d appsv1.Deployment
	r.find(t, "Deployment", "portico", &d)
	a := newApp(t, true, 1, 0)
	p, sa := runAsServiceAccount(t, d.Spec.Template, "portico-7d9f-gwapi", a)
	if n := len(logLinesContaining(t, p, `"msg":"Gateway API enabled"`)); n != 1 {
		t.Errorf("Portico logged %q %d times, want once", "Gateway API enabled", n)
	}
	noForbiddenInLog(t, p)

	const gw = "gateway.networking.k8s.io"
	tests := []struct {
		verb, group, resource, sub string
		allowed                    bool
	}{
		{"list", gw, "gatewayclasses", "", true},
		{"watch", gw, "gateways", "", true},
		{"watch", gw, "httproutes", "", true},
		{"list", gw, "referencegrants", "", true},
		{"watch", "", "namespaces", "", true},
		{"watch", gw, "listenersets", "", true},
		{"list", "", "configmaps", "", true},
		{"update", gw, "listenersets", "status", true},
		{"watch", gw, "backendtlspolicies", "", true},
		{"update", gw, "backendtlspolicies", "status", true},
		{"update", gw, "backendtlspolicies", "", false},
		{"update", "", "configmaps", "", false},
		{"update", gw, "gatewayclasses", "status", true},
		{"update", gw, "gateways", "status", true},
		{"update", gw, "httproutes", "status", true},
		// Not used, so not granted.
		{"get", gw, "httproutes", "", false},
		{"patch", gw, "httproutes", "status", false},
		{"update", gw, "httproutes", "", false},
		{"create", gw, "gateways", "", false},
		{"delete", gw, "gatewayclasses", "", false},
		{"update", gw, "referencegrants", "status", false},
		{"list", gw, "grpcroutes", "", false},
		{"update", "", "namespaces", "", false},
		// Only with deploy/components/gateway-services (--gateway-services).
		{"create", "", "services", "", false},
		{"update", "", "services", "", false},
		{"delete", "discovery.k8s.io", "endpointslices", "", false},
	}
	for _, tc := range tests {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: tc.verb, Group: tc.group, Resource: tc.resource,
				Subresource: tc.sub, Namespace: a.ns}}}
		res, err := sa.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status.Allowed != tc.allowed {
			t.Errorf("%s %s/%s: allowed = %v, want %v", tc.verb, tc.resource, tc.sub, res.Status.Allowed, tc.allowed)
		}
	}
}
