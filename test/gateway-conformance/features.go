package gatewayconformance

import (
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"portico.dev/portico/gateway"
)

// Profiles are the conformance profiles the suite runs and reports.
var Profiles = []suite.ConformanceProfile{suite.GatewayHTTPConformanceProfile}

// SupportedFeatures is what Portico claims in the conformance report: the
// very list each GatewayClass publishes in status.supportedFeatures
// (gateway/features.go), so a claim cannot drift from what Portico says of
// itself (with --gateway-services, as setup_test.go starts it). The suite
// runs the tests of these features and reports the
// others as not supported; the test log lists the profile's Extended
// features not claimed.
var SupportedFeatures = func() []features.FeatureName {
	var out []features.FeatureName
	for _, f := range gateway.SupportedFeatures(gateway.Config{Services: true}) {
		out = append(out, features.FeatureName(f))
	}
	return out
}()
