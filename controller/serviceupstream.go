package controller

import (
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/router"
)

// serviceUpstreamAnnotations: ingress-nginx service-upstream, proxying to
// the Service's cluster IP and port instead of its endpoints.
var serviceUpstreamAnnotations = []annotationGroup{
	{names: []string{"service-upstream"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		if b, ok := boolAnnotation(a, "service-upstream", bad); ok {
			o.serviceUpstream = b
		}
	}},
}

// clusterIPBackend is b with the Service's cluster IP and port as its one
// endpoint, so that kube-proxy (or whatever implements Services) balances.
// A Service without a cluster IP (headless) keeps its endpoints, reported,
// as ingress-nginx does.
func (c *compiler) clusterIPBackend(ing *networkingv1.Ingress, b *router.Backend) *router.Backend {
	k := types.NamespacedName{Namespace: b.Namespace, Name: b.Service}
	if cb := c.clusterBackends[k.String()+":"+b.Port]; cb != nil {
		return cb
	}
	svc := c.snap.Services[k]
	if svc == nil {
		return b
	}
	ip := svc.Spec.ClusterIP
	sp, ok := servicePort(svc, b.Port)
	if !ok || ip == "" || ip == corev1.ClusterIPNone || net.ParseIP(ip) == nil {
		c.problem(ing, "ServiceUpstreamUnavailable", fmt.Sprintf(
			"annotation service-upstream: Service %s has no cluster IP; its endpoints are used", k))
		return b
	}
	cb := &router.Backend{ID: b.ID + "@cluster-ip", Namespace: b.Namespace, Service: b.Service, Port: b.Port,
		Endpoints: []string{net.JoinHostPort(ip, strconv.Itoa(int(sp.Port)))}, Protocol: b.Protocol, TLS: b.TLS}
	if c.clusterBackends == nil {
		c.clusterBackends = make(map[string]*router.Backend)
	}
	c.clusterBackends[k.String()+":"+b.Port] = cb
	return cb
}
