package controller

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/router"
)

// basicAuthAnnotations are ingress-nginx's basic authentication: auth-type
// basic, the users in a Secret (auth-secret, auth-secret-type) and the
// realm. Anything that keeps the check from being built (digest, a bad
// value, a missing Secret or key) denies the Ingress's paths (503): a
// protected site is never served open.
var basicAuthAnnotations = []annotationGroup{{
	names: []string{"auth-type", "auth-secret", "auth-secret-type", "auth-realm"}, nginx: true,
	parse: parseBasicAuth,
}}

// basicAuthOptions is what the annotations ask for; the Secret is read
// when the Ingress is compiled (basicAuth).
type basicAuthOptions struct {
	namespace, name string // namespace "" is the Ingress's own
	authMap         bool   // auth-secret-type auth-map: each key a user
	realm           string // validated: no quote, backslash or control byte
}

// maxRealm bounds auth-realm.
const maxRealm = 256

func parseBasicAuth(a annotations, o *ingressOptions, bad badFunc) {
	typ, ok := a.get("auth-type")
	if !ok {
		for _, n := range []string{"auth-secret", "auth-secret-type", "auth-realm"} {
			if _, set := a.get(n); set {
				bad(n, "needs auth-type")
			}
		}
		return
	}
	deny := func(name, why string) {
		bad(name, why+"; the Ingress's paths answer 503")
		o.route.Auth, o.basicAuth = &router.Auth{Deny: true}, nil
	}
	switch typ {
	case "basic":
	case "digest":
		deny("auth-type", "digest authentication is not supported, only basic")
		return
	default:
		deny("auth-type", `want "basic"`)
		return
	}
	b := &basicAuthOptions{}
	ref, _ := a.get("auth-secret")
	ns, name, found := strings.Cut(ref, "/")
	if !found {
		ns, name = "", ref
	}
	switch {
	case ref == "":
		deny("auth-type", "needs auth-secret")
		return
	case found && !dnsLabel(ns), !dnsSubdomain(name):
		deny("auth-secret", "want a Secret name or namespace/name")
		return
	}
	b.namespace, b.name = ns, name
	switch st, _ := a.get("auth-secret-type"); st {
	case "", "auth-file":
	case "auth-map":
		b.authMap = true
	default:
		deny("auth-secret-type", `want "auth-file" or "auth-map"`)
		return
	}
	if r, ok := a.get("auth-realm"); ok {
		if !validRealm(r) {
			// ingress-nginx refuses the whole Ingress.
			deny("auth-realm", fmt.Sprintf("want at most %d letters, digits, spaces or -._~/:", maxRealm))
			return
		}
		b.realm = r
	}
	if o.route.Auth == nil || !o.route.Auth.Deny {
		o.basicAuth = b
	}
}

// validRealm is ingress-nginx's validation of auth-realm: letters, digits,
// space and -._~/: only, so the realm can be quoted in WWW-Authenticate
// as it is.
func validRealm(s string) bool {
	if len(s) > maxRealm {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(" -._~/:", c) >= 0) {
			return false
		}
	}
	return true
}

func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func dnsSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if !dnsLabel(l) {
			return false
		}
	}
	return true
}

// basicAuth resolves the Ingress's auth Secret into the route's
// BasicAuth. A Secret in another namespace is refused (ingress-nginx
// refuses them unless allow-cross-namespace-resources is set, which
// Portico has no equivalent of): an Ingress must not borrow users it
// cannot read. A missing Secret or key denies the paths (503), as
// ingress-nginx denies the location.
func (c *compiler) basicAuth(ing *networkingv1.Ingress, o *ingressOptions) {
	b := o.basicAuth
	ns := b.namespace
	if ns == "" {
		ns = ing.Namespace
	}
	key := types.NamespacedName{Namespace: ns, Name: b.name}
	deny := func(reason, msg string) {
		c.problem(ing, reason, "auth-secret "+key.String()+": "+msg+"; the Ingress's paths answer 503")
		o.route.Auth = &router.Auth{Deny: true}
	}
	if ns != ing.Namespace {
		deny("InvalidAnnotation", "a Secret in another namespace is not allowed")
		return
	}
	sec := c.snap.AuthSecrets[key]
	if sec == nil {
		deny("SecretNotFound", "no such Secret (of type Opaque)")
		return
	}
	var users map[string]router.PasswordHash
	var probs []string
	if b.authMap {
		users, probs = authMapUsers(sec)
	} else {
		data, ok := sec.Data["auth"]
		if !ok {
			deny("InvalidAuthSecret", "the Secret has no key auth")
			return
		}
		users, probs = parseHtpasswd(data)
	}
	if len(probs) > 0 {
		// These users get 401, as nginx answers for a line it cannot use.
		c.problem(ing, "InvalidAuthSecret", fmt.Sprintf("auth-secret %s: %s", key, strings.Join(truncateList(probs, 5), "; ")))
	}
	if len(users) == 0 {
		c.problem(ing, "InvalidAuthSecret", "auth-secret "+key.String()+": no usable user; every request is answered 401")
	}
	o.route.BasicAuth = &router.BasicAuth{Challenge: `Basic realm="` + b.realm + `"`, Users: users}
}

