// Package controller watches the cluster and compiles what it sees into
// Portico's routing table. It is the only package that knows Kubernetes.
// It owns the informers and the build loop for both front-ends: Ingress
// (compiled here) and, when enabled, the Gateway API (translated by package
// gateway, a pure function; see gateway.go).
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"portico.dev/portico/gateway"
	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

// Config for New.
type Config struct {
	Client    kubernetes.Interface
	Namespace string // watch only this namespace; "" for all
	Compile   CompileConfig
	Live      *router.Live    // where built tables are published
	TLS       *tlsstore.Store // optional; fed certificates before each table goes live
	ACME      ACMEHosts       // optional; told the ACME hosts before each table goes live
	Log       *slog.Logger
	Events    *EventSink    // optional; problems become Kubernetes Events
	Metrics   *Metrics      // optional
	Status    *StatusWriter // optional; fed every build, writes only while leading
	// Holdoff coalesces bursts of changes: a build starts Holdoff after the
	// last change, but never later than MaxHoldoff after the first.
	Holdoff, MaxHoldoff time.Duration
	// OnBuild, if set, is called after each table went live (for example
	// to write Ingress status). It runs on the build goroutine.
	OnBuild func(Result)

	// GatewayClient turns the Gateway API on: GatewayClasses, Gateways,
	// HTTPRoutes, ReferenceGrants and Namespaces are watched too, and every
	// build also runs gateway.Translate (cmd/portico sets it as
	// --enable-gateway-api says). Nil: Ingress only, and the Gateway*
	// fields below are unused.
	GatewayClient gatewayclient.Interface
	// GatewayExtras says which optional Gateway API parts to watch.
	GatewayExtras GatewayExtras
	Gateway       gateway.Config // passed to gateway.Translate
	// GatewayPorts, if set, receives every translation's ports (the data
	// plane's sockets, with their certificates). It runs on the build
	// goroutine, before the status of the same translation is handed on.
	GatewayPorts func([]gateway.Port)
	// GatewayPortErrors, if set, returns the ports of the last
	// GatewayPorts call that could not be served (a bind error), so that
	// the next translation reports them in status.
	GatewayPortErrors func() map[netip.AddrPort]error
	GatewayStatus     *GatewayStatusWriter // optional; fed every translation, writes only while leading
	// GatewayServices, optional, maintains the translation's Services
	// (gateway.Config.Services, --gateway-services) while leading.
	GatewayServices *GatewayServiceWriter
	// GatewayTranslate replaces gateway.Translate when set (tests drive the
	// controller with hand-made results).
	GatewayTranslate func(*gateway.Snapshot, gateway.Config) *gateway.Result

	// NginxConfigMap, when set, is the ingress-nginx ConfigMap whose keys
	// give every Ingress's defaults (--nginx-configmap, nginxconfig.go);
	// TrustedProxies says whether --trusted-proxies names any proxy.
	NginxConfigMap *types.NamespacedName
	TrustedProxies bool
}

// factory is what Run needs of an informer factory (client-go's and the
// Gateway API's generated ones differ in type).
type factory interface {
	Start(stopCh <-chan struct{})
	Shutdown()
}

// Controller runs the informers and the build loop.
type Controller struct {
	cfg     Config
	changed chan struct{}
	certs   *certCache

	ingresses networkinglisters.IngressLister
	classes   networkinglisters.IngressClassLister
	services  listersv1.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	secrets   listersv1.SecretLister
	// authSecrets are the Opaque Secrets, stripped to what basic
	// authentication reads (stripAuthSecret).
	authSecrets listersv1.SecretLister
	factories   []factory
	synced      []cache.InformerSynced
	gw          *gatewayWatch // nil: Gateway API off
	// IngressClasses are cluster-scoped: with only a namespaced Role they
	// cannot be read, and the class informer is then not started (see
	// classaccess.go).
	classFactory informers.SharedInformerFactory
	classSynced  cache.InformerSynced
	configMaps   *configMapWatch   // custom-headers (customheaders.go)
	nginx        *nginxConfigWatch // nil without --nginx-configmap
}

