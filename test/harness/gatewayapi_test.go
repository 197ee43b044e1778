package harness

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestInstallGatewayAPICRDs: both channels install, again and again, with
// the bundle version of go.mod's sigs.k8s.io/gateway-api, and the
// experimental channel can follow the standard one on the same cluster.
func TestInstallGatewayAPICRDs(t *testing.T) {
	ctx := context.Background()
	files, err := gatewayAPICRDFiles(ctx, GatewayAPIStandard)
	if err != nil {
		t.Fatal(err)
	}
	version := strings.Split(strings.Split(files[0], "gateway-api@")[1], "/")[0] // the module cache folder names the version
	annotations := func(crd string) map[string]string {
		out, err := cp.Kubectl(ctx, "get", "crd", crd, "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var obj struct {
			Metadata struct{ Annotations map[string]string }
		}
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatal(err)
		}
		return obj.Metadata.Annotations
	}
	for _, channel := range []string{GatewayAPIStandard, GatewayAPIStandard, GatewayAPIExperimental} {
		start := time.Now()
		if err := InstallGatewayAPICRDs(ctx, cp, channel); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s installed in %v", channel, time.Since(start).Round(time.Millisecond))
		a := annotations("httproutes.gateway.networking.k8s.io")
		if a["gateway.networking.k8s.io/bundle-version"] != version || a["gateway.networking.k8s.io/channel"] != channel {
			t.Errorf("after installing %s: httproutes CRD annotations %v, want bundle-version %s and channel %s", channel, a, version, channel)
		}
	}
	if _, err := cp.Kubectl(ctx, "get", "crd", "xbackends.gateway.networking.x-k8s.io"); err != nil {
		t.Errorf("experimental channel without its x-k8s.io CRDs: %v", err)
	}
	if err := InstallGatewayAPICRDs(ctx, cp, "beta"); err == nil || !strings.Contains(err.Error(), "want") {
		t.Errorf("unknown channel: err = %v", err)
	}
}
