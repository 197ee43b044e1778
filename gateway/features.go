package gateway

import "slices"

// supportedFeatures are the Gateway API features Portico implements, named
// as sigs.k8s.io/gateway-api/pkg/features names them. Each GatewayClass
// Portico accepts publishes them, sorted, in status.supportedFeatures; the
// conformance run reads them from there. Add a feature here only with the
// code and a passing conformance test behind it.
var supportedFeatures = []string{
	// Core.
	"Gateway",
	"HTTPRoute",
	"ReferenceGrant",
	// Extended, Gateway.
	"GatewayHTTPListenerIsolation",
	"GatewayPort8080",
	// Extended, HTTPRoute.
	"HTTPRoute303RedirectStatusCode",
	"HTTPRoute307RedirectStatusCode",
	"HTTPRoute308RedirectStatusCode",
	"HTTPRouteDestinationPortMatching",
	"HTTPRouteHostRewrite",
	"HTTPRouteMethodMatching",
	"HTTPRouteNamedRouteRule",
	"HTTPRouteParentRefPort",
	"HTTPRoutePathRedirect",
	"HTTPRoutePathRewrite",
	"HTTPRoutePortRedirect",
	"HTTPRouteQueryParamMatching",
	"HTTPRouteResponseHeaderModification",
	"HTTPRouteSchemeRedirect",
}

// SupportedFeatures returns the features Portico implements, sorted.
func SupportedFeatures() []string {
	s := slices.Clone(supportedFeatures)
	slices.Sort(s)
	return s
}
