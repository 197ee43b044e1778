package gateway

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/router"
)

// translator holds one run of Translate.
type translator struct {
	snap   *Snapshot
	cfg    Config
	now    time.Time
	stamp  metav1.Time
	grants grants
	res    *Result

	classes  map[string]bool // accepted GatewayClasses
	gateways []*gatewayState // oldest first
	byKey    map[types.NamespacedName]*gatewayState
	sets     []*listenerSetState // ListenerSets whose parent is one of gateways
	setByKey map[types.NamespacedName]*listenerSetState
	backends map[string]*router.Backend // by ID: one per Service port per build

	policies        []*policyState                  // BackendTLSPolicies, oldest first
	byTarget        map[policyTarget][]*policyState // the policies selecting a target, winner first
	backendPolicies map[string][]*policyState       // by backend ID: the policies selecting it
	clientBackends  map[string]*router.Backend      // backends with a Gateway's client certificate
}

func translate(s *Snapshot, cfg Config) *Result {
	now := time.Now()
	if cfg.Now != nil {
		now = cfg.Now()
	}
	t := &translator{
		snap: s, cfg: cfg, now: now, stamp: metav1.NewTime(now.Truncate(time.Second)),
		grants:          newGrants(s.ReferenceGrants),
		classes:         make(map[string]bool),
		byKey:           make(map[types.NamespacedName]*gatewayState),
		setByKey:        make(map[types.NamespacedName]*listenerSetState),
		backends:        make(map[string]*router.Backend),
		byTarget:        make(map[policyTarget][]*policyState),
		backendPolicies: make(map[string][]*policyState),
		clientBackends:  make(map[string]*router.Backend),
		res: &Result{Status: Status{
			Classes:            make(map[string]*gwv1.GatewayClassStatus),
			Gateways:           make(map[types.NamespacedName]*gwv1.GatewayStatus),
			ListenerSets:       make(map[types.NamespacedName]*gwv1.ListenerSetStatus),
			HTTPRoutes:         make(map[types.NamespacedName][]gwv1.RouteParentStatus),
			BackendTLSPolicies: make(map[types.NamespacedName][]gwv1.PolicyAncestorStatus),
		}},
	}
	t.checkClasses()
	t.checkGateways()
	t.checkPolicies()
	for _, hr := range sortedRoutes(s.HTTPRoutes) {
		t.httpRoute(hr)
	}
	for _, g := range t.gateways {
		t.res.Status.Gateways[g.key] = g.status(t.stamp)
		if !g.resolved.ok() {
			t.problem("Gateway", g.gw.Namespace, g.gw.Name, g.resolved.reason, g.resolved.msg)
		}
		for _, l := range g.listeners {
			if !l.accepted.ok() || !l.conflicted.ok() || !l.resolved.ok() {
				t.problem("Gateway", g.gw.Namespace, g.gw.Name, firstReason(l), "listener "+string(l.spec.Name)+": "+l.invalidMessage())
			}
		}
	}
	for _, set := range t.sets {
		t.res.Status.ListenerSets[set.key] = set.status(t.stamp)
		for _, l := range set.listeners {
			if !l.accepted.ok() || !l.conflicted.ok() || !l.resolved.ok() {
				t.problem("ListenerSet", set.key.Namespace, set.key.Name, firstReason(l), "listener "+string(l.spec.Name)+": "+l.invalidMessage())
			}
		}
	}
	t.policyStatus()
	t.res.Ports = t.ports()
	t.res.Services = t.services()
	return t.res
}

func firstReason(l *listenerState) string {
	for _, i := range []issue{l.accepted, l.conflicted, l.resolved} {
		if !i.ok() {
			return i.reason
		}
	}
	return ""
}

func (t *translator) problem(kind, ns, name, reason, msg string) {
	t.res.Problems = append(t.res.Problems, Problem{Kind: kind, Namespace: ns, Name: name, Reason: reason, Message: msg})
}

// sortedGateways and sortedRoutes order objects as the spec breaks ties:
// "the oldest Route based on creation timestamp", then "alphabetical
// order by {namespace}/{name}".
func sortedRoutes(in []*gwv1.HTTPRoute) []*gwv1.HTTPRoute {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b *gwv1.HTTPRoute) int {
		return cmpObjects(a.CreationTimestamp, b.CreationTimestamp, a.Namespace, b.Namespace, a.Name, b.Name)
	})
	return out
}

