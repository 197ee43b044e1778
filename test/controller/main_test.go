// Package controller runs package controller in-process against a real
// kube-apiserver and etcd (test/harness), with the Gateway API CRDs
// installed and kube-controller-manager running (its garbage collector
// removes Gateway Services with their Gateway): its informers, build loop, Events and status writers, driven by
// hand-made translations (Config.GatewayTranslate) so that status can be
// tested before, and independently of, the real translator. Portico as a
// whole (the binary, over its sockets) is test/e2e's.
package controller

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"portico.dev/portico/controller"
	"portico.dev/portico/gateway"
	"portico.dev/portico/router"
	"portico.dev/portico/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) {
	harness.MainWith(m, &cp, harness.Options{Controllers: true}, func(ctx context.Context, cp *harness.ControlPlane) error {
		return harness.InstallGatewayAPICRDs(ctx, cp, harness.GatewayAPIStandard)
	})
}

// translateFunc is a stand-in for gateway.Translate.
type translateFunc func(*gateway.Snapshot, gateway.Config) *gateway.Result

// replica is one in-process controller watching one namespace, like one
// Portico replica with --watch-namespace.
type replica struct {
	name      string
	ctrl      *controller.Controller
	status    *controller.GatewayStatusWriter
	gw        gatewayclient.Interface
	translate atomic.Pointer[translateFunc]
	mu        sync.Mutex
	ports     [][]gateway.Port // every call of the GatewayPorts hook
	snap      *gateway.Snapshot
	live      *router.Live
	log       *syncBuffer
}

// startReplica runs a controller for ns with the Gateway API on, whose API
// requests carry user agent name (the field manager in managedFields, which
// tells replicas' writes apart). Its status writer writes only while lead
// runs (see leadWhile).
func startReplica(t *testing.T, ns, name, controllerName string, tr translateFunc) *replica {
	t.Helper()
	cfg := rest.CopyConfig(cp.Config)
	cfg.UserAgent = name
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, live: &router.Live{}, log: &syncBuffer{}}
	if r.gw, err = gatewayclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	r.translate.Store(&tr)
	log := slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug})).With("replica", name)
	ctx, cancel := context.WithCancel(context.Background())
	r.status = controller.NewGatewayStatusWriter(controller.GatewayStatusConfig{Client: r.gw, Log: log, RetryAfter: 200 * time.Millisecond})
	r.ctrl = controller.New(controller.Config{
		Client:    client,
		Namespace: ns,
		Compile:   controller.CompileConfig{Class: controller.ClassConfig{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico", WatchWithoutClass: true}},
		Live:      r.live,
		Log:       log,
		Events:    controller.NewEventSink(ctx, client, name),
		Holdoff:   20 * time.Millisecond, MaxHoldoff: 100 * time.Millisecond,

		GatewayClient: r.gw,
		Gateway:       gateway.Config{ControllerName: controllerName},
		GatewayPorts: func(ps []gateway.Port) {
			r.mu.Lock()
			r.ports = append(r.ports, ps)
			r.mu.Unlock()
		},
		GatewayStatus: r.status,
		GatewayTranslate: func(s *gateway.Snapshot, c gateway.Config) *gateway.Result {
			r.mu.Lock()
			r.snap = s
			r.mu.Unlock()
			return (*r.translate.Load())(s, c)
		},
	})
	done := make(chan error, 1)
	go func() { done <- r.ctrl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: Run: %v", name, err)
		}
		if t.Failed() || os.Getenv("DUMP") != "" {
			t.Logf("%s log:\n%s", name, r.log.String())
		}
	})
	return r
}

// leadWhile runs the status writer's Lead until the returned stop is
// called (as leader election does while this replica holds the Lease).
func (r *replica) leadWhile(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.status.Lead(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func (r *replica) setTranslate(tr translateFunc) { r.translate.Store(&tr) }

func (r *replica) snapshot() *gateway.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snap
}

func (r *replica) portCalls() [][]gateway.Port {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]gateway.Port(nil), r.ports...)
}

// syncBuffer is a log destination shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Objects.

func controllerNameFor(ns string) string { return "portico.dev/test-" + ns }

func createClass(t *testing.T, name, controllerName string) *gwv1.GatewayClass {
	t.Helper()
	c, err := gwAdmin(t).GatewayV1().GatewayClasses().Create(context.Background(), &gwv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       gwv1.GatewayClassSpec{ControllerName: gwv1.GatewayController(controllerName)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gwAdmin(t).GatewayV1().GatewayClasses().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return c
}

func createGateway(t *testing.T, ns, name, class string) *gwv1.Gateway {
	t.Helper()
	g, err := gwAdmin(t).GatewayV1().Gateways(ns).Create(context.Background(), &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(class),
			Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func createRoute(t *testing.T, ns, name string, parents ...string) *gwv1.HTTPRoute {
	t.Helper()
	rt := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, p := range parents {
		rt.Spec.ParentRefs = append(rt.Spec.ParentRefs, gwv1.ParentReference{Name: gwv1.ObjectName(p)})
	}
	rt.Spec.Rules = []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: "web", Port: ptr.To(gwv1.PortNumber(80))}}}}}}
	rt, err := gwAdmin(t).GatewayV1().HTTPRoutes(ns).Create(context.Background(), rt, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func getRoute(t *testing.T, ns, name string) *gwv1.HTTPRoute {
	t.Helper()
	rt, err := gwAdmin(t).GatewayV1().HTTPRoutes(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// updateRoute changes a route's spec, retrying conflicts.
func updateRoute(t *testing.T, ns, name string, mutate func(*gwv1.HTTPRoute)) {
	t.Helper()
	for range 10 {
		rt := getRoute(t, ns, name)
		mutate(rt)
		_, err := gwAdmin(t).GatewayV1().HTTPRoutes(ns).Update(context.Background(), rt, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if !isConflict(err) {
			t.Fatal(err)
		}
	}
	t.Fatalf("update HTTPRoute %s/%s: kept conflicting", ns, name)
}

var (
	gwAdminOnce   sync.Once
	gwAdminClient gatewayclient.Interface
)

func gwAdmin(t *testing.T) gatewayclient.Interface {
	t.Helper()
	gwAdminOnce.Do(func() {
		var err error
		if gwAdminClient, err = gatewayclient.NewForConfig(cp.Config); err != nil {
			panic(err)
		}
	})
	return gwAdminClient
}

// touch changes a Service in ns, which causes a build.
func touch(t *testing.T, ns string) {
	t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("touch-%d", time.Now().UnixNano())},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cp.Client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func nn(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }
