package reliability

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"portico.dev/portico/test/harness"
)

// TestGatewayChurnDropsNothing is TestConfigChurnDropsNothing for the
// Gateway API: 32 connections load a stable HTTPRoute on a Gateway's own
// address for 20 s while HTTPRoutes with header and query matches and
// weighted backends, and their Services and EndpointSlices, are created,
// changed and deleted every 100 ms, so the Gateway's listener tables are
// rebuilt and swapped many times a second. Not one request may fail.
func TestGatewayChurnDropsNothing(t *testing.T) {
	ctx := context.Background()
	if err := harness.InstallGatewayAPICRDs(ctx, cp, "standard"); err != nil {
		t.Fatal(err)
	}
	gc, err := gwclient.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := harness.Namespace(t, cp)
	pod, stable := pods(t, "stable", 1)
	harness.Service(t, cp, ns, "stable", 80)
	harness.ApplyEndpointSlice(t, cp, harness.EndpointSliceObject(ns, "stable", "stable-1", 8080, harness.Endpoint{Addr: hostOf(stable[0])}))
	className := "portico-churn-" + ns
	p := harness.StartPortico(t, cp, "--watch-namespace", ns, "--access-log=false",
		"--enable-gateway-api=true", "--gateway-address-pool=127.11.0.0/24")
	if _, err := gc.GatewayV1().GatewayClasses().Create(ctx, &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: className},
		Spec: gwv1.GatewayClassSpec{ControllerName: "portico.dev/gateway-controller"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gc.GatewayV1().GatewayClasses().Delete(context.Background(), className, metav1.DeleteOptions{})
	})
	from := gwv1.NamespacesFromSame
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge"}, Spec: gwv1.GatewaySpec{
		GatewayClassName: gwv1.ObjectName(className),
		Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType,
			AllowedRoutes: &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &from}}}},
	}}
	if _, err := gc.GatewayV1().Gateways(ns).Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.GatewayV1().HTTPRoutes(ns).Create(ctx, churnRoute(ns, "stable", "stable.test", "stable", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var addr string
	harness.Eventually(t, 20*time.Second, func() error {
		g, err := gc.GatewayV1().Gateways(ns).Get(ctx, "edge", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(g.Status.Addresses) == 0 {
			return fmt.Errorf("Gateway has no address yet: %+v", g.Status.Conditions)
		}
		ip, err := netip.ParseAddr(g.Status.Addresses[0].Value)
		if err != nil {
			return err
		}
		addr = netip.AddrPortFrom(ip, 80).String()
		return nil
	})
	c := &http.Client{Timeout: 5 * time.Second}
	harness.Eventually(t, 20*time.Second, wantBackend(c, "http://"+addr+"/", "stable.test", "stable-0"))

	tg := target{addr: addr, host: "stable.test", path: "/", backend: "stable-0"}
	const workers = 32
	quiet := startLoad(tg, workers, 5*time.Second).Stop(true)
	t.Logf("without churn: %v", quiet)

	ch := &gatewayChurner{gc: gc, ns: ns, addr: pod.Addrs[0].Next().String()}
	builds := buildsTotal(t, p)
	busy := startLoad(tg, workers, 20*time.Second)
	cctx, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { ch.run(cctx) })
	res := busy.Stop(true)
	stop()
	wg.Wait()
	swaps := buildsTotal(t, p) - builds
	figure(t, "Gateway API: 32 conns, 20 s, %d API writes (%d failed), %d table swaps | %d requests, %d failed, %d conn errors | p99 %s with churn vs %s without",
		ch.writes.Load(), ch.errs.Load(), swaps, res.OK+res.Failed+res.ConnErrs, res.Failed, res.ConnErrs, res.P99, quiet.P99)
	if res.Failed != 0 || res.ConnErrs != 0 || quiet.Failed != 0 || quiet.ConnErrs != 0 {
		t.Errorf("want 0 failed requests and 0 connection errors; first problem: %s%s", res.First, quiet.First)
	}
	if res.OK < 5_000 {
		t.Errorf("only %d successful requests during churn: too light to prove anything", res.OK)
	}
	if ch.writes.Load()-ch.errs.Load() < 300 {
		t.Errorf("only %d successful API writes in 20 s: the churn was too light (first error: %v)", ch.writes.Load()-ch.errs.Load(), ch.firstErr.Load())
	}
	if swaps < 25 {
		t.Errorf("only %d table builds during churn, want at least 25", swaps)
	}
	noPanic(t, p)
}

// churnRoute is an HTTPRoute for host: a rule with header and query
// matches splitting 3:1 between service and stable, and a catch-all rule
// to service (stable for the stable route itself, i == 0).
func churnRoute(ns, name, host, service string, i int) *gwv1.HTTPRoute {
	port := gwv1.PortNumber(80)
	ref := func(svc string, w int32) gwv1.HTTPBackendRef {
		return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{
			Name: gwv1.ObjectName(svc), Port: &port}, Weight: &w}}
	}
	prefix := gwv1.PathMatchPathPrefix
	root, api := "/", "/api"
	return &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"tick": strconv.Itoa(i)}},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "edge"}}},
			Hostnames:       []gwv1.Hostname{gwv1.Hostname(host)},
			Rules: []gwv1.HTTPRouteRule{
				{
					Matches: []gwv1.HTTPRouteMatch{{
						Path:        &gwv1.HTTPPathMatch{Type: &prefix, Value: &api},
						Headers:     []gwv1.HTTPHeaderMatch{{Name: "X-Canary", Value: "yes"}},
						QueryParams: []gwv1.HTTPQueryParamMatch{{Name: "v", Value: strconv.Itoa(i % 7)}},
					}},
					BackendRefs: []gwv1.HTTPBackendRef{ref(service, 3), ref("stable", 1)},
				},
				{
					Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &prefix, Value: &root}}},
					BackendRefs: []gwv1.HTTPBackendRef{ref(service, 1)},
				},
			},
		},
	}
}

