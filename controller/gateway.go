package controller

import (
	"maps"
	"net/netip"
	"runtime/debug"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gwlisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"
	gwlistersb1 "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1beta1"

	"portico.dev/portico/gateway"
)

// gatewayWatch holds the Gateway API informers. It exists only when
// Config.GatewayClient is set. Services, EndpointSlices and Secrets are not
// watched twice: the Gateway API snapshot reuses the Ingress snapshot's.
type gatewayWatch struct {
	classes    gwlisters.GatewayClassLister
	gateways   gwlisters.GatewayLister
	routes     gwlisters.HTTPRouteLister
	grants     gwlistersb1.ReferenceGrantLister
	namespaces listersv1.NamespaceLister
	sets       gwlisters.ListenerSetLister
	configMaps listersv1.ConfigMapLister // CA bundles for client certificate validation and BackendTLSPolicies
	policies   gwlisters.BackendTLSPolicyLister
}

// watchGateways sets up the Gateway API informers: GatewayClasses
// (cluster-scoped), Gateways, HTTPRoutes and ReferenceGrants (in
// Config.Namespace, or everywhere), and Namespaces, whose labels listeners'
// allowedRoutes selectors match (with --watch-namespace only that one).
func (c *Controller) watchGateways() {
	gf := gwinformers.NewSharedInformerFactoryWithOptions(c.cfg.GatewayClient, 0,
		gwinformers.WithNamespace(c.cfg.Namespace), gwinformers.WithTransform(stripForCache))
	nsf := informers.NewSharedInformerFactoryWithOptions(c.cfg.Client, 0, informers.WithTransform(stripForCache),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			if c.cfg.Namespace != "" {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", c.cfg.Namespace).String()
			}
		}))
	c.factories = append(c.factories, gf, nsf)
	v1 := gf.Gateway().V1()
	cls, gws, rts := v1.GatewayClasses(), v1.Gateways(), v1.HTTPRoutes()
	grs := gf.Gateway().V1beta1().ReferenceGrants()
	nss := nsf.Core().V1().Namespaces()
	c.gw = &gatewayWatch{
		classes: cls.Lister(), gateways: gws.Lister(), routes: rts.Lister(),
		grants: grs.Lister(), namespaces: nss.Lister(),
	}
	infs := []cache.SharedIndexInformer{cls.Informer(), gws.Informer(), rts.Informer(), grs.Informer(), nss.Informer()}
	if c.cfg.GatewayExtras.ListenerSets {
		lss := v1.ListenerSets()
		c.gw.sets = lss.Lister()
		infs = append(infs, lss.Informer())
	}
	if c.cfg.GatewayExtras.BackendTLSPolicies {
		ps := v1.BackendTLSPolicies()
		c.gw.policies = ps.Lister()
		infs = append(infs, ps.Informer())
	}
	if c.cfg.GatewayExtras.ConfigMaps {
		// ConfigMaps are read for the CA bundles Gateways validate client
		// certificates with and BackendTLSPolicies verify backends with;
		// the cache keeps only their ca.crt.
		cmf := informers.NewSharedInformerFactoryWithOptions(c.cfg.Client, 0, informers.WithNamespace(c.cfg.Namespace),
			informers.WithTransform(caBundleOnly))
		c.factories = append(c.factories, cmf)
		cms := cmf.Core().V1().ConfigMaps()
		c.gw.configMaps = cms.Lister()
		infs = append(infs, cms.Informer())
	}
	for _, inf := range infs {
		c.watch(inf)
	}
	c.cfg.GatewayStatus.use(c.gw, c.cfg.Gateway.ControllerName)
}

// snapshot reads the Gateway API caches; the Services, EndpointSlices and
// Secrets come from the Ingress snapshot of the same build (read-only for
// both translators).
func (g *gatewayWatch) snapshot(ing *Snapshot) (*gateway.Snapshot, error) {
	all := labels.Everything()
	s := &gateway.Snapshot{Services: ing.Services, Slices: ing.Slices, Secrets: ing.Secrets}
	var err error
	if s.Classes, err = g.classes.List(all); err != nil {
		return nil, err
	}
	if s.Gateways, err = g.gateways.List(all); err != nil {
		return nil, err
	}
	if s.HTTPRoutes, err = g.routes.List(all); err != nil {
		return nil, err
	}
	if s.ReferenceGrants, err = g.grants.List(all); err != nil {
		return nil, err
	}
	if g.sets != nil {
		if s.ListenerSets, err = g.sets.List(all); err != nil {
			return nil, err
		}
	}
	if g.policies != nil {
		if s.BackendTLSPolicies, err = g.policies.List(all); err != nil {
			return nil, err
		}
	}
	s.ConfigMaps = map[types.NamespacedName]*corev1.ConfigMap{}
	if g.configMaps != nil {
		cms, err := g.configMaps.List(all)
		if err != nil {
			return nil, err
		}
		for _, cm := range cms {
			s.ConfigMaps[types.NamespacedName{Namespace: cm.Namespace, Name: cm.Name}] = cm
		}
	}
	nss, err := g.namespaces.List(all)
	if err != nil {
		return nil, err
	}
	s.Namespaces = make(map[string]*corev1.Namespace, len(nss))
	for _, ns := range nss {
		s.Namespaces[ns.Name] = ns
	}
	return s, nil
}