// New sets up the informers; nothing runs before Run.
func New(cfg Config) *Controller {
	if cfg.Holdoff == 0 {
		cfg.Holdoff = 100 * time.Millisecond
	}
	if cfg.MaxHoldoff == 0 {
		cfg.MaxHoldoff = 500 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	c := &Controller{cfg: cfg, changed: make(chan struct{}, 1), certs: newCertCache(nil)}
	c.cfg.Compile.certs = c.certs
	f := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0, informers.WithNamespace(cfg.Namespace),
		informers.WithTransform(stripForCache))
	// Only TLS Secrets are watched: other Secrets (Helm releases, tokens)
	// can be large and are none of Portico's business.
	tlsOnly := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithNamespace(cfg.Namespace), informers.WithTransform(stripForCache),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "type=" + string(corev1.SecretTypeTLS)
		}))
	// Opaque Secrets may hold basic-auth users (auth-secret) and client
	// CAs (auth-tls-secret); the cache keeps only those (stripAuthSecret).
	opaque := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithNamespace(cfg.Namespace), informers.WithTransform(stripAuthSecret),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "type=" + string(corev1.SecretTypeOpaque)
		}))
	c.factories = []factory{f, tlsOnly, opaque}
	c.classFactory = informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0, informers.WithTransform(stripForCache))

	ing := f.Networking().V1().Ingresses()
	cls := c.classFactory.Networking().V1().IngressClasses()
	svc := f.Core().V1().Services()
	eps := f.Discovery().V1().EndpointSlices()
	sec := tlsOnly.Core().V1().Secrets()
	authSec := opaque.Core().V1().Secrets()
	c.ingresses, c.classes, c.services, c.slices, c.secrets = ing.Lister(), cls.Lister(), svc.Lister(), eps.Lister(), sec.Lister()
	c.authSecrets = authSec.Lister()
	for _, inf := range []cache.SharedIndexInformer{ing.Informer(), svc.Informer(), eps.Informer(), sec.Informer(), authSec.Informer()} {
		c.watch(inf)
	}
	if cfg.NginxConfigMap != nil {
		c.watchNginxConfig() // nginxconfigwatch.go
	}
	c.watch(cls.Informer())
	c.classSynced, c.synced = c.synced[len(c.synced)-1], c.synced[:len(c.synced)-1]
	c.newConfigMapWatch()
	c.cfg.Status.useLister(c.ingresses)
	if cfg.GatewayClient != nil {
		c.watchGateways()
		c.cfg.GatewayServices.use(c.services, c.slices, cfg.Gateway.ControllerName)
	}
	return c
}

func (c *Controller) watch(inf cache.SharedIndexInformer) {
	// Handlers only signal; all work happens on the build goroutine.
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.signal() },
		UpdateFunc: func(old, cur any) {
			if o, ok := old.(interface{ GetResourceVersion() string }); ok {
				if n, ok := cur.(interface{ GetResourceVersion() string }); ok && o.GetResourceVersion() == n.GetResourceVersion() {
					return // a resync, nothing changed
				}
			}
			c.signal()
		},
		DeleteFunc: func(any) { c.signal() },
	})
	c.synced = append(c.synced, inf.HasSynced)
}

func (c *Controller) signal() {
	select {
	case c.changed <- struct{}{}:
	default: // a build is already pending
	}
}

// Run starts the informers, builds the first table once every cache has
// synced, then rebuilds on changes until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	for _, f := range c.factories {
		f.Start(ctx.Done())
		defer f.Shutdown()
	}
	synced := c.synced
	if c.startClassInformer(ctx) {
		defer c.classFactory.Shutdown()
		synced = append(synced[:len(synced):len(synced)], c.classSynced)
	}
	if cs := c.startConfigMaps(ctx); cs != nil {
		defer c.configMaps.factory.Shutdown()
		synced = append(synced[:len(synced):len(synced)], cs)
	}
	start := time.Now()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("informer caches did not sync: %w", context.Cause(ctx))
	}
	c.cfg.Log.Info("informer caches synced", "after", time.Since(start).Round(time.Millisecond))
	select { // the first build covers everything seen so far
	case <-c.changed:
	default:
	}
	c.build()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var pending bool
	var first time.Time
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-c.changed:
			now := time.Now()
			if !pending {
				pending, first = true, now
			}
			wait := min(c.cfg.Holdoff, first.Add(c.cfg.MaxHoldoff).Sub(now))
			timer.Reset(max(wait, 0))
		case <-timer.C:
			pending = false
			c.build()
		}
	}
}

