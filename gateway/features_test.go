package gateway

import (
	"testing"

	"sigs.k8s.io/gateway-api/pkg/features"
)

// TestSupportedFeaturesAreTheSuites: every feature published is one the
// conformance suite of this API version knows, spelled as it spells it.
func TestSupportedFeaturesAreTheSuites(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for f := range features.AllFeatures {
		known[string(f.Name)] = true
	}
	seen := map[string]bool{}
	for _, f := range SupportedFeatures(Config{Services: true}) {
		if !known[f] {
			t.Errorf("%q is not a feature of sigs.k8s.io/gateway-api/pkg/features", f)
		}
		if seen[f] {
			t.Errorf("%q listed twice", f)
		}
		seen[f] = true
	}
}
