package controller

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"portico.dev/portico/router"
)

// NginxConfig is what an ingress-nginx ConfigMap (--nginx-configmap) says,
// read with ingress-nginx's meaning: the global defaults that every
// Ingress's annotations override. Precedence, highest first: an Ingress
// annotation, the ConfigMap, a flag (--hsts), Portico's default. A key the
// ConfigMap leaves out has ingress-nginx's default (proxy-body-size 1m,
// hsts on), so pointing Portico at the ConfigMap an ingress-nginx
// installation used keeps its behaviour. docs/nginx-configmap.md lists
// every key.
type NginxConfig struct {
	// Route holds the defaults of router.Options: MaxBodyBytes,
	// ConnectTimeout, ReadTimeout, SendTimeout, SSLRedirect and Compress
	// (nil without use-gzip).
	Route router.Options
	// ForceSSLRedirect is force-ssl-redirect: redirect hosts without TLS too.
	ForceSSLRedirect bool
	// HSTS is the Strict-Transport-Security value for TLS hosts, "" for
	// none (hsts: "false"); HSTSSet says a hsts* key was given, so that
	// --hsts applies when none is.
	HSTS    string
	HSTSSet bool
	// AllowSnippetAnnotations is allow-snippet-annotations: whether
	// *-snippet annotations (configuration-snippet, server-snippet) may be
	// used at all. Default false, as in ingress-nginx since v1.9 (and
	// v1.15): snippets let whoever writes an Ingress change the proxy's
	// behaviour for every host, so they are off unless the cluster admin
	// turns them on here. The snippet annotations read it.
	AllowSnippetAnnotations bool
}

// NginxConfigProblem is an invalid value of one key; the key keeps its
// default.
type NginxConfigProblem struct {
	Key, Message string
}

// ingress-nginx's defaults (internal/ingress/controller/config/config.go).
const (
	nginxDefaultBodySize   = 1 << 20 // "1m"
	nginxDefaultHSTSMaxAge = 31536000
	nginxDefaultGzipLevel  = 1
	nginxDefaultGzipMinLen = 256
	nginxDefaultGzipTypes  = "application/atom+xml application/javascript application/x-javascript application/json " +
		"application/rss+xml application/vnd.ms-fontobject application/x-font-ttf application/x-web-app-manifest+json " +
		"application/xhtml+xml application/xml font/opentype image/svg+xml image/x-icon text/css text/javascript " +
		"text/plain text/x-component"
)

// nginxConfigKeys are the keys Portico reads; any other key is reported as
// not supported (once per change of the ConfigMap).
var nginxConfigKeys = map[string]bool{
	"proxy-body-size": true, "proxy-connect-timeout": true, "proxy-read-timeout": true, "proxy-send-timeout": true,
	"ssl-redirect": true, "force-ssl-redirect": true,
	"hsts": true, "hsts-max-age": true, "hsts-include-subdomains": true, "hsts-preload": true,
	"use-forwarded-headers": true, "compute-full-forwarded-for": true, "forwarded-for-header": true, "enable-real-ip": true,
	"use-gzip": true, "gzip-types": true, "gzip-level": true, "gzip-min-length": true,
	"allow-snippet-annotations": true,
	"global-auth-url":           true, "global-auth-method": true, "global-auth-signin": true, "global-auth-signin-redirect-param": true,
	"global-auth-response-headers": true, "global-auth-request-redirect": true, "global-auth-always-set-cookie": true,
}

