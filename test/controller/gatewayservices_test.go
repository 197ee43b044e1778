package controller

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/controller"
	"portico.dev/portico/gateway"
	"portico.dev/portico/router"
	"portico.dev/portico/test/harness"
)

// TestGatewayServices runs the real translator with --gateway-services'
// config and the Service writer as leader: the Service of an Accepted
// Gateway is created with the infrastructure labels and annotations, an
// ownerReference to the Gateway and an EndpointSlice of its (published)
// address; rebuilds with nothing new write nothing; a label change is
// written, keeping the clusterIP the API server chose; a Service of the
// same name that is not Portico's is left alone; deleting the Gateway lets
// the garbage collector remove the Service and its slice.
func TestGatewayServices(t *testing.T) {
	ctx := context.Background()
	ns := harness.Namespace(t, cp)
	ctrlName := controllerNameFor(ns)
	class := "cls-" + ns
	createClass(t, class, ctrlName)
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "edge"},
		Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(class),
			Infrastructure: &gwv1.GatewayInfrastructure{
				Labels:      map[gwv1.LabelKey]gwv1.LabelValue{"team": "a"},
				Annotations: map[gwv1.AnnotationKey]gwv1.AnnotationValue{"example.com/note": "x"},
			},
			Listeners: []gwv1.Listener{
				{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType},
				{Name: "alt", Port: 8080, Protocol: gwv1.HTTPProtocolType},
			}},
	}
	gw, err := gwAdmin(t).GatewayV1().Gateways(ns).Create(ctx, gw, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A Service of the name another Gateway would get, made by someone else.
	other := "taken-portico"
	taken, err := cp.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: other, Labels: map[string]string{"mine": "yes"}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 9}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createGateway(t, ns, "taken", class)

	log := &syncBuffer{}
	w := startServiceReplica(t, ns, ctrlName, log)
	ctxLead, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Lead(ctxLead) }()
	t.Cleanup(func() {
		stop()
		<-done
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	})

	name := gateway.ServiceName("edge")
	var svc *corev1.Service
	var slice *discoveryv1.EndpointSlice
	wantService := func(team string) func() error {
		return func() error {
			s, err := cp.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			wantLabels := map[string]string{"team": team, gwv1.GatewayNameLabelKey: "edge", gateway.ManagedByLabel: gateway.ManagedByValue}
			if !maps.Equal(s.Labels, wantLabels) || s.Annotations["example.com/note"] != "x" {
				return fmt.Errorf("Service labels %v annotations %v, want labels %v and the note", s.Labels, s.Annotations, wantLabels)
			}
			if len(s.Spec.Ports) != 2 || s.Spec.Ports[0].Name != "http-80" || s.Spec.Ports[1].Name != "http-8080" || s.Spec.Selector != nil {
				return fmt.Errorf("Service ports %+v selector %v", s.Spec.Ports, s.Spec.Selector)
			}
			ref := metav1.GetControllerOf(s)
			if ref == nil || ref.Kind != "Gateway" || ref.UID != gw.UID || ref.BlockOwnerDeletion == nil || *ref.BlockOwnerDeletion {
				return fmt.Errorf("Service owner %+v, want the Gateway as controller, not blocking", ref)
			}
			es, err := cp.Client.DiscoveryV1().EndpointSlices(ns).Get(ctx, name+"-ipv4", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if es.Labels[discoveryv1.LabelServiceName] != name || len(es.Endpoints) != 1 || es.Endpoints[0].Addresses[0] != "10.77.0.5" {
				return fmt.Errorf("EndpointSlice labels %v endpoints %+v", es.Labels, es.Endpoints)
			}
			svc, slice = s, es
			return nil
		}
	}
	harness.Eventually(t, 15*time.Second, wantService("a"))

	t.Run("no write when unchanged", func(t *testing.T) {
		touch(t, ns)
		touch(t, ns)
		staysTrue(t, 1500*time.Millisecond, func() error {
			s, err := cp.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			es, err := cp.Client.DiscoveryV1().EndpointSlices(ns).Get(ctx, name+"-ipv4", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if s.ResourceVersion != svc.ResourceVersion || es.ResourceVersion != slice.ResourceVersion {
				return fmt.Errorf("written again without a change (Service %s→%s, slice %s→%s)",
					svc.ResourceVersion, s.ResourceVersion, slice.ResourceVersion, es.ResourceVersion)
			}
			return nil
		})
	})

	t.Run("someone else's Service is left alone", func(t *testing.T) {
		s, err := cp.Client.CoreV1().Services(ns).Get(ctx, other, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.ResourceVersion != taken.ResourceVersion {
			t.Errorf("Service %s was changed: labels %v owners %v", other, s.Labels, s.OwnerReferences)
		}
	})

	t.Run("label change", func(t *testing.T) {
		clusterIP := svc.Spec.ClusterIP
		for range 10 {
			cur, err := gwAdmin(t).GatewayV1().Gateways(ns).Get(ctx, "edge", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cur.Spec.Infrastructure.Labels["team"] = "b"
			if _, err = gwAdmin(t).GatewayV1().Gateways(ns).Update(ctx, cur, metav1.UpdateOptions{}); err == nil {
				break
			} else if !apierrors.IsConflict(err) {
				t.Fatal(err)
			}
		}
		harness.Eventually(t, 15*time.Second, wantService("b"))
		if svc.Spec.ClusterIP != clusterIP || clusterIP == "" {
			t.Errorf("clusterIP %q, was %q", svc.Spec.ClusterIP, clusterIP)
		}
	})

	t.Run("garbage collected with the Gateway", func(t *testing.T) {
		stop() // only the garbage collector may delete now
		<-done
		if err := gwAdmin(t).GatewayV1().Gateways(ns).Delete(ctx, "edge", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 60*time.Second, func() error {
			_, err := cp.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("Service still there (err %v)", err)
			}
			_, err = cp.Client.DiscoveryV1().EndpointSlices(ns).Get(ctx, name+"-ipv4", metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("EndpointSlice still there (err %v)", err)
			}
			return nil
		})
	})
}

// startServiceReplica runs a controller for ns with the real translator,
// Gateway Services on and 10.77.0.5 as the published address (one the API
// server accepts as an endpoint); it returns the Service writer.
func startServiceReplica(t *testing.T, ns, ctrlName string, logw *syncBuffer) *controller.GatewayServiceWriter {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := controller.NewGatewayServiceWriter(controller.GatewayServicesConfig{Client: cp.Client, Log: log, RetryAfter: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	c := controller.New(controller.Config{
		Client: cp.Client, Namespace: ns, Live: &router.Live{}, Log: log,
		Compile: controller.CompileConfig{Class: controller.ClassConfig{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico"}},
		Holdoff: 20 * time.Millisecond, MaxHoldoff: 100 * time.Millisecond,

		GatewayClient: gwAdmin(t),
		Gateway: gateway.Config{ControllerName: ctrlName, Services: true,
			Published: []netip.Addr{netip.MustParseAddr("10.77.0.5")}},
		GatewayServices: w,
	})
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w
}
