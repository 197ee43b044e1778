package controller

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

// rewriteOptions are ingress-nginx's use-regex, rewrite-target and
// x-forwarded-prefix (internal/ingress/annotations/rewrite and
// xforwardedprefix).
type rewriteOptions struct {
	useRegex bool
	target   *router.Template // nil: no rewrite
	rawTgt   string           // target as written: a path equal to it is not rewritten
	prefix   *router.Template // X-Forwarded-Prefix where a path is rewritten; nil for none
}

var rewriteAnnotations = []annotationGroup{
	{names: []string{"use-regex", "rewrite-target", "x-forwarded-prefix"}, nginx: true, parse: parseRewrite},
}

// rewriteTargetChars is ingress-nginx's RegexPathWithCapture
// (annotations/parser/validators.go): ^/?[-._~a-zA-Z0-9/:$]*$, which
// rewrite-target and x-forwarded-prefix (spaces aside) must match.
var rewriteTargetChars = regexp.MustCompile(`^[-._~a-zA-Z0-9/:$]*$`)

func parseRewrite(a annotations, o *ingressOptions, bad badFunc) {
	r := &o.rewrite
	if b, ok := boolAnnotation(a, "use-regex", bad); ok {
		r.useRegex = b
	}
	if val, ok := a.get("rewrite-target"); ok && val != "" {
		if t, why := parseTarget(val, false); why != "" {
			bad("rewrite-target", why)
		} else {
			r.target, r.rawTgt = &t, val
		}
	}
	if val, ok := a.get("x-forwarded-prefix"); ok && val != "" {
		if t, why := parseTarget(val, true); why != "" {
			bad("x-forwarded-prefix", why)
		} else {
			r.prefix = &t
		}
	}
}

// parseTarget checks a rewrite-target (or, with spaces allowed, an
// x-forwarded-prefix): ingress-nginx's characters, "$" only before a
// group number, and, for a target, a start of "/" or "$" (nginx would
// take "http://..." as a redirect, which Portico does not do).
func parseTarget(val string, spaces bool) (router.Template, string) {
	chars := val
	if spaces {
		chars = strings.ReplaceAll(val, " ", "")
	}
	if len(val) > 1024 {
		return router.Template{}, "longer than 1024 characters"
	}
	if !rewriteTargetChars.MatchString(chars) {
		return router.Template{}, "only letters, digits, -._~/: and $1 to $9 are allowed"
	}
	if !spaces && val[0] != '/' && val[0] != '$' {
		return router.Template{}, `want a path starting with "/" or a capture group such as "$1"`
	}
	t, err := router.ParseTemplate(val)
	if err != nil {
		return router.Template{}, err.Error()
	}
	return t, ""
}

// rewrites reports whether a path of an Ingress is rewritten: ingress-nginx
// (needsRewrite) leaves a path equal to the target alone.
func (r *rewriteOptions) rewrites(path string) bool {
	return r.target != nil && r.rawTgt != path
}

// regexPath reports whether a path is a regular expression of its own
// Ingress, which makes its host's paths regular expressions too.
func (r *rewriteOptions) regexPath(path string) bool { return r.useRegex || r.rewrites(path) }

// regexHosts are the hosts on which ingress-nginx turns every path into a
// case-insensitive regular expression: those where any path of any
// Ingress uses regex or is rewritten ("enforced on ALL paths for a given
// host regardless of what Ingress they are defined on", annotations.md
// "Use Regex"). Only Ingresses that set one of these annotations are
// parsed a second time; nil when there are none.
func regexHosts(ings []*networkingv1.Ingress) map[string]bool {
	var hosts map[string]bool
	for _, ing := range ings {
		if !setsRegex(ing.Annotations) {
			continue
		}
		o, _ := parseAnnotations(ing.Annotations)
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if o.rewrite.regexPath(pathOrRoot(p.Path)) {
					if hosts == nil {
						hosts = make(map[string]bool)
					}
					hosts[strings.ToLower(rule.Host)] = true
					break
				}
			}
		}
	}
	return hosts
}

// setsRegex is the cheap test that spares parsing most Ingresses twice.
func setsRegex(ann map[string]string) bool {
	if len(ann) == 0 {
		return false
	}
	for _, k := range [...]string{porticoPrefix + "use-regex", nginxPrefix + "use-regex",
		porticoPrefix + "rewrite-target", nginxPrefix + "rewrite-target"} {
		if _, ok := ann[k]; ok {
			return true
		}
	}
	return false
}

func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// regexRoutes are the routes of one non-Exact path on a regex host, as
// ingress-nginx writes its locations (controller.go
// updateServerLocations, template buildLocation): a path that is a
// regular expression of its own Ingress, or of pathType
// ImplementationSpecific, is one location ~* "^path"; a Prefix path of
// another Ingress becomes "path/" and, unless it is "/" or ends in "/",
// "path" as well, both ~* "^...": so "/foo" there also matches
// "/foobar" and "/FOO".
func regexRoutes(base router.Route, own bool, typ *networkingv1.PathType) ([]router.Route, error) {
	paths := []string{base.Path}
	if !own && (typ == nil || *typ == networkingv1.PathTypePrefix) && !strings.HasSuffix(base.Path, "/") {
		paths = []string{base.Path + "/", base.Path}
	}
	out := make([]router.Route, 0, len(paths))
	for _, p := range paths {
		re, err := router.CompileRegexPrefix(p)
		if err != nil {
			return nil, err
		}
		r := base
		r.Path, r.Type, r.PathRegex = p, router.RegexPrefix, re
		out = append(out, r)
	}
	return out, nil
}

// captureRewrite is the rewrite of a path: ingress-nginx writes
// rewrite "(?i)<path>" <target> break (template buildProxyPass).
func (r *rewriteOptions) captureRewrite(path string) (*router.Filters, error) {
	re, err := regexp.Compile("(?i)" + path)
	if err != nil {
		return nil, err
	}
	return &router.Filters{Rewrite: &router.Rewrite{Captures: &router.CaptureRewrite{
		Regexp: re, Target: *r.target, Prefix: r.prefix,
	}}}, nil
}

func invalidRegex(path string, err error) string {
	msg := err.Error()
	if e, ok := err.(*syntax.Error); ok {
		msg = string(e.Code)
	}
	return fmt.Sprintf("path %q is not a valid RE2 regular expression (%s)", truncate(path, 64), msg)
}