func sortedListenerSets(in []*gwv1.ListenerSet) []*gwv1.ListenerSet {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b *gwv1.ListenerSet) int {
		return cmpObjects(a.CreationTimestamp, b.CreationTimestamp, a.Namespace, b.Namespace, a.Name, b.Name)
	})
	return out
}

func sortedGateways(in []*gwv1.Gateway) []*gwv1.Gateway {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b *gwv1.Gateway) int {
		return cmpObjects(a.CreationTimestamp, b.CreationTimestamp, a.Namespace, b.Namespace, a.Name, b.Name)
	})
	return out
}

func cmpObjects(ta, tb metav1.Time, nsa, nsb, na, nb string) int {
	if c := ta.Compare(tb.Time); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(nsa, nsb), cmp.Compare(na, nb))
}

// ports groups the served listeners by address and port. Listeners of
// different Gateways that share an address (the published one) are merged;
// when two of them want one port with different protocols, or the same
// hostname, the older Gateway's listener keeps it.
func (t *translator) ports() []Port {
	type key = netip.AddrPort
	byAddr := make(map[key]*Port)
	for _, g := range t.gateways {
		for _, l := range g.allListeners() {
			if !l.served() {
				continue
			}
			table, conflicts := router.New(l.routes, nil, tableOptions...)
			for _, c := range conflicts {
				kind, ns, name := splitSource(c.Loser.Source)
				t.problem(kind, ns, name, "RuleConflict", "a rule with the same host, path and matches is already served by "+c.Winner.Source)
			}
			for _, a := range g.addrs {
				k := netip.AddrPortFrom(a, uint16(l.spec.Port))
				p := byAddr[k]
				proto := HTTP
				if l.spec.Protocol == gwv1.HTTPSProtocolType {
					proto = HTTPS
				}
				if p == nil {
					p = &Port{Addr: k, Protocol: proto, ClientValidation: l.client}
					byAddr[k] = p
				} else if p.Protocol != proto || hasHostname(p.Listeners, l.hostname) {
					t.problem("Gateway", g.gw.Namespace, g.gw.Name, string(gwv1.ListenerReasonProtocolConflict),
						"listener "+string(l.spec.Name)+": "+k.String()+" is already served by an older Gateway's listener")
					continue
				}
				ln := Listener{
					Gateway: g.key, Name: string(l.spec.Name), Hostname: l.hostname,
					Table: table, Certificates: l.certs,
				}
				if l.set != nil {
					ln.ListenerSet = l.set.key
				}
				p.Listeners = append(p.Listeners, ln)
			}
		}
	}
	out := make([]Port, 0, len(byAddr))
	for _, p := range byAddr {
		slices.SortStableFunc(p.Listeners, func(a, b Listener) int { return compareSpecificity(a.Hostname, b.Hostname) })
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Port) int { return a.Addr.Compare(b.Addr) })
	return out
}

// tableOptions: Gateway hostnames cover any depth of labels, and a request
// goes on to less specific hostnames when no rule of its own matches
// (precedence is across all rules of a listener).
var tableOptions = []router.Option{router.WildcardAnyDepth(), router.HostFallthrough()}

func hasHostname(ls []Listener, h string) bool {
	for _, l := range ls {
		if l.Hostname == h {
			return true
		}
	}
	return false
}

// compareSpecificity orders hostnames most specific first: exact names,
// then wildcards with the longest suffix, then "" (any host).
func compareSpecificity(a, b string) int {
	rank := func(h string) (int, int) {
		switch {
		case h == "":
			return 2, 0
		case h[0] == '*':
			return 1, -len(h)
		}
		return 0, -len(h)
	}
	ra, la := rank(a)
	rb, lb := rank(b)
	return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(la, lb), cmp.Compare(a, b))
}

// splitSource reads back a route's Source, "HTTPRoute namespace/name".
func splitSource(s string) (kind, ns, name string) {
	kind, nn, _ := strings.Cut(s, " ")
	ns, name, _ = strings.Cut(nn, "/")
	return kind, ns, name
}
