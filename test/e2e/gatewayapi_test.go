package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"portico.dev/portico/test/harness"
)

// TestGatewayAPIWithoutCRDs: on a cluster without the Gateway API CRDs (a
// control plane of its own: CRDs are cluster-wide and the shared one gets
// them in TestGatewayAPIAuto), --enable-gateway-api=auto logs one line and
// serves Ingresses; =true refuses to start, saying why.
func TestGatewayAPIWithoutCRDs(t *testing.T) {
	bare, err := harness.Start(context.Background(), harness.Options{BinDir: cp.BinDir, Log: cp.Log()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bare.Stop) // registered first: runs after Portico has stopped
	harness.EnsureIngressClass(t, bare, "portico", false)
	ns := harness.Namespace(t, bare)
	_, bs := pods(t, "site", 1)
	harness.Site(t, bare, ns, "site", "site.test", nil, hostOf(bs[0]))

	t.Run("auto serves Ingresses only", func(t *testing.T) {
		p := harness.StartPortico(t, bare, "--watch-namespace", ns)
		harness.Eventually(t, 10*time.Second, wantBackend(p.Client(), "http://"+p.HTTPAddr+"/", "site.test", "site-0"))
		if n := logLines(t, p, `"msg":"Gateway API disabled: the Gateway API CRDs are not installed`); n != 1 {
			t.Errorf("%d log lines say the Gateway API is disabled for lack of CRDs, want 1", n)
		}
		if n := logLines(t, p, "gateway API translated"); n != 0 {
			t.Errorf("%d Gateway API translations without the CRDs", n)
		}
	})

	t.Run("true without CRDs is a start-up error", func(t *testing.T) {
		p, err := harness.StartPorticoE(bare, t.TempDir(), "--watch-namespace", ns, "--enable-gateway-api=true")
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
			p.Stop(9, time.Second)
			t.Fatal("Portico with --enable-gateway-api=true and no CRDs is still running after 30 s")
		}
		if p.ExitErr() == nil {
			t.Error("Portico exited 0, want a failure")
		}
		want := "--enable-gateway-api=true: the Gateway API CRDs are not installed: the API server does not serve gateway.networking.k8s.io/v1"
		if n := logLines(t, p, want); n != 1 {
			t.Errorf("no line %q in the log", want)
		}
	})
}

// TestGatewayAPIAuto: with the CRDs installed, the default
// --enable-gateway-api=auto turns the Gateway API on (one log line) and
// Gateway API objects reach the translator through the watches, while
// Ingresses are served as before; =false leaves the Gateway API alone. The
// CRDs stay installed for the tests after this one.
func TestGatewayAPIAuto(t *testing.T) {
	ctx := context.Background()
	if err := harness.InstallGatewayAPICRDs(ctx, cp, harness.GatewayAPIStandard); err != nil {
		t.Fatal(err)
	}
	harness.EnsureIngressClass(t, cp, "portico", false)
	ns := harness.Namespace(t, cp)
	_, bs := pods(t, "site", 1)
	site(t, ns, "site", "site.test", nil, hostOf(bs[0]))

	on := harness.StartPortico(t, cp, "--watch-namespace", ns)
	off := harness.StartPortico(t, cp, "--watch-namespace", ns, "--enable-gateway-api=false")
	for _, p := range []*harness.Portico{on, off} {
		harness.Eventually(t, 10*time.Second, wantBackend(p.Client(), "http://"+p.HTTPAddr+"/", "site.test", "site-0"))
	}
	if n := logLines(t, on, `"msg":"Gateway API enabled"`); n != 1 {
		t.Errorf("auto with the CRDs: %d lines say the Gateway API is enabled, want 1", n)
	}

	gw, err := gatewayclient.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	class := "portico-" + ns
	if _, err := gw.GatewayV1().GatewayClasses().Create(ctx, &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: class},
		Spec: gwv1.GatewayClassSpec{ControllerName: "portico.dev/gateway-controller"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.GatewayV1().GatewayClasses().Delete(ctx, class, metav1.DeleteOptions{}) })
	if _, err := gw.GatewayV1().Gateways(ns).Create(ctx, &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gw"},
		Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(class),
			Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.GatewayV1().HTTPRoutes(ns).Create(ctx, &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "route"},
		Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
			Rules: []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
				BackendObjectReference: gwv1.BackendObjectReference{Name: "site", Port: ptr.To(gwv1.PortNumber(80))}}}}}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The controller's debug line per translation counts what it saw.
	harness.Eventually(t, 10*time.Second, func() error {
		if logLines(t, on, `"gateways":1,"httproutes":1`) == 0 {
			return fmt.Errorf("no translation has seen the Gateway and the HTTPRoute yet")
		}
		return nil
	})
	if n := logLines(t, off, "gateway API translated") + logLines(t, off, "Gateway API enabled"); n != 0 {
		t.Errorf("--enable-gateway-api=false: %d Gateway API log lines", n)
	}
	if b := logLines(t, on, `"level":"ERROR"`); b != 0 {
		t.Errorf("%d error lines in the log of the Portico with the Gateway API on", b)
	}
}
