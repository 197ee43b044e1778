package router

import "strings"

// HostLevel is the kind of host rule that decided a request.
type HostLevel string

const (
	HostExact    HostLevel = "exact"    // a rule for exactly this host
	HostWildcard HostLevel = "wildcard" // a "*.domain" rule covering one extra label
	HostAny      HostLevel = "any"      // rules without a host
	HostNone     HostLevel = "none"     // no host rule at all applies
)

// Explanation says which route a request gets and why. It is what
// /debug/routes?url= answers; it is slow (it allocates) and meant for people.
type Explanation struct {
	Host      string    // the host as matched: lower case, no port, no trailing dot
	Path      string    // the path as matched and forwarded (CleanPath)
	HostLevel HostLevel // which level of host rules decided
	HostRule  string    // that level's host as written in rules: "foo.com", "*.foo.com", "" for any
	Route     *Route    // the route taken; nil means 404
	Default   bool      // Route is the default backend
	Reason    string    // one sentence for people
}

// Explain is Match for people (by host and path alone: routes with
// Conditions are not considered): it cleans path itself and reports how the
// answer was reached. Its Route is always the one Match returns.
func (t *Table) Explain(host, path string) Explanation {
	e := Explanation{Path: CleanPath(path)}
	h := stripPort(host)
	h = strings.TrimSuffix(h, ".")
	e.Host = asciiLower(h)
	route := t.Match(host, e.Path)

	// The host levels that cover the host, most specific first; the first
	// decides, or with HostFallthrough the first one whose rules match.
	var levels []hostLevel
	if len(h) <= maxHost {
		if ps := t.exact[e.Host]; ps != nil {
			levels = append(levels, hostLevel{ps, HostExact, e.Host})
		}
		for i := 0; i < len(e.Host); i++ {
			if e.Host[i] != '.' {
				continue
			}
			if w := t.wildcard[e.Host[i+1:]]; i > 0 && w != nil {
				levels = append(levels, hostLevel{w, HostWildcard, "*." + e.Host[i+1:]})
			}
			if !t.wildcardAnyDepth {
				break
			}
		}
	} // else longer than any DNS name: only rules without a host can apply
	if t.anyHost != nil {
		levels = append(levels, hostLevel{t.anyHost, HostAny, ""})
	}
	chosen := -1
	for i, l := range levels {
		if !t.hostFallthrough || l.ps.match(nil, e.Path, nil) != nil {
			chosen = i
			break
		}
	}
	var ps *pathSet
	skipped := ""
	switch {
	case chosen < 0 && len(levels) > 0:
		chosen = 0 // fell through every level: name the most specific
	case chosen > 0:
		skipped = "no rule of " + describeLevel(levels[0]) + " matched, so less specific hosts were tried; "
	}
	if chosen >= 0 {
		ps, e.HostLevel, e.HostRule = levels[chosen].ps, levels[chosen].kind, levels[chosen].rule
	} else {
		e.HostLevel = HostNone
	}
	e.Route = route
	e.Default = route != nil && (route == t.def || ps != nil && route == ps.def)
	shown := e.Host
	if shown == "" {
		shown = `""`
	}
	var why string
	switch e.HostLevel {
	case HostExact:
		why = "host " + shown + " has rules of its own"
	case HostWildcard:
		why = "host " + shown + " is covered by wildcard " + e.HostRule + " (exactly one extra label)"
		if t.wildcardAnyDepth {
			why = "host " + shown + " is covered by wildcard " + e.HostRule + " (the longest matching suffix)"
		}
	case HostAny:
		why = "no rule names host " + shown + ", so the rules without a host apply"
		if skipped != "" {
			why = "the rules without a host apply"
		}
	default:
		why = "no rule names host " + shown + " and there are no rules without a host"
	}
	why = skipped + why
	switch {
	case route == nil && t.hostFallthrough && ps != nil:
		e.Reason = why + "; no path of it or of a less specific host matched and there is no default backend: 404"
	case route == nil:
		e.Reason = why + "; no path matched and there is no default backend: 404"
	case e.Default && ps != nil && t.hostFallthrough:
		e.Reason = why + "; no path of it or of a less specific host matched: default backend"
	case e.Default && ps != nil:
		e.Reason = why + "; none of its paths matched, and a host never falls through to less specific hosts: default backend"
	case e.Default:
		e.Reason = why + ": default backend"
	case route.Type == Exact:
		e.Reason = why + "; Exact path " + route.Path + " equals the request path"
	case route.Type == Regex:
		e.Reason = why + "; no Exact path matched, and RegularExpression " + route.Path + " is the first to match the whole request path"
	case route.Type == RegexPrefix:
		e.Reason = why + "; no Exact path matched, and " + route.Path + " is the longest case-insensitive regular expression to match the start of the request path"
	default:
		e.Reason = why + "; Prefix path " + route.Path + " is the longest one that prefixes the request path segment by segment"
	}
	return e
}

// hostLevel is one level of host rules covering a request's host.
type hostLevel struct {
	ps   *pathSet
	kind HostLevel
	rule string
}

func describeLevel(l hostLevel) string {
	if l.kind == HostAny {
		return "the rules without a host"
	}
	return "host " + l.rule
}

func asciiLower(s string) string {
	if !hasUpper(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
