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
	"GatewayAddressEmpty",
	"GatewayBackendClientCertificate",
	"GatewayFrontendClientCertificateValidation",
	"GatewayFrontendClientCertificateValidationInsecureFallback",
	"GatewayHTTPListenerIsolation",
	"GatewayHTTPSListenerDetectMisdirectedRequests",
	"GatewayPort8080",
	"GatewayStaticAddresses",
	"ListenerSet",
	// Extended, BackendTLSPolicy: proxy tests over real sockets
	// (TestBackendTLSPolicy), golden case testdata/backendtls.
	"BackendTLSPolicy",
	"BackendTLSPolicySANValidation",
	// Extended, HTTPRoute.
	"HTTPRoute303RedirectStatusCode",
	"HTTPRoute307RedirectStatusCode",
	"HTTPRoute308RedirectStatusCode",
	"HTTPRouteBackendRequestHeaderModification",
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
	// Filters, timeouts, retries and backend protocols: proxy tests over
	// real sockets run each conformance test's cases (TestRequestMirrors,
	// TestMirrorSamplingAndBounds, TestCORSThroughTheProxy, TestRuleTimeouts,
	// TestRetryPolicy, TestBackendProtocolH2C, TestBackendProtocolWebSocket),
	// golden case testdata/extended the translation.
	"HTTPRouteBackendTimeout",
	"HTTPRouteCORS",
	"HTTPRouteRequestMirror",
	"HTTPRouteRequestMultipleMirrors",
	"HTTPRouteRequestPercentageMirror",
	"HTTPRouteRequestTimeout",
	"HTTPRouteRetry",
	// The suite (v1.6.3) defines these two but has no test for them;
	// TestRetryPolicy's reset and backend-timeout cases are theirs.
	"HTTPRouteRetryBackendTimeout",
	"HTTPRouteRetryConnectionError",
	// The suite's client speaks h2c with prior knowledge to the Gateway:
	// a Gateway's HTTP listeners must accept it (h1.Server H2C with an
	// HTTP/2 server, as --h2c sets up), not only the hop to the backend.
	"HTTPRouteBackendProtocolH2C",
	"HTTPRouteBackendProtocolWebSocket",
}

// SupportedFeatures returns the features Portico implements with cfg,
// sorted. GatewayInfrastructure (spec.infrastructure labels and annotations
// on generated resources) needs the generated Services: it is claimed only
// with cfg.Services (--gateway-services).
func SupportedFeatures(cfg Config) []string {
	s := slices.Clone(supportedFeatures)
	if cfg.Services {
		s = append(s, "GatewayInfrastructure")
	}
	slices.Sort(s)
	return s
}
