package controller

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

// canaryAnnotations are ingress-nginx's canary annotations. An Ingress
// with canary: "true" routes nothing of its own: each of its paths is
// merged, as a router.Canary, into the route of the main (non-canary)
// Ingress with the same host and path (mergeCanaries).
var canaryAnnotations = []annotationGroup{
	{names: []string{"canary", "canary-weight", "canary-weight-total", "canary-by-header",
		"canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie"}, nginx: true, parse: parseCanary},
}

// canaryOptions is a canary Ingress's rules; Backend is filled per path.
type canaryOptions struct{ rules router.Canary }

// maxCanaryTotal bounds canary-weight-total.
const maxCanaryTotal = 1 << 30

func parseCanary(a annotations, o *ingressOptions, bad badFunc) {
	enabled, _ := boolAnnotation(a, "canary", bad)
	c := router.Canary{Total: 100}
	if v, ok := a.get("canary-weight"); ok {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > maxCanaryTotal {
			bad("canary-weight", "want a whole number from 0")
		} else {
			c.Weight = uint32(n)
		}
	}
	if v, ok := a.get("canary-weight-total"); ok {
		// ingress-nginx (balancer.lua) draws out of 100 unless the total
		// is above 100.
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > maxCanaryTotal {
			bad("canary-weight-total", "want a whole number from 1")
		} else if n > 100 {
			c.Total = uint32(n)
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"canary-by-header", &c.Header}, {"canary-by-header-value", &c.HeaderValue}, {"canary-by-cookie", &c.Cookie}} {
		v, ok := a.get(f.name)
		if !ok {
			continue
		}
		if !basicChars(v) {
			bad(f.name, "want letters, digits, '-', '_', '.', '/' or '~'")
			continue
		}
		*f.dst = v
	}
	if c.Header != "" {
		c.Header = http.CanonicalHeaderKey(c.Header)
		if !validToken(c.Header) {
			bad("canary-by-header", "want a header name")
			c.Header = ""
		}
	}
	if v, ok := a.get("canary-by-header-pattern"); ok && v != "" {
		re, err := regexp.Compile(v)
		if err != nil || len(v) > 1024 {
			bad("canary-by-header-pattern", "want a regular expression (RE2 syntax)")
		} else {
			c.HeaderPattern = re
		}
	}
	if !enabled {
		// ingress-nginx: "configured but not enabled".
		// Only a rule that parsed is named: one problem per annotation.
		for _, r := range []struct {
			name string
			set  bool
		}{{"canary-weight", c.Weight > 0}, {"canary-by-header", c.Header != ""}, {"canary-by-header-value", c.HeaderValue != ""},
			{"canary-by-header-pattern", c.HeaderPattern != nil}, {"canary-by-cookie", c.Cookie != ""}} {
			if r.set {
				bad(r.name, `canary is not "true"; the canary rules are ignored`)
				break
			}
		}
		return
	}
	o.canary = &canaryOptions{rules: c}
}

// basicChars is ingress-nginx's BasicCharsRegex: ^[A-Za-z0-9\-_.~/]*$ (plus
// the empty value).
func basicChars(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/') {
			return false
		}
	}
	return len(s) <= 256
}

func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			return false
		}
	}
	return s != ""
}

// canaryPath is one path of a canary Ingress, waiting to be merged.
type canaryPath struct {
	ing        *networkingv1.Ingress
	host, path string
	canary     *router.Canary
}

// canaryRoutes records the paths of a canary Ingress instead of routing
// them; they are merged once every main Ingress is compiled.
func (c *compiler) canaryRoutes(ing *networkingv1.Ingress, co *canaryOptions) {
	if ing.Spec.DefaultBackend != nil {
		c.problem(ing, "UnsupportedAnnotation", "spec.defaultBackend of a canary Ingress is ignored: only its rules are merged into main Ingresses")
	}
	for i, rule := range ing.Spec.Rules {
		host := strings.ToLower(rule.Host)
		if msg := checkHost(host); msg != "" {
			c.problem(ing, "InvalidHost", fmt.Sprintf("spec.rules[%d].host: %s; rule ignored", i, msg))
			continue
		}
		if rule.HTTP == nil {
			continue
		}
		for j := range rule.HTTP.Paths {
			p := &rule.HTTP.Paths[j]
			where := fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j)
			if _, msg := checkPath(p); msg != "" {
				c.problem(ing, "InvalidPath", where+": "+msg+"; path ignored")
				continue
			}
			b, err := c.ingressBackend(ing.Namespace, &p.Backend)
			if err != nil {
				c.problem(ing, reasonOf(err), where+": "+err.Error()+"; path ignored")
				continue
			}
			c.checkEndpoints(ing, b)
			path := p.Path
			if path == "" {
				path = "/"
			}
			cn := co.rules
			cn.Backend = b
			c.canaries = append(c.canaries, canaryPath{ing: ing, host: host, path: path, canary: &cn})
		}
	}
}

// mergeCanaries puts each canary path on the main routes with the same
// host and path (any path type), as ingress-nginx does, and returns how
// many paths of each canary Ingress went live. A path with no main route
// is ignored (ingress-nginx logs and drops it); a main path takes one
// canary, the oldest (ingress-nginx uses the first alternative backend).
func (c *compiler) mergeCanaries(routes []router.Route) map[*networkingv1.Ingress]int {
	if len(c.canaries) == 0 {
		return nil
	}
	type hostPath struct{ host, path string }
	idx := make(map[hostPath][]int)
	for i := range routes {
		k := hostPath{routes[i].Host, routes[i].Path}
		idx[k] = append(idx[k], i)
	}
	live := make(map[*networkingv1.Ingress]int)
	taken := make(map[hostPath]string)
	for _, cp := range c.canaries {
		k := hostPath{cp.host, cp.path}
		main := idx[k]
		if len(main) == 0 {
			c.problem(cp.ing, "CanaryWithoutMain", fmt.Sprintf(
				"host %q path %q is ignored: no main (non-canary) Ingress routes it", cp.host, truncate(cp.path, 64)))
			continue
		}
		if src, ok := taken[k]; ok {
			c.problem(cp.ing, "CanaryConflict", fmt.Sprintf(
				"host %q path %q is ignored: the older canary Ingress %s already serves as its canary", cp.host, truncate(cp.path, 64), src))
			continue
		}
		taken[k] = cp.ing.Namespace + "/" + cp.ing.Name
		for _, i := range main {
			o := *routes[i].Options
			o.Canary = cp.canary
			// The canary is served from the main Ingress's location, with
			// its proxy-ssl-* settings (ingress-nginx), not unverified.
			if bt := c.proxyTLS[routes[i].Source]; bt != nil && cp.canary.Backend != nil {
				if b := withBackendTLS(cp.canary.Backend, bt, o.Protocol); b != cp.canary.Backend {
					cn := *cp.canary
					cn.Backend = b
					o.Canary = &cn
				}
			}
			routes[i].Options = &o
		}
		live[cp.ing]++
	}
	return live
}