// buildGateway translates the Gateway API objects and hands the result on:
// ports to the data plane first, then Events, then the status writer, so
// status never reports a listener before it is served. A panic in the
// translator (or in the data plane hook) keeps the last good ports and
// status, and never affects the Ingress table, which went live before.
func (c *Controller) buildGateway(ing *Snapshot) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			c.cfg.Log.Error("gateway API translation panicked; keeping the last good ports and status",
				"panic", r, "stack", string(debug.Stack()))
		}
	}()
	snap, err := c.gw.snapshot(ing)
	if err != nil {
		c.cfg.Log.Error("reading gateway API caches", "err", err)
		return
	}
	translate := c.cfg.GatewayTranslate
	if translate == nil {
		translate = gateway.Translate
	}
	cfg := c.cfg.Gateway
	if c.cfg.GatewayPortErrors != nil {
		cfg.Unavailable = errorTexts(c.cfg.GatewayPortErrors())
	}
	res := translate(snap, cfg)
	if res == nil {
		c.cfg.Log.Error("gateway API translation returned nothing; keeping the last good ports and status")
		return
	}
	if c.cfg.GatewayPorts != nil {
		c.cfg.GatewayPorts(res.Ports)
		if c.cfg.GatewayPortErrors != nil && !maps.Equal(cfg.Unavailable, errorTexts(c.cfg.GatewayPortErrors())) {
			// A port that failed (or recovered) in this apply: translate
			// again, so status says so.
			c.signal()
		}
	}
	c.cfg.Events.reportGateway(res.Problems, c.gw.reference, c.cfg.Log)
	c.cfg.GatewayStatus.update(res.Status)
	c.cfg.GatewayServices.update(res.Services)
	c.cfg.Log.Debug("gateway API translated", "classes", len(snap.Classes), "gateways", len(snap.Gateways),
		"httproutes", len(snap.HTTPRoutes), "ports", len(res.Ports), "problems", len(res.Problems), "took", time.Since(start))
}

// caBundleOnly keeps a cached ConfigMap small: its metadata and ca.crt,
// the only key the Gateway API reads (other ConfigMaps can be large).
func caBundleOnly(obj any) (any, error) {
	obj, err := stripForCache(obj)
	if err != nil {
		return obj, err
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		ca, has := cm.Data["ca.crt"]
		cm.Data, cm.BinaryData = nil, nil
		if has {
			cm.Data = map[string]string{"ca.crt": ca}
		}
	}
	return obj, nil
}

// Versions of the kinds a gateway.Problem may name, for the Event's
// involvedObject.
var problemAPIVersions = map[string]string{
	"GatewayClass":     gwv1.GroupVersion.String(),
	"Gateway":          gwv1.GroupVersion.String(),
	"HTTPRoute":        gwv1.GroupVersion.String(),
	"ListenerSet":      gwv1.GroupVersion.String(),
	"BackendTLSPolicy": gwv1.GroupVersion.String(),
	"ReferenceGrant":   "gateway.networking.k8s.io/v1beta1",
	"Namespace":        "v1",
	"Service":          "v1",
	"Secret":           "v1",
}

// reference names the object of a problem for an Event, with the UID and
// generation of the cached object when there is one (kubectl describe
// matches Events by UID). ok is false for a kind Events cannot name.
func (g *gatewayWatch) reference(p gateway.Problem) (ref *corev1.ObjectReference, generation int64, ok bool) {
	v, ok := problemAPIVersions[p.Kind]
	if !ok {
		return nil, 0, false
	}
	ref = &corev1.ObjectReference{APIVersion: v, Kind: p.Kind, Namespace: p.Namespace, Name: p.Name}
	var m metav1.Object
	switch p.Kind {
	case "GatewayClass":
		if o, err := g.classes.Get(p.Name); err == nil {
			m = o
		}
	case "Gateway":
		if o, err := g.gateways.Gateways(p.Namespace).Get(p.Name); err == nil {
			m = o
		}
	case "HTTPRoute":
		if o, err := g.routes.HTTPRoutes(p.Namespace).Get(p.Name); err == nil {
			m = o
		}
	case "ReferenceGrant":
		if o, err := g.grants.ReferenceGrants(p.Namespace).Get(p.Name); err == nil {
			m = o
		}
	case "BackendTLSPolicy":
		if g.policies == nil {
			break
		}
		if o, err := g.policies.BackendTLSPolicies(p.Namespace).Get(p.Name); err == nil {
			m = o
		}
	case "ListenerSet":
		if g.sets == nil {
			break
		}
		if o, err := g.sets.ListenerSets(p.Namespace).Get(p.Name); err == nil {
			m = o
		}
	}
	if m != nil {
		ref.UID, ref.ResourceVersion, generation = m.GetUID(), m.GetResourceVersion(), m.GetGeneration()
	}
	return ref, generation, true
}

func errorTexts(errs map[netip.AddrPort]error) map[netip.AddrPort]string {
	if len(errs) == 0 {
		return nil
	}
	out := make(map[netip.AddrPort]string, len(errs))
	for k, err := range errs {
		out[k] = err.Error()
	}
	return out
}
