package router

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
)

// CompileRegexPrefix compiles an ingress-nginx regex path as its location
// ~* "^path" does: case-insensitive, anchored at the start only. The
// path is taken as written, as nginx takes it: "^" is put before it, not
// around it, so in "/a|/b" only "/a" is anchored.
func CompileRegexPrefix(path string) (*regexp.Regexp, error) {
	return regexp.Compile("(?i)^" + path)
}

// insertLongestFirst puts a RegexPrefix route r in list where
// ingress-nginx would write its location: nginx tries regex locations in
// the order written and takes the first that matches, and ingress-nginx
// writes them longest path first, equal lengths in descending byte order
// (a stable sort by path, then by length, both descending). An equal
// path (other conditions) goes after the ones already there.
func insertLongestFirst(list []*Route, r *Route) []*Route {
	i, _ := slices.BinarySearchFunc(list, r, func(e, r *Route) int {
		if c := cmp.Compare(len(r.Path), len(e.Path)); c != 0 {
			return c
		}
		if c := strings.Compare(r.Path, e.Path); c != 0 {
			return c
		}
		return -1 // after equal paths
	})
	return slices.Insert(list, i, r)
}

func (t PathType) isRegex() bool { return t == Regex || t == RegexPrefix }
