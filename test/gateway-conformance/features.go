package gatewayconformance

import (
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
)

// Profiles are the conformance profiles the suite runs and reports.
var Profiles = []suite.ConformanceProfile{suite.GatewayHTTPConformanceProfile}

// SupportedFeatures is what Portico claims in the conformance report: the
// suite runs the tests of these features and reports the others as not
// supported. Claim an Extended feature here once Portico implements it and
// its tests pass; the test log lists the profile's Extended features not
// claimed yet. Names: sigs.k8s.io/gateway-api/pkg/features.
var SupportedFeatures = []features.FeatureName{
	// Core features of GATEWAY-HTTP. The profile implies them; they are
	// listed so that the claim is explicit (and the suite does not fall
	// back to reading GatewayClass status.supportedFeatures).
	features.SupportGateway,
	features.SupportHTTPRoute,
	features.SupportReferenceGrant,

	// Extended features of GATEWAY-HTTP, one line each as they land, e.g.
	// features.SupportHTTPRouteQueryParamMatching,
}
