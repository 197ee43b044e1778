package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Address is one entry of an Ingress's status.loadBalancer.ingress.
type Address = networkingv1.IngressLoadBalancerIngress

// AddressSource tells the status writer where Portico can be reached. It
// runs only on the leader: Run starts whatever watches it needs, calls
// changed whenever the addresses may differ, and stops when ctx ends.
type AddressSource interface {
	Run(ctx context.Context, changed func())
	// Addresses returns the current addresses, or ok=false while they are
	// not known yet (caches still syncing): the writer then writes nothing
	// rather than clearing status it cannot recompute.
	Addresses() (addrs []Address, ok bool)
}

// ParseAddresses reads --publish-status-address: IPs become ip entries,
// anything else a hostname entry.
func ParseAddresses(list string) ([]Address, error) {
	var out []Address
	for s := range strings.SplitSeq(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if ip, err := netip.ParseAddr(s); err == nil {
			if ip.Zone() != "" {
				return nil, fmt.Errorf("%q: an IP zone is not allowed", s)
			}
		} else if strings.Contains(s, "*") || checkHost(strings.ToLower(s)) != "" {
			return nil, fmt.Errorf("%q is neither an IP address nor a DNS name", s)
		}
		out = append(out, toAddress(s))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no addresses in %q", list)
	}
	return normalize(out), nil
}

func toAddress(s string) Address {
	if _, err := netip.ParseAddr(s); err == nil {
		return Address{IP: s}
	}
	return Address{Hostname: strings.ToLower(s)}
}

// normalize sorts and deduplicates, so equal sets compare equal.
func normalize(as []Address) []Address {
	out := make([]Address, 0, len(as))
	for _, a := range as {
		out = append(out, Address{IP: a.IP, Hostname: a.Hostname})
	}
	slices.SortFunc(out, func(a, b Address) int {
		if c := strings.Compare(a.IP, b.IP); c != 0 {
			return c
		}
		return strings.Compare(a.Hostname, b.Hostname)
	})
	return slices.CompactFunc(out, func(a, b Address) bool { return a.IP == b.IP && a.Hostname == b.Hostname })
}

// sameAddresses compares two status lists as sets of (ip, hostname); ports
// and other fields are not Portico's and do not count.
func sameAddresses(a, b []Address) bool {
	na, nb := normalize(a), normalize(b)
	return slices.EqualFunc(na, nb, func(x, y Address) bool { return x.IP == y.IP && x.Hostname == y.Hostname })
}

// StaticAddresses is --publish-status-address.
type StaticAddresses []Address

func (s StaticAddresses) Run(ctx context.Context, _ func()) { <-ctx.Done() }
func (s StaticAddresses) Addresses() ([]Address, bool)      { return s, true }

// ServiceAddresses is --publish-service: the load-balancer ingress of a
// Service, else its external IPs, else its cluster IP.
type ServiceAddresses struct {
	Client kubernetes.Interface
	Name   types.NamespacedName

	mu    sync.Mutex
	svc   *corev1.Service
	ready bool
}

func (s *ServiceAddresses) Run(ctx context.Context, changed func()) {
	// Watch just this one Service: a namespaced list/watch filtered by name.
	f := informers.NewSharedInformerFactoryWithOptions(s.Client, 0, informers.WithNamespace(s.Name.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", s.Name.Name).String()
		}))
	inf := f.Core().V1().Services().Informer()
	set := func(obj any) {
		svc, _ := obj.(*corev1.Service)
		s.mu.Lock()
		s.svc = svc
		s.mu.Unlock()
		changed()
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, cur any) { set(cur) },
		DeleteFunc: func(any) { set(nil) },
	})
	f.Start(ctx.Done())
	defer f.Shutdown()
	if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		s.mu.Lock()
		s.ready = true
		s.mu.Unlock()
		changed()
	}
	<-ctx.Done()
	s.mu.Lock()
	s.ready, s.svc = false, nil
	s.mu.Unlock()
}

func (s *ServiceAddresses) Addresses() ([]Address, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return nil, false
	}
	return serviceAddresses(s.svc), true
}

func serviceAddresses(svc *corev1.Service) []Address {
	if svc == nil {
		return nil
	}
	var out []Address
	for _, lb := range svc.Status.LoadBalancer.Ingress {
		out = append(out, Address{IP: lb.IP, Hostname: lb.Hostname})
	}
	if len(out) == 0 {
		for _, ip := range svc.Spec.ExternalIPs {
			out = append(out, toAddress(ip))
		}
	}
	if len(out) == 0 && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		out = append(out, Address{IP: svc.Spec.ClusterIP})
	}
	return normalize(out)
}

