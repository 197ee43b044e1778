package router

import (
	"errors"
	"regexp"
	"strings"
)

// CaptureRewrite is ingress-nginx's rewrite-target: nginx's
// rewrite "(?i)<path>" <target> break. When Regexp matches the request
// path (anywhere: nginx's rewrite is not anchored), the whole path is
// replaced by Target with $1..$9 taken from the leftmost match; the query
// string is kept. Prefix, when set, is the X-Forwarded-Prefix header sent
// with it, expanded the same way (ingress-nginx sets that header only
// where it rewrites).
type CaptureRewrite struct {
	Regexp *regexp.Regexp
	Target Template
	Prefix *Template
}

// Apply returns the path to forward and, with Prefix set, the
// X-Forwarded-Prefix value; a path Regexp does not match is kept and gets
// no header, as nginx skips a rewrite that does not match.
func (cr *CaptureRewrite) Apply(path string) (newPath, prefix string, ok bool) {
	m := cr.Regexp.FindStringSubmatchIndex(path)
	if m == nil {
		return path, "", false
	}
	newPath = cr.Target.Expand(path, m)
	if newPath == "" || newPath[0] != '/' {
		newPath = "/" + newPath
	}
	if cr.Prefix != nil {
		prefix = cr.Prefix.Expand(path, m)
	}
	return newPath, prefix, cr.Prefix != nil
}

// Template is a rewrite target: literal text and $1..$9, each the text
// of that capture group ("" when the group did not take part or does not
// exist, as in nginx). One digit is read: "$12" is group 1, then "2".
type Template struct {
	parts []templatePart
}

type templatePart struct {
	lit   string
	group int // 1..9; 0 for a literal
}

// ErrTemplate is returned by ParseTemplate for a "$" not followed by a
// digit from 1 to 9: nginx would read a variable there, and Portico
// expands no variables.
var ErrTemplate = errors.New(`"$" must be followed by a capture group number from 1 to 9`)

// ParseTemplate reads a rewrite target. It checks only the "$"s: which
// characters a target may hold is the translator's rule.
func ParseTemplate(s string) (Template, error) {
	var t Template
	for s != "" {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			t.parts = append(t.parts, templatePart{lit: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{lit: s[:i]})
		}
		if i+1 >= len(s) || s[i+1] < '1' || s[i+1] > '9' {
			return Template{}, ErrTemplate
		}
		t.parts = append(t.parts, templatePart{group: int(s[i+1] - '0')})
		s = s[i+2:]
	}
	return t, nil
}

// String is the template as written.
func (t Template) String() string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.group == 0 {
			b.WriteString(p.lit)
		} else {
			b.WriteByte('$')
			b.WriteByte(byte('0' + p.group))
		}
	}
	return b.String()
}

// Expand fills the template from a match m of src, as returned by
// (*regexp.Regexp).FindStringSubmatchIndex.
func (t Template) Expand(src string, m []int) string {
	if len(t.parts) == 1 && t.parts[0].group == 0 {
		return t.parts[0].lit
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.group == 0 {
			b.WriteString(p.lit)
			continue
		}
		if lo, hi := 2*p.group, 2*p.group+1; hi < len(m) && m[lo] >= 0 {
			b.WriteString(src[m[lo]:m[hi]])
		}
	}
	return b.String()
}
