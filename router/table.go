package router

import (
	"iter"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
)

// Table is an immutable routing table. Build one with New, publish it with
// Live.Store, and read it with Match from any number of goroutines.
type Table struct {
	exact    map[string]*pathSet // "foo.com"
	wildcard map[string]*pathSet // "foo.com" for rules on "*.foo.com"
	anyHost  *pathSet            // rules without a host
	def      *Route              // default backend, may be nil
	routes   []*Route            // every live route, in build order
	// wildcardAnyDepth: "*.foo.com" covers any number of extra labels, the
	// most specific suffix winning (Gateway API); otherwise exactly one
	// (Ingress v1).
	wildcardAnyDepth bool
	// hostFallthrough: a request no rule of its most specific host level
	// matches tries the less specific levels before the default (Gateway
	// API); otherwise that level decides alone (Ingress).
	hostFallthrough bool
	// clientAuth: some route has client-certificate settings, so the
	// headers that carry their verdict upstream are Portico's on every
	// route (HasClientAuth).
	clientAuth bool
	// passthrough are the hosts whose TLS connections are spliced to a
	// backend unterminated (ingress-nginx ssl-passthrough), by name and,
	// for "*." hosts, by parent.
	passthrough, passthroughWild map[string]*Backend
}

// WithPassthrough gives the table the hosts whose TLS connections are
// passed through to a backend by server name (Passthrough).
func WithPassthrough(hosts map[string]*Backend) Option {
	return func(t *Table) {
		for h, b := range hosts {
			m := &t.passthrough
			if p, ok := strings.CutPrefix(h, "*."); ok {
				m, h = &t.passthroughWild, p
			}
			if *m == nil {
				*m = make(map[string]*Backend)
			}
			(*m)[h] = b
		}
	}
}

// Passthrough returns the backend a TLS connection for serverName (lower
// case) is spliced to: an exact host, else a "*." host one label up
// unless the name has rules of its own (an exact host beats a wildcard,
// as in routing); nil when the connection is Portico's to terminate.
func (t *Table) Passthrough(serverName string) *Backend {
	if t == nil || t.passthrough == nil && t.passthroughWild == nil {
		return nil
	}
	if b := t.passthrough[serverName]; b != nil {
		return b
	}
	if _, parent, ok := strings.Cut(serverName, "."); ok && parent != "" {
		if t.exact[serverName] != nil {
			return nil // a host with rules of its own is not the wildcard's
		}
		return t.passthroughWild[parent]
	}
	return nil
}

// HasClientAuth reports whether some route of t has client-certificate
// settings (Options.ClientAuth).
func (t *Table) HasClientAuth() bool { return t != nil && t.clientAuth }

// pathSet holds the paths of one host. Each path maps to its candidates,
// most specific conditions first (see precedes); Ingress rules have one
// candidate per path.
type pathSet struct {
	exact  map[string][]*Route
	prefix map[string][]*Route // keyed without the trailing slash: "/foo/" and "/foo" are one rule, "/" is ""
	regex  []*Route            // in the order given to New, then by precedes; RegexPrefix longest first
	// Bounds that let Match skip lookups that cannot hit.
	exactMaxLen int // longest Exact path
	prefixDepth int // most segments in a Prefix key ("" 0, "/a" 1, "/a/b" 2)
	// def, when set, answers for the table's default backend on this
	// host: a copy with the host's client-certificate settings, which
	// hold for every request of the host (nginx checks them per server).
	def        *Route
	clientAuth *ClientAuth // of the host's first route that has any
}

// orDefault is the host's default route: its own copy, else the table's.
func (ps *pathSet) orDefault(def *Route) *Route {
	if ps.def != nil {
		return ps.def
	}
	return def
}

// hostDefault gives ps its copy of the default route when its host has
// client-certificate settings.
func (ps *pathSet) hostDefault(def *Route, host string) {
	if def == nil || ps.clientAuth == nil {
		return
	}
	cp, o := *def, *def.Options
	o.ClientAuth = ps.clientAuth
	cp.Options, cp.Host = &o, host
	ps.def = &cp
}

// Conflict is a rule that lost to an earlier one with the same host, path,
// path type and conditions (or a second default backend).
type Conflict struct {
	Winner, Loser *Route
}

// Option changes how New builds a table.
type Option func(*Table)

// WildcardAnyDepth makes "*.foo.com" cover "a.foo.com" and "a.b.foo.com",
// the longest matching suffix winning, as Gateway API hostnames do. Without
// it a wildcard covers exactly one extra label, as in Ingress v1.
func WildcardAnyDepth() Option { return func(t *Table) { t.wildcardAnyDepth = true } }

// HostFallthrough lets a request that no rule of its most specific host
// matches go on to less specific hosts: the covering wildcards (the longest
// first, every depth with WildcardAnyDepth), then the rules without a host,
// and only then the default backend. The Gateway API orders "across all
// rules specified on applicable Routes" (HTTPRoute rules, v1.6), and when
// routes' hostnames intersect, "precedence must be given to rules from the
// HTTPRoute with the largest number of: Characters in a matching
// non-wildcard hostname. Characters in a matching hostname." (HTTPRouteSpec
// hostnames): specificity orders the rules, it does not hide the less
// specific ones. Without it a host level decides alone, as for Ingress.
func HostFallthrough() Option { return func(t *Table) { t.hostFallthrough = true } }

