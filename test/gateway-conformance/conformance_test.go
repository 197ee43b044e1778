package gatewayconformance

import (
	"context"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1alpha2"
	"sigs.k8s.io/gateway-api/apis/v1alpha3"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	"sigs.k8s.io/gateway-api/conformance"
	conformanceconfig "sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/flags"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
)

const (
	gatewayClassName = "portico"
	controllerName   = "portico.dev/gateway-controller" // Portico's --gateway-controller-name default
)

// processStart is when this test binary started, before TestMain brought
// the cluster up.
var processStart = time.Now()

// TestGatewayConformance runs the conformance suite, unmodified, with the
// profiles and features of features.go, and writes its report to reports/.
// Flags of the suite (conformance/utils/flags) given after -args override
// the options here, for development: -run-test=NAME, -skip-tests=A,B,
// -debug. A run of a subset writes no report unless -report-output says
// where.
func TestGatewayConformance(t *testing.T) {
	began := time.Now()
	t.Logf("setup: cluster (kube-apiserver, etcd, kube-controller-manager, node agent) up in %v", round(began.Sub(processStart)))
	checkFeatures(t)

	installCRDs(t)
	t.Logf("setup: Gateway API CRDs (%s channel) Established after %v", crdChannel, round(time.Since(began)))

	base := readManifest(t, &conformance.Manifests, baseManifests)
	prepareImages(t, base)
	t.Logf("setup: the programs of the base manifests' images are built after %v", round(time.Since(began)))

	pool := reserveAddressPool(t)
	c, opts := conformanceOptions(t, pool)
	startPortico(t, pool)
	t.Logf("setup: Portico ready (Gateway addresses from %v) after %v", pool, round(time.Since(began)))
	createGatewayClass(t, c)

	watchBaseManifests(t, base)
	summarizeReport(t, opts.ReportOutputPath) // registered before the suite's report cleanup: runs after it
	t.Logf("setup: the suite starts %v after the test began, %v after the test binary started",
		round(time.Since(began)), round(time.Since(processStart)))
	conformance.RunConformanceWithOptions(t, opts)
}

// conformanceOptions are the suite's options, built the way
// conformance.DefaultOptions builds them but from this file and
// features.go instead of command-line flags; flags given explicitly still
// win.
func conformanceOptions(t *testing.T, pool netip.Prefix) (client.Client, suite.ConformanceOptions) {
	t.Helper()
	log.SetLogger(zap.New(zap.WriteTo(os.Stdout), zap.UseDevMode(true)))
	cfg := rest.CopyConfig(cp.Config) // the suite sets a User-Agent per test
	// The suite makes a new client per test with the same (default)
	// scheme: the Gateway API types go into that one, as DefaultOptions does.
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, install := range []func(*runtime.Scheme) error{
		v1alpha3.Install, v1alpha2.Install, xv1alpha1.Install, gatewayv1.Install, apiextensionsv1.AddToScheme,
	} {
		if err := install(c.Scheme()); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := clientset.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	profiles := make([]suite.ConformanceProfileName, 0, len(Profiles))
	for _, p := range Profiles {
		profiles = append(profiles, p.Name)
	}
	opts := suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     gatewayClassName,
			CleanupBaseResources: true,
			CleanupTestResources: flags.DefaultCleanupTestResources,
			Mode:                 flags.DefaultMode,
			SupportedFeatures:    SupportedFeatures,
			ConformanceProfiles:  profiles,
			Implementation:       implementation(t),
			TimeoutConfig:        conformanceconfig.DefaultTimeoutConfig(),
			// GatewayStaticAddresses: an address of the pool Portico may
			// bind, and one outside it (TEST-NET-1) that it must refuse.
			UsableNetworkAddresses:   []gatewayv1.GatewaySpecAddress{ipAddress(staticAddress(pool))},
			UnusableNetworkAddresses: []gatewayv1.GatewaySpecAddress{ipAddress("192.0.2.1")},
		},
		Client:     c,
		Clientset:  cs,
		RestConfig: cfg,
		ManifestFS: []fs.FS{&conformance.Manifests},
	}
	flags.ApplyAll(&opts.ConfigurableOptions)
	if opts.ReportOutputPath == "" && opts.RunTest == "" && len(opts.SkipTests) == 0 {
		opts.ReportOutputPath = reportPath(t, opts.Implementation.Version, opts.Mode)
	}
	return c, opts
}

// checkFeatures refuses a claim no profile run here tests (a typo, a mesh
// feature) or a duplicate, and logs what is not claimed yet.
func checkFeatures(t *testing.T) {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range SupportedFeatures {
		if seen[string(f)] {
			t.Fatalf("features.go claims %s twice", f)
		}
		seen[string(f)] = true
		if !slices.ContainsFunc(Profiles, func(p suite.ConformanceProfile) bool {
			return p.CoreFeatures.Has(f) || p.ExtendedFeatures.Has(f)
		}) {
			t.Fatalf("features.go claims %s, which none of the profiles run here tests", f)
		}
	}
	for _, p := range Profiles {
		var missing []string
		for _, f := range p.ExtendedFeatures.UnsortedList() {
			if !seen[string(f)] {
				missing = append(missing, string(f))
			}
		}
		slices.Sort(missing)
		t.Logf("features: %s: %d of %d Extended features claimed; not claimed yet: %s",
			p.Name, p.ExtendedFeatures.Len()-len(missing), p.ExtendedFeatures.Len(), strings.Join(missing, ", "))
	}
}

func createGatewayClass(t *testing.T, c client.Client) {
	t.Helper()
	gwc := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: gatewayClassName},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: controllerName},
	}
	if err := c.Create(t.Context(), gwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Delete(ctx, gwc)
	})
}

// reportPath names the report as the upstream repository's
// conformance/reports/README.md asks: <channel>-<version>-<mode>-report.yaml.
func reportPath(t *testing.T, version, mode string) string {
	t.Helper()
	dir, err := filepath.Abs("reports")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, crdChannel+"-"+version+"-"+mode+"-report.yaml")
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// staticAddress is the pool address the static-address test asks for:
// high in the pool, where the lowest-free allocation of the other
// Gateways does not reach.
func staticAddress(pool netip.Prefix) string {
	a := pool.Masked().Addr().As4()
	a[3] = 200
	return netip.AddrFrom4(a).String()
}

func ipAddress(v string) gatewayv1.GatewaySpecAddress {
	typ := gatewayv1.IPAddressType
	return gatewayv1.GatewaySpecAddress{Type: &typ, Value: v}
}