// gatewayChurner creates, updates and deletes (in turn) one HTTPRoute,
// Service and EndpointSlice every tick.
type gatewayChurner struct {
	churnWrites
	gc       gwclient.Interface
	ns, addr string
}

func (ch *gatewayChurner) run(ctx context.Context) { ch.churn(ctx, ch.ops) }

func (ch *gatewayChurner) ops(phase int, name string, i int) []func(context.Context) error {
	cs, routes := cp.Client, ch.gc.GatewayV1().HTTPRoutes(ch.ns)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ch.ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	slice := harness.EndpointSliceObject(ch.ns, name, name, 8080, harness.Endpoint{Addr: ch.addr})
	route := churnRoute(ch.ns, name, name+".churn.test", name, i)
	del := metav1.DeleteOptions{}
	switch phase {
	case 0:
		return []func(context.Context) error{
			func(ctx context.Context) error {
				_, err := cs.CoreV1().Services(ch.ns).Create(ctx, svc, metav1.CreateOptions{})
				return err
			},
			func(ctx context.Context) error {
				_, err := cs.DiscoveryV1().EndpointSlices(ch.ns).Create(ctx, slice, metav1.CreateOptions{})
				return err
			},
			func(ctx context.Context) error {
				_, err := routes.Create(ctx, route, metav1.CreateOptions{})
				return err
			},
		}
	case 1:
		return []func(context.Context) error{
			func(ctx context.Context) error {
				slice.Endpoints[0].Conditions.Ready = new(bool)
				_, err := cs.DiscoveryV1().EndpointSlices(ch.ns).Update(ctx, slice, metav1.UpdateOptions{})
				return err
			},
			func(ctx context.Context) error {
				cur, err := routes.Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				cur.Spec.Rules = append(cur.Spec.Rules, route.Spec.Rules[0])
				exact := gwv1.PathMatchExact
				v := "/v2"
				cur.Spec.Rules[len(cur.Spec.Rules)-1].Matches[0].Path = &gwv1.HTTPPathMatch{Type: &exact, Value: &v}
				_, err = routes.Update(ctx, cur, metav1.UpdateOptions{})
				return err
			},
		}
	}
	return []func(context.Context) error{
		func(ctx context.Context) error { return routes.Delete(ctx, name, del) },
		func(ctx context.Context) error { return cs.DiscoveryV1().EndpointSlices(ch.ns).Delete(ctx, name, del) },
		func(ctx context.Context) error { return cs.CoreV1().Services(ch.ns).Delete(ctx, name, del) },
	}
}