// New compiles routes into a Table. Routes are taken in priority order: when
// two have the same host, path, type and conditions, the first wins and the
// second is reported as a Conflict; among routes that share a host and path
// but not conditions, the order given breaks the ties precedes leaves. The
// caller orders them (the Ingress translator: oldest Ingress first; the
// Gateway API one: oldest route, then namespace/name, then rule order).
// def, if not nil, answers requests that match no rule. Hosts must already
// be lower-case; the translators validate them.
func New(routes []Route, def *Route, opts ...Option) (*Table, []Conflict) {
	t := &Table{
		exact:    make(map[string]*pathSet),
		wildcard: make(map[string]*pathSet),
		def:      fill(def),
		routes:   make([]*Route, 0, len(routes)),
	}
	for _, o := range opts {
		o(t)
	}
	var conflicts []Conflict
	for i := range routes {
		r := fill(&routes[i])
		ps := t.pathsFor(r.Host)
		var list []*Route
		key := r.Path
		switch r.Type {
		case Regex, RegexPrefix:
			list = ps.regex
		case Prefix:
			key = strings.TrimRight(r.Path, "/")
			list = ps.prefix[key]
		default:
			list = ps.exact[key]
		}
		if w := sameRule(list, r); w != nil {
			conflicts = append(conflicts, Conflict{Winner: w, Loser: r})
			continue
		}
		if r.Type == RegexPrefix {
			list = insertLongestFirst(list, r)
		} else {
			list = insert(list, r)
		}
		switch r.Type {
		case Regex, RegexPrefix:
			ps.regex = list
		case Prefix:
			ps.prefixMap()[key] = list
			ps.prefixDepth = max(ps.prefixDepth, strings.Count(key, "/"))
		default:
			ps.exactMap()[key] = list
			ps.exactMaxLen = max(ps.exactMaxLen, len(key))
		}
		t.routes = append(t.routes, r)
		if a := r.Options.ClientAuth; a != nil {
			t.clientAuth = true
			if ps.clientAuth == nil {
				ps.clientAuth = a
			}
		}
	}
	for h, ps := range t.exact {
		ps.hostDefault(t.def, h)
	}
	for h, ps := range t.wildcard {
		ps.hostDefault(t.def, "*."+h)
	}
	if t.anyHost != nil {
		t.anyHost.hostDefault(t.def, "")
	}
	return t, conflicts
}

// sameRule returns the route in list that makes r unreachable: same path
// (same regex for Regex routes) and the same conditions.
func sameRule(list []*Route, r *Route) *Route {
	for _, w := range list {
		if (!r.Type.isRegex() || w.Path == r.Path) && sameConditions(&w.Conditions, &r.Conditions) {
			return w
		}
	}
	return nil
}

// insert puts r after every candidate that precedes it or ties with it.
func insert(list []*Route, r *Route) []*Route {
	i := len(list)
	for i > 0 && precedes(&r.Conditions, &list[i-1].Conditions) {
		i--
	}
	return slices.Insert(list, i, r)
}

func fill(r *Route) *Route {
	if r != nil && r.Options == nil {
		r.Options = DefaultOptions
	}
	return r
}

func (t *Table) pathsFor(host string) *pathSet {
	var m map[string]*pathSet
	switch {
	case host == "":
		if t.anyHost == nil {
			t.anyHost = newPathSet()
		}
		return t.anyHost
	case strings.HasPrefix(host, "*."):
		m, host = t.wildcard, host[2:]
	default:
		m = t.exact
	}
	ps := m[host]
	if ps == nil {
		ps = newPathSet()
		m[host] = ps
	}
	return ps
}

func newPathSet() *pathSet { return &pathSet{} }

// exactMap and prefixMap make a host's maps on first use: most hosts have
// only one kind of rule, and reading a nil map is fine.
func (ps *pathSet) exactMap() map[string][]*Route {
	if ps.exact == nil {
		ps.exact = make(map[string][]*Route)
	}
	return ps.exact
}

func (ps *pathSet) prefixMap() map[string][]*Route {
	if ps.prefix == nil {
		ps.prefix = make(map[string][]*Route)
	}
	return ps.prefix
}

// Routes returns every live route (not the default backend), sorted by host,
// then path, then type. The slice is a copy; the routes are shared and must
// not be modified.
func (t *Table) Routes() []*Route {
	out := append([]*Route(nil), t.routes...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Type > b.Type
	})
	return out
}

// Backends yields the backend of every route and of the default backend,
// in no order; a backend several routes share comes once per route.
func (t *Table) Backends() iter.Seq[*Backend] {
	return func(yield func(*Backend) bool) {
		for _, r := range t.routes {
			if r.Backend != nil && !yield(r.Backend) {
				return
			}
			for _, wb := range r.Backends {
				if wb.Backend != nil && !yield(wb.Backend) {
					return
				}
			}
		}
		if t.def != nil && t.def.Backend != nil {
			yield(t.def.Backend)
		}
	}
}

// Default returns the default backend route, or nil.
func (t *Table) Default() *Route { return t.def }

// Len is the number of live routes.
func (t *Table) Len() int { return len(t.routes) }

// Live holds the table in force. Store swaps in a new one atomically;
// requests that already loaded the old one finish with it.
type Live struct {
	p atomic.Pointer[Table]
}

var emptyTable, _ = New(nil, nil)

// Load returns the current table; before the first Store, an empty one.
func (l *Live) Load() *Table {
	if t := l.p.Load(); t != nil {
		return t
	}
	return emptyTable
}

// Store makes t the table in force.
func (l *Live) Store(t *Table) { l.p.Store(t) }

// Ready reports whether a table was ever stored.
func (l *Live) Ready() bool { return l.p.Load() != nil }
