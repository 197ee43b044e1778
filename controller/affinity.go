package controller

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"portico.dev/portico/router"
)

// affinityAnnotations are ingress-nginx's cookie session affinity
// (sessionaffinity/main.go), set on router.Options.Affinity.
var affinityAnnotations = []annotationGroup{
	{names: []string{"affinity", "affinity-mode", "affinity-canary-behavior", "session-cookie-name", "session-cookie-path",
		"session-cookie-domain", "session-cookie-max-age", "session-cookie-expires", "session-cookie-secure",
		"session-cookie-samesite", "session-cookie-change-on-failure",
		"session-cookie-conditional-samesite-none"}, nginx: true, parse: parseAffinity},
}

// maxCookieAge bounds session-cookie-max-age and -expires (ten years).
const maxCookieAge = 10 * 365 * 24 * 3600

func parseAffinity(a annotations, o *ingressOptions, bad badFunc) {
	typ, set := a.get("affinity")
	if set && typ != "cookie" {
		bad("affinity", `want "cookie"`)
	}
	if v, ok := a.get("affinity-mode"); ok && v != "balanced" && v != "persistent" {
		bad("affinity-mode", `want "balanced" or "persistent"`)
	}
	af := &router.Affinity{Cookie: "INGRESSCOOKIE"}
	switch v, ok := a.get("affinity-canary-behavior"); {
	case !ok || v == "sticky":
	case v == "legacy":
		af.CanaryLegacy = true
	default:
		bad("affinity-canary-behavior", `want "sticky" or "legacy"`)
	}
	if v, ok := a.get("session-cookie-name"); ok {
		if v == "" || !validToken(v) {
			bad("session-cookie-name", "want a cookie name (letters, digits, '-', '_', '.', '~')")
		} else {
			af.Cookie = v
		}
	}
	if v, ok := a.get("session-cookie-path"); ok {
		if !strings.HasPrefix(v, "/") || !cookieSafe(v) || len(v) > 1024 {
			bad("session-cookie-path", "want a path starting with / without ';', spaces or control characters")
		} else {
			af.Path = v
		}
	}
	if v, ok := a.get("session-cookie-domain"); ok {
		if strings.Contains(v, ":") || !validHost(strings.TrimPrefix(v, ".")) {
			bad("session-cookie-domain", "want a DNS name")
		} else {
			af.Domain = v
		}
	}
	for _, name := range []string{"session-cookie-max-age", "session-cookie-expires"} {
		v, ok := a.get(name)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxCookieAge {
			bad(name, "want a whole number of seconds from 0")
			continue
		}
		if name == "session-cookie-max-age" {
			af.MaxAge = n
		} else {
			af.Expires = time.Duration(n) * time.Second
		}
	}
	if b, ok := boolAnnotation(a, "session-cookie-secure", bad); ok {
		af.Secure = &b
	}
	if b, ok := boolAnnotation(a, "session-cookie-change-on-failure", bad); ok {
		af.ChangeOnFailure = b
	}
	if v, ok := a.get("session-cookie-samesite"); ok {
		switch strings.ToLower(v) {
		case "none":
			af.SameSite = http.SameSiteNoneMode
		case "lax":
			af.SameSite = http.SameSiteLaxMode
		case "strict":
			af.SameSite = http.SameSiteStrictMode
		default:
			bad("session-cookie-samesite", `want "None", "Lax" or "Strict"`)
		}
	}
	if b, ok := boolAnnotation(a, "session-cookie-conditional-samesite-none", bad); ok {
		af.ConditionalSameSiteNone = b
	}
	// A canary Ingress's affinity-canary-behavior applies to the route it
	// joins (canaryAnnotations are parsed before this group).
	if o.canary != nil {
		o.canary.rules.AffinityLegacy = af.CanaryLegacy
	}
	if typ == "cookie" {
		o.route.Affinity = af
	}
}

func cookieSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ';' || c == '"' || c == '\\' || c == ',' {
			return false
		}
	}
	return true
}
