package gatewayconformance

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// crdChannel is the Gateway API release channel installed: experimental is
// the superset (standard CRDs plus experimental fields and kinds) that some
// Extended features need. The suite reports it as gatewayAPIChannel, and
// refuses CRDs of mixed channels or versions.
const crdChannel = "experimental"

// installGatewayAPICRDs applies the CRDs (and the safe-upgrades admission
// policy) of the sigs.k8s.io/gateway-api version this module builds with,
// from its folder in the module cache, the way the project's install
// instructions do (kubectl apply --server-side -k config/crd/<channel>),
// and waits until they are Established.
//
// TODO(issue 14): one copy only: once harness.InstallGatewayAPICRDs
// (test/harness/gatewayapi.go) is merged, call it and delete this.
func installGatewayAPICRDs(ctx context.Context, cp *harness.ControlPlane, channel string) error {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		return fmt.Errorf("find sigs.k8s.io/gateway-api in the module cache: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", channel)
	applied, err := cp.Kubectl(ctx, "apply", "--server-side", "-k", dir, "-o", "name")
	if err != nil {
		return fmt.Errorf("kubectl apply -k %s: %w\n%s", dir, err, applied)
	}
	wait := []string{"wait", "--for=condition=Established", "--timeout=60s"}
	for _, name := range strings.Fields(string(applied)) {
		if strings.HasPrefix(name, "customresourcedefinition.") {
			wait = append(wait, name)
		}
	}
	if len(wait) == 3 {
		return fmt.Errorf("kubectl apply -k %s applied no CRD:\n%s", dir, applied)
	}
	if b, err := cp.Kubectl(ctx, wait...); err != nil {
		return fmt.Errorf("CRDs of %s not Established: %w\n%s", dir, err, b)
	}
	return nil
}

func installCRDs(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := installGatewayAPICRDs(ctx, cp, crdChannel); err != nil {
		t.Fatal(err)
	}
}
