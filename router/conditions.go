package router

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// StringMatch is how a header or query parameter value is compared.
type StringMatch uint8

const (
	// MatchExact compares the whole value, case-sensitively.
	MatchExact StringMatch = iota
	// MatchRegex matches the whole value against an RE2 expression.
	MatchRegex
)

// HeaderMatch is one condition on a request header. Name is compared
// case-insensitively; a header sent several times is matched on its values
// joined by ",", the form RFC 9110 §5.3 says they are equivalent to.
type HeaderMatch struct {
	Name  string
	Type  StringMatch
	Value string         // the exact value, or the expression as written
	Regex *regexp.Regexp // compiled Value when Type is MatchRegex (anchored by the builder)
}

// QueryMatch is one condition on a query parameter, by exact (case-sensitive)
// name; a parameter given several times is matched on its first value.
type QueryMatch struct {
	Name  string
	Type  StringMatch
	Value string
	Regex *regexp.Regexp
}

// Conditions are what a request must carry besides its host and path: the
// method, headers and query parameters of a Gateway API HTTPRouteMatch. The
// zero value (every Ingress rule) matches any request.
type Conditions struct {
	Method  string // "" for any
	Headers []HeaderMatch
	Query   []QueryMatch
}

// Empty reports whether c matches every request.
func (c *Conditions) Empty() bool {
	return c.Method == "" && len(c.Headers) == 0 && len(c.Query) == 0
}

// Compile anchors and compiles the regular expressions of c, so that they
// match whole values, and canonicalises header names. It returns the first
// invalid expression's error.
func (c *Conditions) Compile() error {
	for i := range c.Headers {
		h := &c.Headers[i]
		h.Name = http.CanonicalHeaderKey(h.Name)
		if h.Type == MatchRegex && h.Regex == nil {
			re, err := CompileAnchored(h.Value)
			if err != nil {
				return err
			}
			h.Regex = re
		}
	}
	for i := range c.Query {
		q := &c.Query[i]
		if q.Type == MatchRegex && q.Regex == nil {
			re, err := CompileAnchored(q.Value)
			if err != nil {
				return err
			}
			q.Regex = re
		}
	}
	return nil
}

// CompileAnchored compiles an RE2 expression that must match a whole value.
func CompileAnchored(expr string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + expr + `)$`)
}

// matches reports whether req satisfies c. A nil req (a lookup by host and
// path only) satisfies only empty conditions.
func (c *Conditions) matches(req *http.Request) bool {
	if c.Method == "" && len(c.Headers) == 0 && len(c.Query) == 0 {
		return true
	}
	if req == nil {
		return false
	}
	if c.Method != "" && req.Method != c.Method {
		return false
	}
	for i := range c.Headers {
		h := &c.Headers[i]
		vals := req.Header[h.Name]
		if len(vals) == 0 {
			return false
		}
		v := vals[0]
		if len(vals) > 1 {
			v = strings.Join(vals, ",")
		}
		if !h.match(v) {
			return false
		}
	}
	for i := range c.Query {
		q := &c.Query[i]
		v, ok := queryValue(req.URL.RawQuery, q.Name)
		if !ok || !q.match(v) {
			return false
		}
	}
	return true
}

// queryValue returns the first value of the query parameter name in raw, as
// url.ParseQuery would decode it (pairs with a ';' or a bad escape are
// skipped, as ParseQuery skips them). It allocates only to unescape.
func queryValue(raw, name string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != name {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		return v, true
	}
	return "", false
}

func (h *HeaderMatch) match(v string) bool {
	if h.Type == MatchRegex {
		return h.Regex != nil && h.Regex.MatchString(v)
	}
	return v == h.Value
}

func (q *QueryMatch) match(v string) bool {
	if q.Type == MatchRegex {
		return q.Regex != nil && q.Regex.MatchString(v)
	}
	return v == q.Value
}

// precedes orders routes that share a host and a path match. The Gateway
// API (HTTPRouteRule, v1.6) says: "precedence must be given to the match
// having: "Exact" path match. "Prefix" path match with largest number of
// characters. Method match. Largest number of header matches. Largest number
// of query param matches." Path specificity is the table's structure (exact
// map, longest prefix first); this function decides the rest. Remaining ties
// ("the oldest Route based on creation timestamp", then "alphabetical order
// by {namespace}/{name}", then "the first matching rule (in list order)") are
// the order in which the translator hands routes to New, kept by a stable
// sort.
func precedes(a, b *Conditions) bool {
	if (a.Method != "") != (b.Method != "") {
		return a.Method != ""
	}
	if len(a.Headers) != len(b.Headers) {
		return len(a.Headers) > len(b.Headers)
	}
	return len(a.Query) > len(b.Query)
}

// sameConditions reports whether two condition sets accept exactly the same
// requests by construction (same method, same header and query conditions
// in any order), which makes the later route unreachable.
func sameConditions(a, b *Conditions) bool {
	if a.Method != b.Method || len(a.Headers) != len(b.Headers) || len(a.Query) != len(b.Query) {
		return false
	}
	for _, h := range a.Headers {
		if !slices.ContainsFunc(b.Headers, func(o HeaderMatch) bool {
			return strings.EqualFold(o.Name, h.Name) && o.Type == h.Type && o.Value == h.Value
		}) {
			return false
		}
	}
	for _, q := range a.Query {
		if !slices.ContainsFunc(b.Query, func(o QueryMatch) bool {
			return o.Name == q.Name && o.Type == q.Type && o.Value == q.Value
		}) {
			return false
		}
	}
	return true
}