// ParseNginxConfig reads a ConfigMap's data (nil when the ConfigMap does
// not exist: every key has ingress-nginx's default). It never fails: an
// invalid value is a problem and keeps that key's default; keys Portico
// does not read are returned, sorted. trustedProxies says whether
// --trusted-proxies names any proxy: the forwarded-header keys are
// checked against it (Portico's trust comes from that flag only).
func ParseNginxConfig(data map[string]string, trustedProxies bool) (*NginxConfig, []NginxConfigProblem, []string) {
	cfg := &NginxConfig{
		Route: router.Options{MaxBodyBytes: nginxDefaultBodySize, SSLRedirect: true},
	}
	var probs []NginxConfigProblem
	bad := func(key, why, def string) {
		probs = append(probs, NginxConfigProblem{Key: key, Message: fmt.Sprintf("invalid value %q: %s; using the default %s",
			truncate(data[key], 64), why, def)})
	}
	boolKey := func(key string, dst *bool) bool {
		v, ok := data[key]
		if !ok {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(key, `want "true" or "false"`, strconv.FormatBool(*dst))
			return false
		}
		*dst = b
		return true
	}
	var unsupported []string
	for k := range data {
		if !nginxConfigKeys[k] {
			unsupported = append(unsupported, truncate(k, 64))
		}
	}
	slices.Sort(unsupported)

	if v, ok := data["proxy-body-size"]; ok {
		if n, err := parseSize(v); err != nil {
			bad("proxy-body-size", err.Error(), "1m")
		} else {
			cfg.Route.MaxBodyBytes = n
		}
	}
	for _, t := range []struct {
		key string
		dst *time.Duration
		def string
	}{
		{"proxy-connect-timeout", &cfg.Route.ConnectTimeout, "5 (seconds)"},
		{"proxy-read-timeout", &cfg.Route.ReadTimeout, "60 (seconds)"},
		{"proxy-send-timeout", &cfg.Route.SendTimeout, "60 (seconds)"},
	} {
		if v, ok := data[t.key]; ok {
			if d, err := parseTimeout(v); err != nil {
				bad(t.key, err.Error(), t.def)
			} else {
				*t.dst = d
			}
		}
	}
	boolKey("ssl-redirect", &cfg.Route.SSLRedirect)
	boolKey("force-ssl-redirect", &cfg.ForceSSLRedirect)

	hsts, sub, preload, maxAge := true, true, false, int64(nginxDefaultHSTSMaxAge)
	for _, k := range []string{"hsts", "hsts-include-subdomains", "hsts-preload", "hsts-max-age"} {
		if _, ok := data[k]; ok {
			cfg.HSTSSet = true
		}
	}
	boolKey("hsts", &hsts)
	boolKey("hsts-include-subdomains", &sub)
	boolKey("hsts-preload", &preload)
	if v, ok := data["hsts-max-age"]; ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil || n < 0 {
			bad("hsts-max-age", "want a whole number of seconds", strconv.Itoa(nginxDefaultHSTSMaxAge))
		} else {
			maxAge = n
		}
	}
	if hsts {
		cfg.HSTS = "max-age=" + strconv.FormatInt(maxAge, 10)
		if sub {
			cfg.HSTS += "; includeSubDomains"
		}
		if preload {
			cfg.HSTS += "; preload"
		}
	}

	// Forwarded headers: Portico keeps X-Forwarded-* (and takes the
	// client address from X-Forwarded-For) only from --trusted-proxies,
	// and appends to X-Forwarded-For. ingress-nginx's use-forwarded-headers
	// and enable-real-ip trust proxy-real-ip-cidr, by default 0.0.0.0/0:
	// every client. Portico never does that; asking for it without
	// --trusted-proxies is reported, not obeyed.
	var fwd, realIP bool
	for _, k := range []string{"use-forwarded-headers", "enable-real-ip"} {
		dst := &fwd
		if k == "enable-real-ip" {
			dst = &realIP
		}
		if boolKey(k, dst) && *dst && !trustedProxies {
			probs = append(probs, NginxConfigProblem{Key: k, Message: `"true" needs --trusted-proxies: Portico trusts ` +
				`X-Forwarded-* only from the proxies it names, never from every client as ingress-nginx's proxy-real-ip-cidr default does; ` +
				`headers from clients are replaced`})
		}
	}
	var full bool
	if boolKey("compute-full-forwarded-for", &full) && !full && trustedProxies {
		probs = append(probs, NginxConfigProblem{Key: "compute-full-forwarded-for", Message: `"false" is not supported: ` +
			`Portico appends the peer's address to the X-Forwarded-For of a trusted proxy (as "true" does)`})
	}
	if v, ok := data["forwarded-for-header"]; ok && !strings.EqualFold(strings.TrimSpace(v), "X-Forwarded-For") {
		bad("forwarded-for-header", "Portico reads the client address from X-Forwarded-For only", "X-Forwarded-For")
	}

	var gzip bool
	boolKey("use-gzip", &gzip)
	cp := &router.Compress{Level: nginxDefaultGzipLevel, MinLength: nginxDefaultGzipMinLen, Zstd: true}
	if v, ok := data["gzip-level"]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err != nil || n < 1 || n > 9 {
			bad("gzip-level", "want a whole number from 1 to 9", strconv.Itoa(nginxDefaultGzipLevel))
		} else {
			cp.Level = n
		}
	}
	if v, ok := data["gzip-min-length"]; ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil || n < 0 {
			bad("gzip-min-length", "want a whole number of bytes", strconv.Itoa(nginxDefaultGzipMinLen))
		} else {
			cp.MinLength = n
		}
	}
	types, typesOK := data["gzip-types"]
	if typesOK {
		if t, anyType, ok := parseMediaTypes(types); !ok {
			bad("gzip-types", "want media types such as text/css separated by spaces, or *", "list")
			typesOK = false
		} else {
			cp.Types, cp.AnyType = t, anyType
		}
	}
	if !typesOK {
		cp.Types, _, _ = parseMediaTypes(nginxDefaultGzipTypes)
	}
	if gzip {
		cfg.Route.Compress = cp
	}

	boolKey("allow-snippet-annotations", &cfg.AllowSnippetAnnotations)
	cfg.Route.Auth = globalAuth(data, func(key, why string) {
		probs = append(probs, NginxConfigProblem{Key: key, Message: fmt.Sprintf("invalid value %q: %s", truncate(data[key], 64), why)})
	})
	slices.SortFunc(probs, func(a, b NginxConfigProblem) int { return strings.Compare(a.Key, b.Key) })
	return cfg, probs, unsupported
}