func truncateList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
}

// maxHtpasswd bounds the users read from one Secret.
const maxHtpasswd = 10000

// parseHtpasswd reads an htpasswd file as nginx's auth_basic_user_file
// does: one "user:hash" per line, the hash ending at the next ':' (extra
// fields are ignored), empty lines and lines starting with '#' skipped,
// nothing trimmed but the line end. The first line of a user counts.
// Lines that cannot be used are described in probs (by line number,
// never with their content: it is secret).
func parseHtpasswd(data []byte) (users map[string]router.PasswordHash, probs []string) {
	users = make(map[string]router.PasswordHash)
	n := 0
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		n++
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		user, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(user) == 0 {
			probs = append(probs, fmt.Sprintf("line %d: want user:hash", n))
			continue
		}
		hash, _, _ := bytes.Cut(rest, []byte(":"))
		if _, dup := users[string(user)]; dup {
			continue
		}
		if len(users) >= maxHtpasswd {
			probs = append(probs, fmt.Sprintf("more than %d users; the rest are ignored", maxHtpasswd))
			break
		}
		h, err := router.ParsePasswordHash(string(hash))
		if err != nil {
			probs = append(probs, fmt.Sprintf("line %d: %v", n, err))
			continue
		}
		users[string(user)] = h
	}
	return users, probs
}

// authMapUsers reads auth-secret-type auth-map: each key a user, its
// value the hash. ingress-nginx writes "key:value" lines to a file, so a
// value with a line break or ':' would add users or fields; Portico takes
// the value up to the first of them (a trailing newline is usual) and
// reports the rest.
func authMapUsers(sec *corev1.Secret) (map[string]router.PasswordHash, []string) {
	users := make(map[string]router.PasswordHash, len(sec.Data))
	var probs []string
	for _, user := range slices.Sorted(maps.Keys(sec.Data)) {
		v := sec.Data[user]
		hash := v
		if i := bytes.IndexAny(v, ":\r\n"); i >= 0 {
			hash = v[:i]
			if len(bytes.TrimRight(v[i:], "\r\n")) > 0 {
				probs = append(probs, fmt.Sprintf("user %q: text after the hash is ignored", truncate(user, 64)))
			}
		}
		if strings.ContainsAny(user, ":") {
			probs = append(probs, fmt.Sprintf("user %q: a user name cannot contain ':'", truncate(user, 64)))
			continue
		}
		h, err := router.ParsePasswordHash(string(hash))
		if err != nil {
			probs = append(probs, fmt.Sprintf("user %q: %v", truncate(user, 64), err))
			continue
		}
		users[user] = h
	}
	return users, probs
}

// stripAuthSecret is the transform of the Opaque Secret informer. Opaque
// Secrets hold all kinds of credentials; Portico reads them only for basic
// and client-certificate authentication, so the cache keeps of each
// Secret only its key "auth" (auth-file), the values that parse as a
// password hash (auth-map), and ca.crt and ca.crl (auth-tls-secret).
// Database passwords, tokens and the like are dropped on arrival and
// never held.
func stripAuthSecret(obj any) (any, error) {
	obj, err := stripForCache(obj)
	sec, ok := obj.(*corev1.Secret)
	if !ok || err != nil || sec.Type != corev1.SecretTypeOpaque {
		return obj, err
	}
	for k, v := range sec.Data {
		if k == "auth" || k == authTLSCAKey || k == authTLSCRLKey { // CA certificates and CRLs are public (auth-tls-secret)
			continue
		}
		hash := v
		if i := bytes.IndexAny(v, ":\r\n"); i >= 0 {
			hash = v[:i]
		}
		if _, err := router.ParsePasswordHash(string(hash)); err != nil {
			delete(sec.Data, k)
		}
	}
	return sec, nil
}

// satisfyAnnotations is ingress-nginx satisfy: "any" lets a client that
// the source-range lists allow in without authentication, and one they
// refuse authenticate instead (nginx satisfy any); "all" (the default)
// needs both.
var satisfyAnnotations = []annotationGroup{{
	names: []string{"satisfy"}, nginx: true,
	parse: func(a annotations, o *ingressOptions, bad badFunc) {
		switch v, _ := a.get("satisfy"); v {
		case "any":
			o.route.SatisfyAny = true
		case "all", "":
		default:
			bad("satisfy", `want "all" or "any"`)
		}
	},
}}