// build compiles the caches into a table and swaps it in, then translates
// the Gateway API objects (when enabled). Each front-end recovers on its
// own: a panic in either keeps that front-end's last good result and leaves
// the other alone.
func (c *Controller) build() {
	snap := c.buildIngress()
	if c.gw != nil && snap != nil {
		c.buildGateway(snap)
	}
}

// buildIngress compiles the Ingresses. A panic in the compiler (a bug, or
// input nobody foresaw) keeps the last good table. It returns the snapshot
// it read (nil when the caches could not be read), also after a panic.
func (c *Controller) buildIngress() (snap *Snapshot) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			c.cfg.Log.Error("config build panicked; keeping the last good table", "panic", r, "stack", string(debug.Stack()))
			c.cfg.Metrics.observeBuild("error", start)
		}
	}()
	snap, err := c.snapshot()
	if err != nil {
		c.cfg.Log.Error("reading caches", "err", err)
		c.cfg.Metrics.observeBuild("error", start)
		return nil
	}
	res := Compile(snap, c.cfg.Compile)
	c.certs.prune(snap.Secrets)
	// Certificates first: a new host must never be routed before its
	// certificate can be served.
	if c.cfg.TLS != nil {
		c.cfg.TLS.Replace(res.Certificates)
		c.cfg.TLS.SetDefault(res.DefaultCertificate)
		c.cfg.TLS.SetClientCertHosts(res.ClientCertHosts)
	}
	if c.cfg.ACME != nil {
		c.cfg.ACME.SetHosts(res.ACMEHosts)
	}
	c.cfg.Live.Store(res.Table)
	result := "success"
	if len(res.Problems) > 0 {
		result = "partial"
	}
	c.cfg.Metrics.observeBuild(result, start)
	c.cfg.Metrics.observeIngresses(len(res.Admitted), len(res.Rejected))
	c.cfg.Metrics.observeCertificates(res)
	c.cfg.Log.Debug("table built", "routes", res.Table.Len(), "admitted", len(res.Admitted),
		"rejected", len(res.Rejected), "problems", len(res.Problems), "took", time.Since(start))
	c.cfg.Events.report(res, c.cfg.Log)
	c.cfg.Status.update(res)
	if c.cfg.OnBuild != nil {
		c.cfg.OnBuild(res)
	}
	return snap
}

func (c *Controller) snapshot() (*Snapshot, error) {
	all := labels.Everything()
	ings, err := c.ingresses.List(all)
	if err != nil {
		return nil, err
	}
	classes, err := c.classes.List(all)
	if err != nil {
		return nil, err
	}
	svcs, err := c.services.List(all)
	if err != nil {
		return nil, err
	}
	eps, err := c.slices.List(all)
	if err != nil {
		return nil, err
	}
	secrets, err := c.secrets.List(all)
	if err != nil {
		return nil, err
	}
	opaque, err := c.authSecrets.List(all)
	if err != nil {
		return nil, err
	}

	s := &Snapshot{
		Ingresses: ings,
		Classes:   classes,
		Services:  make(map[types.NamespacedName]*corev1.Service, len(svcs)),
		Slices:    make(map[types.NamespacedName][]*discoveryv1.EndpointSlice, len(svcs)),
		Secrets:   make(map[types.NamespacedName]*corev1.Secret, len(secrets)),
	}
	for _, sec := range secrets {
		s.Secrets[types.NamespacedName{Namespace: sec.Namespace, Name: sec.Name}] = sec
	}
	if err := c.listConfigMaps(s); err != nil {
		return nil, err
	}
	for _, sec := range opaque {
		if sec.Type == corev1.SecretTypeOpaque { // a fake client ignores field selectors
			if s.AuthSecrets == nil {
				s.AuthSecrets = make(map[types.NamespacedName]*corev1.Secret)
			}
			s.AuthSecrets[types.NamespacedName{Namespace: sec.Namespace, Name: sec.Name}] = sec
		}
	}
	for _, svc := range svcs {
		s.Services[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] = svc
	}
	for _, es := range eps {
		name := es.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		k := types.NamespacedName{Namespace: es.Namespace, Name: name}
		s.Slices[k] = append(s.Slices[k], es)
	}
	if c.nginx != nil {
		s.Nginx = c.nginx.config(c)
	}
	return s, nil
}
