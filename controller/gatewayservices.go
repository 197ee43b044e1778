package controller

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/gateway"
)

// GatewayServicesConfig for NewGatewayServiceWriter.
type GatewayServicesConfig struct {
	Client kubernetes.Interface
	Log    *slog.Logger
	// RetryAfter is the first wait before retrying a failed pass; it
	// doubles up to 30s. Default 2s.
	RetryAfter time.Duration
}

// GatewayServiceWriter maintains the Services gateway.Translate computed
// for Accepted Gateways (--gateway-services, docs/gateway-api.md "Gateway
// Services") and their EndpointSlices. Like GatewayStatusWriter every
// replica feeds it translations and only the leader runs Lead.
//
// It writes only what differs from the cached object, and only the fields
// it owns: labels, annotations, its ownerReference, type, selector and
// ports of the Service (clusterIP and everything else the API server or
// others set are kept). A Service of the wanted name that Portico did not
// create (no app.kubernetes.io/managed-by=portico label, or no controller
// ownerReference to a Gateway of that name) is never touched. Services it
// created for Gateways that are no longer Accepted (or no longer of a
// class of this controller name) are deleted; those of deleted Gateways
// are left to the garbage collector, through their ownerReference.
type GatewayServiceWriter struct {
	cfg  GatewayServicesConfig
	loop statusLoop
	// Set by New from the controller's caches and Config.Gateway.
	services listersv1.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	ours     string

	mu   sync.Mutex
	want []gateway.GatewayService
	have bool // a translation arrived
}

// NewGatewayServiceWriter returns a writer; pass it as
// Config.GatewayServices and run Lead while leading.
func NewGatewayServiceWriter(cfg GatewayServicesConfig) *GatewayServiceWriter {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &GatewayServiceWriter{cfg: cfg, loop: newStatusLoop(cfg.RetryAfter)}
}

func (w *GatewayServiceWriter) use(services listersv1.ServiceLister, slices discoverylisters.EndpointSliceLister, controllerName string) {
	if w != nil {
		w.services, w.slices, w.ours = services, slices, controllerName
	}
}

// update records the latest translation's Services; it never blocks.
func (w *GatewayServiceWriter) update(s []gateway.GatewayService) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.want, w.have = s, true
	w.mu.Unlock()
	w.loop.signal()
}

// Lead maintains the Services until ctx ends, starting with a full pass.
func (w *GatewayServiceWriter) Lead(ctx context.Context) {
	w.loop.run(ctx, w.sync)
}

func (w *GatewayServiceWriter) sync(ctx context.Context) bool {
	w.mu.Lock()
	want, have := w.want, w.have
	w.mu.Unlock()
	if !have || w.services == nil {
		return true
	}
	good := true
	wanted := map[types.NamespacedName]bool{}
	for _, s := range want {
		wanted[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = true
		good = w.report(s.Namespace, s.Name, w.writeService(ctx, s)) && good
	}
	ours, err := w.services.List(labels.SelectorFromSet(labels.Set{gateway.ManagedByLabel: gateway.ManagedByValue}))
	if err != nil {
		return false
	}
	for _, svc := range ours {
		if wanted[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] ||
			svc.Annotations[gateway.ControllerAnnotation] != w.ours || gatewayOwner(svc) == nil {
			continue
		}
		err := w.cfg.Client.CoreV1().Services(svc.Namespace).Delete(ctx, svc.Name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &svc.UID}})
		if err == nil {
			w.cfg.Log.Info("gateway Service deleted: its Gateway is no longer Accepted by Portico", "service", svc.Namespace+"/"+svc.Name)
		}
		good = w.report(svc.Namespace, svc.Name, err) && good
	}
	return good
}

func (w *GatewayServiceWriter) report(ns, name string, err error) bool {
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return true
	case apierrors.IsInvalid(err):
		w.cfg.Log.Error("gateway Service refused by the API server", "service", ns+"/"+name, "err", err)
		return true
	default:
		w.cfg.Log.Warn("writing gateway Service", "service", ns+"/"+name, "err", err)
		return false
	}
}

