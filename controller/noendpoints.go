package controller

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

// emptyKey is one Ingress using one backend: a Service without endpoints is
// reported once per Ingress that routes to it, however many paths do.
type emptyKey struct {
	ing *networkingv1.Ingress
	be  *router.Backend
}

// checkEndpoints reports a backend with no endpoint to send traffic to. The
// route stays live (its requests get 503, and the first ready endpoint is
// used as soon as the Service has one), so the user needs to be told why.
func (c *compiler) checkEndpoints(ing *networkingv1.Ingress, b *router.Backend) {
	if len(b.Endpoints) > 0 {
		return
	}
	k := emptyKey{ing, b}
	if c.emptyReported[k] {
		return
	}
	if c.emptyReported == nil {
		c.emptyReported = make(map[emptyKey]bool)
	}
	c.emptyReported[k] = true
	c.problem(ing, "NoEndpoints", fmt.Sprintf(
		"Service %s/%s port %s has no ready endpoints; its routes answer 503 until one is ready", b.Namespace, b.Service, b.Port))
}
