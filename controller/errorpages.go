package controller

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"portico.dev/portico/router"
)

// errorPageAnnotations: ingress-nginx custom-http-errors, default-backend
// and disable-proxy-intercept-errors.
var errorPageAnnotations = []annotationGroup{
	{names: []string{"custom-http-errors", "default-backend", "disable-proxy-intercept-errors"}, nginx: true,
		parse: func(a annotations, o *ingressOptions, bad badFunc) {
			e := &errorPageOptions{}
			if val, ok := a.get("custom-http-errors"); ok {
				codes, err := parseErrorCodes(val)
				if err != nil {
					bad("custom-http-errors", err.Error())
				}
				e.codes = codes
			}
			if val, ok := a.get("default-backend"); ok {
				if msgs := validation.IsDNS1035Label(val); len(msgs) > 0 {
					bad("default-backend", "want the name of a Service in the Ingress's namespace")
				} else {
					e.backend = val
				}
			}
			if b, ok := boolAnnotation(a, "disable-proxy-intercept-errors", bad); ok {
				e.noIntercept = b
			}
			if len(e.codes) > 0 || e.backend != "" {
				o.errorPages = e
			}
		}},
}

// errorPageOptions is what the annotations say; compile resolves the
// Service.
type errorPageOptions struct {
	codes       []int
	backend     string // default-backend: a Service name, "" for none
	noIntercept bool
}

// parseErrorCodes reads "404,503" (spaces allowed): statuses 400 to 599,
// as ingress-nginx's validation (^(?:[4,5]\d{2},?)*$) allows; any bad one
// makes the whole list invalid, as there.
func parseErrorCodes(s string) ([]int, error) {
	var codes []int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 400 || n > 599 || len(part) != 3 {
			return nil, fmt.Errorf("want a comma-separated list of status codes from 400 to 599")
		}
		if !slices.Contains(codes, n) {
			codes = append(codes, n)
		}
	}
	return codes, nil
}

// errorPages resolves an Ingress's error pages: the default-backend
// Service on its first port (as ingress-nginx), or else, for
// custom-http-errors, --default-backend-service.
func (c *compiler) errorPages(ing *networkingv1.Ingress, e *errorPageOptions) *router.ErrorPages {
	ep := &router.ErrorPages{Codes: e.codes, Intercept: !e.noIntercept}
	switch {
	case e.backend != "":
		k := types.NamespacedName{Namespace: ing.Namespace, Name: e.backend}
		svc := c.snap.Services[k]
		if svc == nil || len(svc.Spec.Ports) == 0 {
			c.problem(ing, "ServiceNotFound", fmt.Sprintf("annotation default-backend: no Service %s with a port; not used", k))
			break
		}
		b, err := c.backend(backendKey{ns: k.Namespace, name: k.Name, portNum: svc.Spec.Ports[0].Port})
		if err != nil {
			c.problem(ing, reasonOf(err), "annotation default-backend: "+err.Error()+"; not used")
			break
		}
		ep.Backend, ep.NoEndpoints = b, true
	case c.defaultRef != nil:
		if b, err := c.backend(keyOf(c.defaultRef.Namespace, c.defaultRef.Name, c.defaultRef.Port)); err == nil {
			ep.Backend = b
		}
	}
	if len(ep.Codes) == 0 && ep.Backend == nil {
		return nil
	}
	return ep
}

// missingBackend stands in for a path's backend that cannot be resolved
// when the Ingress has a default-backend: ingress-nginx sends such paths
// to it (X-Code 503), so the path is kept with a backend without
// endpoints. nil when there is no default backend to serve it.
func missingBackend(o *router.Options, ns string, b *networkingv1.IngressBackend) *router.Backend {
	if e := o.ErrorPages; e == nil || !e.NoEndpoints || e.Backend == nil || b.Service == nil {
		return nil
	}
	port := b.Service.Port.Name
	if port == "" {
		port = strconv.Itoa(int(b.Service.Port.Number))
	}
	return &router.Backend{ID: ns + "/" + b.Service.Name + ":" + port, Namespace: ns, Service: b.Service.Name, Port: port}
}
