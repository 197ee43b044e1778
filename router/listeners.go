package router

import (
	"iter"
	"strings"
	"sync/atomic"
)

// Listener is one Gateway listener as routing sees it: the hostname it
// accepts and the table of the routes attached to it.
type Listener struct {
	Hostname string // "foo.example.com", "*.example.com", or "" for any host
	Table    *Table // nil serves nothing (every request 404s)
}

// Listeners picks the listener (and so the table) of a request among the
// listeners that share one address and port. A Gateway listener owns its
// hostname: a request goes to the listener whose hostname matches its host
// most specifically and never to another (listener isolation). Gateway API
// Listener.Hostname (v1.6): "Hostnames that are prefixed with a wildcard
// label (`*.`) are interpreted as a suffix match. That means that a match
// for `*.example.com` would match both `test.example.com`, and
// `foo.test.example.com`, but not `example.com`." An exact hostname beats
// a wildcard, the longest wildcard beats shorter ones ("If another Listener
// has an exact match or more specific wildcard entry"), and a listener
// without a hostname ("When unspecified, all hostnames are matched") takes
// what no other matches. Immutable once built; publish it with
// LiveListeners.
type Listeners struct {
	list     []Listener
	exact    map[string]int // hostname -> index in list
	wildcard map[string]int // "example.com" for "*.example.com"
	anyHost  int            // the listener without a hostname, or -1
}

// NewListeners indexes ls. Hostnames compare case-insensitively, ignoring
// one trailing dot; when two listeners have the same hostname the first
// keeps it (the translator reports the other as conflicted). A nil Table is
// replaced by an empty one, so a listener without routes still owns its
// hostname.
func NewListeners(ls []Listener) *Listeners {
	l := &Listeners{
		list:     make([]Listener, len(ls)),
		exact:    make(map[string]int),
		wildcard: make(map[string]int),
		anyHost:  -1,
	}
	for i, x := range ls {
		if x.Table == nil {
			x.Table = emptyTable
		}
		l.list[i] = x
		name := strings.ToLower(strings.TrimSuffix(x.Hostname, "."))
		if name == "" {
			if l.anyHost < 0 {
				l.anyHost = i
			}
			continue
		}
		m := l.exact
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			m, name = l.wildcard, rest
		}
		if _, taken := m[name]; !taken {
			m[name] = i
		}
	}
	return l
}

// Table returns the table of the listener host selects (see Index), or nil
// when no listener accepts host.
func (l *Listeners) Table(host string) *Table {
	if i := l.Index(host); i >= 0 {
		return l.list[i].Table
	}
	return nil
}

// Index returns the position, in the slice given to NewListeners, of the
// listener host selects, or -1 when none does. host is a Host or a TLS
// server name: any case, with or without a port or a trailing dot, as
// MatchRequest takes it. Index does not allocate.
func (l *Listeners) Index(host string) int {
	host, upper, ok := trimHost(host)
	switch {
	case !ok:
		return l.anyHost // longer than any DNS name
	case !upper:
		return listenerIndex(l, host)
	}
	var buf [maxHost]byte
	return listenerIndex(l, lowerInto(&buf, host))
}

// listenerIndex is Index for a lower-case host without a port.
func listenerIndex[H string | []byte](l *Listeners, host H) int {
	if i, ok := l.exact[string(host)]; ok {
		return i
	}
	// The first dot (not at the start) whose suffix is a wildcard's gives
	// the longest wildcard that covers host.
	for i := 1; i < len(host); i++ {
		if host[i] == '.' {
			if j, ok := l.wildcard[string(host[i+1:])]; ok {
				return j
			}
		}
	}
	return l.anyHost
}

// Len is the number of listeners.
func (l *Listeners) Len() int { return len(l.list) }

// At returns the i-th listener given to NewListeners (with its Table never
// nil).
func (l *Listeners) At(i int) Listener { return l.list[i] }

// Backends yields the backends of every listener's table (see
// Table.Backends).
func (l *Listeners) Backends() iter.Seq[*Backend] {
	return func(yield func(*Backend) bool) {
		for _, x := range l.list {
			for b := range x.Table.Backends() {
				if !yield(b) {
					return
				}
			}
		}
	}
}

// LiveListeners holds the listeners in force for one address and port, as
// Live holds a table: Store swaps in a new set atomically; requests that
// already loaded the old one finish with it.
type LiveListeners struct {
	p atomic.Pointer[Listeners]
}

var noListeners = NewListeners(nil)

// Load returns the listeners in force; before the first Store, none (every
// host selects nothing).
func (l *LiveListeners) Load() *Listeners {
	if ls := l.p.Load(); ls != nil {
		return ls
	}
	return noListeners
}

// Store makes ls the listeners in force.
func (l *LiveListeners) Store(ls *Listeners) { l.p.Store(ls) }

// Ready reports whether listeners were ever stored.
func (l *LiveListeners) Ready() bool { return l.p.Load() != nil }
