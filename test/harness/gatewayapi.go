package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Gateway API CRD channels: the folders of config/crd in sigs.k8s.io/gateway-api.
const (
	GatewayAPIStandard     = "standard"
	GatewayAPIExperimental = "experimental"
)

// InstallGatewayAPICRDs installs the Gateway API CRDs of one channel
// (GatewayAPIStandard or GatewayAPIExperimental) into cp and returns once
// every one is Established and listed by discovery (which is how Portico's
// --enable-gateway-api=auto looks for them). The CRDs come from the
// sigs.k8s.io/gateway-api version in Portico's go.mod, from the module
// cache (downloaded through the module proxy if missing): the conformance
// suite refuses CRDs of another version. They are applied with kubectl
// apply --server-side, so calling it again is harmless, and moving a
// cluster from standard to experimental works.
//
// Not installed: the channel folder's safe-upgrades
// ValidatingAdmissionPolicy, a guard for human upgrades that would refuse
// that move to experimental. CRDs are cluster-wide: a test that needs a
// cluster without them starts its own control plane.
func InstallGatewayAPICRDs(ctx context.Context, cp *ControlPlane, channel string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	files, err := gatewayAPICRDFiles(ctx, channel)
	if err != nil {
		return err
	}
	args := []string{"apply", "--server-side", "--force-conflicts", "--field-manager=portico-harness"}
	var crds []string // plural.group
	for _, f := range files {
		args = append(args, "-f", f)
		group, plural, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".yaml"), "_")
		crds = append(crds, plural+"."+group)
	}
	if _, err := cp.Kubectl(ctx, args...); err != nil {
		return fmt.Errorf("install Gateway API CRDs (%s): %w", channel, err)
	}
	wait := []string{"wait", "--for=condition=Established", "--timeout=60s"}
	for _, name := range crds {
		wait = append(wait, "crd/"+name)
	}
	if _, err := cp.Kubectl(ctx, wait...); err != nil {
		return fmt.Errorf("Gateway API CRDs (%s) not Established: %w", channel, err)
	}
	return waitDiscovery(ctx, cp, crds)
}

// gatewayAPICRDFiles are the CRD files of a channel, without the
// kustomization and the admission policy.
func gatewayAPICRDFiles(ctx context.Context, channel string) ([]string, error) {
	if channel != GatewayAPIStandard && channel != GatewayAPIExperimental {
		return nil, fmt.Errorf("Gateway API channel %q: want %q or %q", channel, GatewayAPIStandard, GatewayAPIExperimental)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", "sigs.k8s.io/gateway-api")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download sigs.k8s.io/gateway-api: %w", err)
	}
	var mod struct{ Dir, Version, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return nil, fmt.Errorf("go mod download sigs.k8s.io/gateway-api: no module folder (%v %s)", err, mod.Error)
	}
	dir := filepath.Join(mod.Dir, "config", "crd", channel)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("Gateway API %s CRDs: %w", mod.Version, err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "gateway.networking.") && strings.HasSuffix(n, ".yaml") && !strings.Contains(n, "_vap_") {
			files = append(files, filepath.Join(dir, n))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", dir)
	}
	return files, nil
}

// waitDiscovery polls discovery until it lists every plural.group.
func waitDiscovery(ctx context.Context, cp *ControlPlane, crds []string) error {
	var missing []string
	for {
		_, lists, _ := cp.Client.Discovery().ServerGroupsAndResources() // partial results are fine
		served := map[string]bool{}
		for _, l := range lists {
			group, _, _ := strings.Cut(l.GroupVersion, "/")
			for _, r := range l.APIResources {
				served[r.Name+"."+group] = true
			}
		}
		missing = slices.DeleteFunc(slices.Clone(crds), func(n string) bool { return served[n] })
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Gateway API CRDs Established but not in discovery: %v", missing)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
