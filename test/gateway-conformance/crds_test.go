package gatewayconformance

import (
	"context"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// crdChannel is the Gateway API release channel installed: experimental is
// the superset (standard CRDs plus experimental fields and kinds) that some
// Extended features need. The suite reports it as gatewayAPIChannel, and
// refuses CRDs of mixed channels or versions.
const crdChannel = harness.GatewayAPIExperimental

// installCRDs applies the CRDs of the sigs.k8s.io/gateway-api version
// Portico builds with (the suite's own version) and waits until they are
// Established and served.
func installCRDs(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := harness.InstallGatewayAPICRDs(ctx, cp, crdChannel); err != nil {
		t.Fatal(err)
	}
}
