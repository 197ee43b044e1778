package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/router"
)

// httpRoute translates one HTTPRoute: its status entry per parentRef of
// ours, and its rules on every listener it attached to.
func (t *translator) httpRoute(hr *gwv1.HTTPRoute) {
	key := types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name}
	source := "HTTPRoute " + key.String()
	var entries []gwv1.RouteParentStatus
	var rules []compiledRule
	var refs, invalid issue
	compiled := false
	seen := map[*listenerState]bool{}
	for _, pr := range hr.Spec.ParentRefs {
		a, ours := t.attach(pr, "HTTPRoute", hr.Namespace, hr.Spec.Hostnames)
		if !ours {
			continue
		}
		if !compiled {
			rules, refs, invalid = t.httpRules(hr)
			compiled = true
		}
		if len(rules) == 0 && !invalid.ok() {
			// Nothing valid is left: the route is not accepted at all.
			a = attachment{problem: invalid}
		}
		entries = append(entries, t.parentStatus(pr, a, refs, invalid, hr.Generation))
		if !a.problem.ok() {
			t.problem("HTTPRoute", hr.Namespace, hr.Name, a.problem.reason, a.problem.msg)
			continue
		}
		for i, l := range a.listeners {
			if seen[l] {
				continue // two parentRefs reach one listener: attached once
			}
			seen[l] = true
			l.attached++
			for _, host := range a.hosts[i] {
				for _, r := range rules {
					rt := r.route
					rt.Backends = t.forGateway(l.gw, rt.Backends)
					rt.Host = host
					rt.Source = source
					l.routes = append(l.routes, rt)
				}
			}
		}
	}
	if !compiled {
		return
	}
	if !refs.ok() {
		t.problem("HTTPRoute", hr.Namespace, hr.Name, refs.reason, refs.msg)
	}
	if !invalid.ok() {
		t.problem("HTTPRoute", hr.Namespace, hr.Name, invalid.reason, invalid.msg)
	}
	t.res.Status.HTTPRoutes[key] = entries
}

// compiledRule is one match of one rule, host left empty.
type compiledRule struct {
	route router.Route
}

// httpRules compiles a route's rules: one router.Route per match (a rule
// without matches matches every request: PathPrefix "/"). refs is the
// first reference that did not resolve; invalid the first match Portico
// cannot serve (an invalid regular expression): that match is dropped and
// the route is partially invalid.
func (t *translator) httpRules(hr *gwv1.HTTPRoute) (out []compiledRule, refs, invalid issue) {
	for ri := range hr.Spec.Rules {
		rule := &hr.Spec.Rules[ri]
		filters, opts, bad := t.httpFilters(rule.Filters, hr.Namespace, true)
		if !bad.ok() {
			refs.set(bad.reason, bad.msg)
		}
		var backends []router.WeightedBackend
		for _, br := range rule.BackendRefs {
			w := uint32(1)
			if br.Weight != nil {
				w = uint32(max(*br.Weight, 0))
			}
			b, bad := t.backend(br.BackendObjectReference, "HTTPRoute", hr.Namespace)
			if !bad.ok() {
				refs.set(bad.reason, bad.msg)
			}
			wb := router.WeightedBackend{Backend: b, Weight: w}
			if len(br.Filters) > 0 {
				bf, _, bad := t.httpFilters(br.Filters, hr.Namespace, false)
				if !bad.ok() {
					refs.set(bad.reason, bad.msg)
				}
				wb.Filters = bf
			}
			backends = append(backends, wb)
		}
		if len(backends) == 0 && (filters == nil || filters.Redirect == nil) {
			// "If no backendRefs or filters are specified that would result
			// in a response being sent, a HTTP 500 status code MUST be
			// returned."
			backends = []router.WeightedBackend{{Weight: 1}}
		}
		// An invalid duration (the CRD's pattern should refuse it) drops
		// the rule, like an invalid match.
		if rule.Timeouts != nil {
			var bad issue
			if opts, bad = timeouts(rule.Timeouts, opts); !bad.ok() {
				invalid.set(bad.reason, fmt.Sprintf("rule %d: %s", ri, bad.msg))
				continue
			}
		}
		if rule.Retry != nil {
			var bad issue
			if opts, bad = retry(rule.Retry, opts); !bad.ok() {
				invalid.set(bad.reason, fmt.Sprintf("rule %d: %s", ri, bad.msg))
				continue
			}
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gwv1.HTTPRouteMatch{{}}
		}
		for _, m := range matches {
			rt, err := httpMatch(m)
			if err != nil {
				invalid.set(string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("rule %d: %v", ri, err))
				continue
			}
			rt.Backends = backends
			rt.Filters = filters
			rt.Options = opts
			out = append(out, compiledRule{route: rt})
		}
	}
	return out, refs, invalid
}

