package controller

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

// sslPassthroughAnnotations is ingress-nginx ssl-passthrough (and
// portico.dev/ssl-passthrough): TLS connections for the Ingress's hosts
// are spliced by server name to the backend of the rule's "/" path,
// never terminated (the backend holds its own certificate). Needs
// --enable-ssl-passthrough, as in ingress-nginx. Plain HTTP requests of
// the host are routed as usual.
var sslPassthroughAnnotations = []annotationGroup{
	{names: []string{"ssl-passthrough"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		if b, ok := boolAnnotation(a, "ssl-passthrough", bad); ok {
			o.sslPassthrough = b
		}
	}},
}

// notePassthrough records the hosts of an Ingress with ssl-passthrough,
// each with the backend of its "/" path (ingress-nginx uses the root
// location's). The oldest Ingress of a host wins.
func (c *compiler) notePassthrough(ing *networkingv1.Ingress) {
	src := ing.Namespace + "/" + ing.Name
	if !c.passthroughOn {
		c.problem(ing, "InvalidAnnotation", "annotation ssl-passthrough needs --enable-ssl-passthrough; the Ingress's hosts are served by Portico's TLS")
		return
	}
	for _, r := range ing.Spec.Rules {
		host := strings.ToLower(r.Host)
		if host == "" {
			c.problem(ing, "InvalidAnnotation", "annotation ssl-passthrough: a rule without a host cannot be chosen by server name")
			continue
		}
		var root *networkingv1.HTTPIngressPath
		if r.HTTP != nil {
			for i := range r.HTTP.Paths {
				p := &r.HTTP.Paths[i]
				if p.Path == "/" && (p.PathType == nil || *p.PathType != networkingv1.PathTypeExact) {
					root = p
					break
				}
			}
		}
		if root == nil {
			c.problem(ing, "InvalidAnnotation", fmt.Sprintf("annotation ssl-passthrough: host %s has no path \"/\" to pass TLS through to", r.Host))
			continue
		}
		be, err := c.ingressBackend(ing.Namespace, &root.Backend)
		if err != nil {
			c.problem(ing, reasonOf(err), fmt.Sprintf("ssl-passthrough for host %s: %v", r.Host, err))
			continue
		}
		if c.passthrough == nil {
			c.passthrough = make(map[string]*router.Backend)
			c.passthroughSrc = make(map[string]string)
		}
		if first, taken := c.passthroughSrc[host]; taken {
			if first != src {
				c.problem(ing, "RuleConflict", fmt.Sprintf("ssl-passthrough for host %s is ignored: the older Ingress %s already passes it through", r.Host, first))
			}
			continue
		}
		c.passthrough[host], c.passthroughSrc[host] = be, src
	}
}

// passthroughOwners keeps a passthrough host only when its Ingress owns
// the host's "/" in the table (the oldest Ingress routing it, as
// ingress-nginx passes through to the server's root location): a newer
// Ingress cannot take over the TLS of a host another one serves.
func (c *compiler) passthroughOwners(routes []router.Route, bySource map[string]*networkingv1.Ingress) {
	if len(c.passthrough) == 0 {
		return
	}
	owner := map[string]string{}
	for i := range routes {
		r := &routes[i]
		if _, ok := c.passthrough[r.Host]; !ok || r.Path != "/" || r.Type != router.Prefix || !r.Conditions.Empty() {
			continue
		}
		if _, seen := owner[r.Host]; !seen {
			owner[r.Host] = r.Source
		}
	}
	for host, src := range c.passthroughSrc {
		if o := owner[host]; o != src {
			msg := fmt.Sprintf("ssl-passthrough for host %s is ignored: the older Ingress %s routes its \"/\"", host, o)
			if o == "" {
				msg = fmt.Sprintf("ssl-passthrough for host %s is ignored: its \"/\" is not a plain prefix route (use-regex?)", host)
			}
			c.problem(bySource[src], "RuleConflict", msg)
			delete(c.passthrough, host)
			delete(c.passthroughSrc, host)
		}
	}
}
