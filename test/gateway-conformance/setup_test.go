package gatewayconformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"

	"portico.dev/portico/test/harness"
)

// baseManifests is where the suite's Deployments, Services and Gateways
// are (suite.ConformanceOptions.BaseManifests' default).
const baseManifests = "base/manifests.yaml"

// prepareImages builds the programs the node agent runs for every image
// the base manifests name before the suite starts: the suite waits 300 s
// for their Pods, and a cold build of CoreDNS alone takes minutes. An
// image the agent cannot run fails here, by name, instead of as a timeout.
func prepareImages(t *testing.T, m manifest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	if err := node.Prepare(ctx, m.images...); err != nil {
		t.Fatal(err)
	}
}

// manifest is what the setup needs to know of a manifest file.
type manifest struct {
	images []string // of every container, each once
	pods   int      // Pods it makes: bare Pods plus Deployments' replicas
}

func readManifest(t *testing.T, fsys fs.FS, name string) manifest {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var m manifest
	for {
		var doc struct {
			Kind string `json:"kind"`
			Spec struct {
				corev1.PodSpec
				Replicas *int32 `json:"replicas"`
				Template struct {
					Spec corev1.PodSpec `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := d.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var spec corev1.PodSpec
		switch doc.Kind {
		case "Deployment":
			spec = doc.Spec.Template.Spec
			m.pods++
			if r := doc.Spec.Replicas; r != nil {
				m.pods += int(*r) - 1
			}
		case "Pod":
			spec = doc.Spec.PodSpec
			m.pods++
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			if !slices.Contains(m.images, c.Image) {
				m.images = append(m.images, c.Image)
			}
		}
	}
	if len(m.images) == 0 {
		t.Fatalf("%s names no image", name)
	}
	return m
}

// reserveAddressPool picks the /24 of 127.10.0.0/16 that Portico hands
// Gateway addresses out of (Linux answers on all of 127.0.0.0/8 on lo, so
// the suite reaches them from this machine). Several Gateways of the suite
// listen on port 80; each needs its own address. A lock file per /24, held
// until the test ends, keeps two runs on this machine (other worktrees)
// from binding the same address and port.
func reserveAddressPool(t *testing.T) netip.Prefix {
	t.Helper()
	for i := range 256 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 10, byte(i), 0}), 24)
		f, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("portico-gateway-pool-127.10.%d.lock", i)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			t.Cleanup(func() { f.Close() }) // releases the lock
			return p
		}
		f.Close()
	}
	t.Fatal("no /24 of 127.10.0.0/16 is free for Gateway addresses (every lock in the temp folder is held)")
	return netip.Prefix{}
}

// gatewayFlags turn on Portico's Gateway API support (issue 14), with
// the Gateway Services that GatewayInfrastructure needs (features.go claims
// it on that condition).
func gatewayFlags(pool netip.Prefix) []string {
	return []string{
		"--enable-gateway-api=true",
		"--gateway-controller-name=" + controllerName,
		"--gateway-address-pool=" + pool.String(),
		"--gateway-services",
	}
}

// startPortico runs Portico against the cluster with its Gateway API flags.
func startPortico(t *testing.T, pool netip.Prefix) *harness.Portico {
	t.Helper()
	return harness.StartPortico(t, cp, gatewayFlags(pool)...)
}

// watchBaseManifests logs, as a measurement apart from the suite's own
// waiting, when the first Pod of the base manifests is seen and when all
// of them are Ready.
func watchBaseManifests(t *testing.T, m manifest) {
	t.Helper()
	namespaces := []string{suite.InfrastructureNamespace, suite.AppBackendNamespace, suite.WebBackendNamespace}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	start := time.Now()
	wg.Go(func() {
		var seen time.Time
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			total, ready := 0, 0
			for _, ns := range namespaces {
				pods, err := cp.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					continue
				}
				for i := range pods.Items {
					total++
					if podReady(&pods.Items[i]) {
						ready++
					}
				}
			}
			if total > 0 && seen.IsZero() {
				seen = time.Now()
				t.Logf("setup: first Pods of the base manifests seen %v after the suite started", round(time.Since(start)))
			}
			if ready >= m.pods {
				t.Logf("setup: all %d Pods of the base manifests Ready %v after the first was seen (%v after the suite started)",
					ready, round(time.Since(seen)), round(time.Since(start)))
				return
			}
		}
	})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