// httpMatch turns one HTTPRouteMatch into a route without host.
func httpMatch(m gwv1.HTTPRouteMatch) (router.Route, error) {
	rt := router.Route{Path: "/", Type: router.Prefix}
	if p := m.Path; p != nil {
		if p.Value != nil {
			rt.Path = *p.Value
		}
		typ := gwv1.PathMatchPathPrefix
		if p.Type != nil {
			typ = *p.Type
		}
		switch typ {
		case gwv1.PathMatchExact:
			rt.Type = router.Exact
		case gwv1.PathMatchPathPrefix:
			rt.Type = router.Prefix
		case gwv1.PathMatchRegularExpression:
			re, err := router.CompileAnchored(rt.Path)
			if err != nil {
				return rt, fmt.Errorf("path %q: %v", rt.Path, err)
			}
			rt.Type, rt.PathRegex = router.Regex, re
		default:
			return rt, fmt.Errorf("path match type %q is not supported", typ)
		}
	}
	if m.Method != nil {
		rt.Conditions.Method = string(*m.Method)
	}
	// "If multiple entries specify equivalent header names, only the first
	// entry with an equivalent name MUST be considered."
	seen := map[string]bool{}
	for _, h := range m.Headers {
		name := http.CanonicalHeaderKey(string(h.Name))
		if seen[name] {
			continue
		}
		seen[name] = true
		hm := router.HeaderMatch{Name: name, Value: h.Value}
		if h.Type != nil && *h.Type == gwv1.HeaderMatchRegularExpression {
			hm.Type = router.MatchRegex
		}
		rt.Conditions.Headers = append(rt.Conditions.Headers, hm)
	}
	seenQ := map[string]bool{}
	for _, q := range m.QueryParams {
		if seenQ[string(q.Name)] {
			continue
		}
		seenQ[string(q.Name)] = true
		qm := router.QueryMatch{Name: string(q.Name), Value: q.Value}
		if q.Type != nil && *q.Type == gwv1.QueryParamMatchRegularExpression {
			qm.Type = router.MatchRegex
		}
		rt.Conditions.Query = append(rt.Conditions.Query, qm)
	}
	if err := rt.Conditions.Compile(); err != nil {
		return rt, err
	}
	return rt, nil
}

// httpFilters compiles a rule's filters, or (rule false) a backendRef's,
// where RequestMirror and CORS are not supported ("Implementation-specific";
// the rule's filters are the place for them).
func (t *translator) httpFilters(fs []gwv1.HTTPRouteFilter, ns string, rule bool) (*router.Filters, *router.Options, issue) {
	var bad issue
	opts := router.DefaultOptions
	if len(fs) == 0 {
		return nil, opts, bad
	}
	f := &router.Filters{}
	for _, hf := range fs {
		switch hf.Type {
		case gwv1.HTTPRouteFilterRequestHeaderModifier:
			if hf.RequestHeaderModifier != nil {
				f.RequestHeaders = headerEdits(hf.RequestHeaderModifier)
			}
		case gwv1.HTTPRouteFilterResponseHeaderModifier:
			if hf.ResponseHeaderModifier != nil {
				f.ResponseHeaders = headerEdits(hf.ResponseHeaderModifier)
			}
		case gwv1.HTTPRouteFilterRequestRedirect:
			if r := hf.RequestRedirect; r != nil {
				rd := &router.Redirect{}
				if r.Scheme != nil {
					rd.Scheme = strings.ToLower(*r.Scheme)
				}
				if r.Hostname != nil {
					rd.Hostname = string(*r.Hostname)
				}
				if r.Port != nil {
					rd.Port = int(*r.Port)
				}
				if r.StatusCode != nil {
					rd.Status = *r.StatusCode
				}
				rd.Path = pathModifier(r.Path)
				f.Redirect = rd
			}
		case gwv1.HTTPRouteFilterURLRewrite:
			if r := hf.URLRewrite; r != nil {
				rw := &router.Rewrite{Path: pathModifier(r.Path)}
				if r.Hostname != nil {
					rw.Hostname = string(*r.Hostname)
				}
				f.Rewrite = rw
			}
		case gwv1.HTTPRouteFilterRequestMirror:
			if hf.RequestMirror == nil {
				continue
			}
			if !rule {
				bad.set(string(gwv1.RouteReasonUnsupportedValue), "a RequestMirror filter is supported on a rule, not on a backendRef")
				continue
			}
			m, ok, mbad := t.requestMirror(hf.RequestMirror, ns)
			if !mbad.ok() {
				bad.set(mbad.reason, "requestMirror "+mbad.msg)
			}
			if ok {
				f.Mirrors = append(f.Mirrors, m)
			}
		case gwv1.HTTPRouteFilterCORS:
			if hf.CORS == nil {
				continue
			}
			if !rule {
				bad.set(string(gwv1.RouteReasonUnsupportedValue), "a CORS filter is supported on a rule, not on a backendRef")
				continue
			}
			f.CORS = corsFilter(hf.CORS)
		default:
			bad.set(string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("filter type %q is not supported", hf.Type))
		}
	}
	return f, opts, bad
}

func headerEdits(m *gwv1.HTTPHeaderFilter) router.HeaderEdits {
	var e router.HeaderEdits
	for _, h := range m.Set {
		e.Set = append(e.Set, router.HeaderField{Name: string(h.Name), Value: h.Value})
	}
	for _, h := range m.Add {
		e.Add = append(e.Add, router.HeaderField{Name: string(h.Name), Value: h.Value})
	}
	e.Remove = append(e.Remove, m.Remove...)
	return e
}

func pathModifier(p *gwv1.HTTPPathModifier) *router.PathRewrite {
	if p == nil {
		return nil
	}
	switch p.Type {
	case gwv1.FullPathHTTPPathModifier:
		if p.ReplaceFullPath != nil {
			return &router.PathRewrite{Type: router.ReplaceFullPath, Value: *p.ReplaceFullPath}
		}
	case gwv1.PrefixMatchHTTPPathModifier:
		if p.ReplacePrefixMatch != nil {
			return &router.PathRewrite{Type: router.ReplacePrefixMatch, Value: *p.ReplacePrefixMatch}
		}
	}
	return nil
}