// parseMediaTypes reads nginx's gzip_types: media types separated by
// spaces (commas accepted too), "*" for any.
func parseMediaTypes(s string) (types map[string]bool, anyType, ok bool) {
	types = make(map[string]bool)
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' }) {
		if f == "*" {
			anyType = true
			continue
		}
		typ, sub, found := strings.Cut(f, "/")
		if !found || !mediaToken(typ) || !mediaToken(sub) {
			return nil, false, false
		}
		types[strings.ToLower(f)] = true
	}
	return types, anyType, len(types) > 0 || anyType
}

func mediaToken(s string) bool {
	if s == "" || len(s) > 127 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&-^_.+", c) >= 0) {
			return false
		}
	}
	return true
}

// globalAuth reads global-auth-url and its global-auth-* settings with
// the meaning of the per-Ingress auth-* annotations (parseExternalAuth):
// the external authentication of every Ingress that sets no auth-url of
// its own and no enable-global-auth: "false". nil without
// global-auth-url. Settings that cannot be used deny every such Ingress
// (503) rather than serve it unauthenticated; ingress-nginx drops global
// auth then.
func globalAuth(data map[string]string, bad func(key, why string)) *router.Auth {
	if data["global-auth-url"] == "" {
		return nil
	}
	a := annotations{vals: map[string]string{}, nginx: map[string]bool{}}
	for k, v := range data {
		if name, ok := strings.CutPrefix(k, "global-"); ok && nginxConfigKeys[k] {
			a.vals[name] = v
		}
	}
	var o ingressOptions
	parseExternalAuth(a, &o, func(name, why string) { bad("global-"+name, why) })
	return o.route.Auth
}