// gatewayOwner is a Service's controller ownerReference when it is a
// Gateway's.
func gatewayOwner(svc metav1.Object) *metav1.OwnerReference {
	ref := metav1.GetControllerOfNoCopy(svc)
	if ref == nil || ref.Kind != "Gateway" || ref.APIVersion != gwv1.GroupVersion.String() {
		return nil
	}
	return ref
}

func (w *GatewayServiceWriter) writeService(ctx context.Context, s gateway.GatewayService) error {
	api := w.cfg.Client.CoreV1().Services(s.Namespace)
	cur, err := w.services.Services(s.Namespace).Get(s.Name)
	if apierrors.IsNotFound(err) {
		next := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name}}
		applyService(next, s)
		if cur, err = api.Create(ctx, next, metav1.CreateOptions{}); err != nil {
			return err
		}
		w.cfg.Log.Info("gateway Service created", "service", s.Namespace+"/"+s.Name, "gateway", s.Gateway)
		return w.writeSlices(ctx, cur, s)
	}
	if err != nil {
		return err
	}
	if ref := gatewayOwner(cur); cur.Labels[gateway.ManagedByLabel] != gateway.ManagedByValue || ref == nil || ref.Name != s.Gateway {
		w.cfg.Log.Error("a Service of the name Portico would generate for a Gateway exists and is not Portico's; leaving it alone",
			"service", s.Namespace+"/"+s.Name, "gateway", s.Gateway)
		return nil
	}
	next := cur.DeepCopy()
	applyService(next, s)
	if !sameService(cur, next) {
		if cur, err = api.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
			return err
		}
		w.cfg.Log.Info("gateway Service updated", "service", s.Namespace+"/"+s.Name, "gateway", s.Gateway)
	}
	return w.writeSlices(ctx, cur, s)
}

// applyService sets the fields Portico owns on svc.
func applyService(svc *corev1.Service, s gateway.GatewayService) {
	svc.Labels = maps.Clone(s.Labels)
	svc.Annotations = maps.Clone(s.Annotations)
	refs := []metav1.OwnerReference{{
		APIVersion: gwv1.GroupVersion.String(), Kind: "Gateway", Name: s.Gateway, UID: s.GatewayUID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(false),
	}}
	for _, r := range svc.OwnerReferences {
		if r.Controller == nil || !*r.Controller {
			refs = append(refs, r) // others' references are kept
		}
	}
	svc.OwnerReferences = refs
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.Selector = nil
	svc.Spec.Ports = nil
	for _, p := range s.Ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: p.Name, Protocol: corev1.ProtocolTCP, Port: p.Port, TargetPort: intstr.FromInt32(p.Port),
		})
	}
}

func sameService(a, b *corev1.Service) bool {
	return maps.Equal(a.Labels, b.Labels) && maps.Equal(a.Annotations, b.Annotations) &&
		slices.EqualFunc(a.OwnerReferences, b.OwnerReferences, sameOwnerRef) &&
		a.Spec.Type == b.Spec.Type && len(a.Spec.Selector) == 0 && len(b.Spec.Selector) == 0 &&
		slices.EqualFunc(a.Spec.Ports, b.Spec.Ports, func(x, y corev1.ServicePort) bool {
			return x.Name == y.Name && x.Protocol == y.Protocol && x.Port == y.Port && x.TargetPort == y.TargetPort
		})
}

func sameOwnerRef(x, y metav1.OwnerReference) bool {
	return x.APIVersion == y.APIVersion && x.Kind == y.Kind && x.Name == y.Name && x.UID == y.UID &&
		ptr.Deref(x.Controller, false) == ptr.Deref(y.Controller, false) &&
		ptr.Deref(x.BlockOwnerDeletion, false) == ptr.Deref(y.BlockOwnerDeletion, false)
}