// NodeAddresses is the hostNetwork (DaemonSet) mode: the addresses of the
// nodes that run Portico pods. Portico's pods are found by the labels of its
// own pod (POD_NAMESPACE/POD_NAME), minus the labels a controller adds per
// revision; each node contributes its ExternalIP addresses, else its
// InternalIP addresses. Nodes are read with get, so no cluster-wide list or
// watch is needed, and re-read every Refresh in case their addresses change.
type NodeAddresses struct {
	Client         kubernetes.Interface
	Namespace, Pod string
	Refresh        time.Duration // default 1 minute
	Log            *slog.Logger

	mu    sync.Mutex
	addrs []Address
	ready bool
}

// revisionLabels differ between pods of one DaemonSet or Deployment.
var revisionLabels = []string{"pod-template-hash", "controller-revision-hash", "pod-template-generation"}

func (n *NodeAddresses) Run(ctx context.Context, changed func()) {
	if n.Log == nil {
		n.Log = slog.Default()
	}
	if n.Refresh <= 0 {
		n.Refresh = time.Minute
	}
	self, err := n.Client.CoreV1().Pods(n.Namespace).Get(ctx, n.Pod, metav1.GetOptions{})
	for err != nil {
		n.Log.Error("status: reading own pod for node addresses; retrying", "pod", n.Namespace+"/"+n.Pod, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.Refresh):
		}
		self, err = n.Client.CoreV1().Pods(n.Namespace).Get(ctx, n.Pod, metav1.GetOptions{})
	}
	sel := labels.Set{}
	for k, v := range self.Labels {
		if !slices.Contains(revisionLabels, k) {
			sel[k] = v
		}
	}
	if len(sel) == 0 { // no labels: only this pod is known to be Portico
		sel = nil
	}
	f := informers.NewSharedInformerFactoryWithOptions(n.Client, 0, informers.WithNamespace(n.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			if sel == nil {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", n.Pod).String()
			} else {
				o.LabelSelector = labels.SelectorFromSet(sel).String()
			}
		}))
	pods := f.Core().V1().Pods()
	kick := make(chan struct{}, 1)
	signal := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { signal() },
		UpdateFunc: func(any, any) { signal() },
		DeleteFunc: func(any) { signal() },
	})
	f.Start(ctx.Done())
	defer f.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), pods.Informer().HasSynced) {
		return
	}
	tick := time.NewTicker(n.Refresh)
	defer tick.Stop()
	for {
		n.update(ctx, pods.Lister().Pods(n.Namespace), changed)
		select {
		case <-ctx.Done():
			n.mu.Lock()
			n.ready, n.addrs = false, nil
			n.mu.Unlock()
			return
		case <-kick:
		case <-tick.C:
		}
	}
}

type podLister interface {
	List(labels.Selector) ([]*corev1.Pod, error)
}

func (n *NodeAddresses) update(ctx context.Context, pods podLister, changed func()) {
	list, err := pods.List(labels.Everything())
	if err != nil {
		return
	}
	nodes := map[string]bool{}
	for _, p := range list {
		if p.Spec.NodeName != "" && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			nodes[p.Spec.NodeName] = true
		}
	}
	var out []Address
	for name := range nodes {
		node, err := n.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			n.Log.Warn("status: reading node", "node", name, "err", err)
			continue
		}
		out = append(out, nodeAddresses(node)...)
	}
	out = normalize(out)
	n.mu.Lock()
	same := n.ready && sameAddresses(n.addrs, out)
	n.addrs, n.ready = out, true
	n.mu.Unlock()
	if !same {
		changed()
	}
}

func nodeAddresses(node *corev1.Node) []Address {
	var ext, internal []Address
	for _, a := range node.Status.Addresses {
		switch a.Type {
		case corev1.NodeExternalIP:
			ext = append(ext, Address{IP: a.Address})
		case corev1.NodeInternalIP:
			internal = append(internal, Address{IP: a.Address})
		}
	}
	if len(ext) > 0 {
		return ext
	}
	return internal
}

func (n *NodeAddresses) Addresses() ([]Address, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addrs, n.ready
}
