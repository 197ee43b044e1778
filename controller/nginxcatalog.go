package controller

import (
	"fmt"
	"slices"
	"strings"
)

// nginxAnnotations is every annotation ingress-nginx (v1.15) defines, by
// name without its prefix. Those Portico honours are the annotationGroups
// marked nginx; for the rest the note says why not, and an Ingress that
// sets one gets a Warning Event (UnsupportedAnnotation) naming it. The
// migration guide's table is written from this list
// (TestMigrationGuideListsEveryAnnotation).
var nginxAnnotations = map[string]string{
	"affinity":                                 "",
	"affinity-canary-behavior":                 "",
	"affinity-mode":                            "",
	"allowlist-source-range":                   "",
	"app-root":                                 "",
	"auth-always-set-cookie":                   "",
	"auth-cache-duration":                      "auth responses are not cached: every request asks the auth service",
	"auth-cache-key":                           "auth responses are not cached: every request asks the auth service",
	"auth-keepalive":                           "connections to the auth service are always kept alive and pooled",
	"auth-keepalive-requests":                  "connections to the auth service are always kept alive and pooled",
	"auth-keepalive-share-vars":                "connections to the auth service are always kept alive and pooled",
	"auth-keepalive-timeout":                   "connections to the auth service are always kept alive and pooled",
	"auth-method":                              "",
	"auth-proxy-set-headers":                   "not supported yet: the auth subrequest carries the client's headers and the X-Original-*/X-Forwarded-* set, not extra ones from a ConfigMap",
	"auth-realm":                               "",
	"auth-request-redirect":                    "",
	"auth-response-headers":                    "",
	"auth-secret":                              "",
	"auth-secret-type":                         "",
	"auth-signin":                              "",
	"auth-signin-redirect-param":               "",
	"auth-snippet":                             "snippets are nginx configuration text; Portico never templates user text into configuration",
	"auth-tls-error-page":                      "",
	"auth-tls-match-cn":                        "",
	"auth-tls-pass-certificate-to-upstream":    "",
	"auth-tls-secret":                          "",
	"auth-tls-verify-client":                   "",
	"auth-tls-verify-depth":                    "",
	"auth-type":                                "",
	"auth-url":                                 "",
	"backend-protocol":                         "",
	"canary":                                   "",
	"canary-by-cookie":                         "",
	"canary-by-header":                         "",
	"canary-by-header-pattern":                 "",
	"canary-by-header-value":                   "",
	"canary-weight":                            "",
	"canary-weight-total":                      "",
	"client-body-buffer-size":                  "Portico streams request bodies; it buffers only what a retry needs",
	"configuration-snippet":                    "",
	"connection-proxy-header":                  "Portico manages upstream connections itself (keep-alive pools)",
	"cors-allow-credentials":                   "",
	"cors-allow-headers":                       "",
	"cors-allow-methods":                       "",
	"cors-allow-origin":                        "",
	"cors-expose-headers":                      "",
	"cors-max-age":                             "",
	"custom-headers":                           "",
	"custom-http-errors":                       "",
	"default-backend":                          "",
	"denylist-source-range":                    "",
	"disable-proxy-intercept-errors":           "",
	"enable-access-log":                        "",
	"enable-cors":                              "",
	"enable-global-auth":                       "",
	"enable-modsecurity":                       "Portico has no web application firewall; put one behind it",
	"enable-opentelemetry":                     "tracing is not built yet",
	"enable-owasp-core-rules":                  "Portico has no web application firewall; put one behind it",
	"enable-rewrite-log":                       "nginx debugging output; Portico's access log shows the upstream path",
	"fastcgi-index":                            "Portico does not speak FastCGI",
	"fastcgi-params-configmap":                 "Portico does not speak FastCGI",
	"force-ssl-redirect":                       "",
	"from-to-www-redirect":                     "",
	"http2-push-preload":                       "HTTP/2 server push is deprecated and removed from browsers",
	"limit-allowlist":                          "",
	"limit-burst-multiplier":                   "",
	"limit-connections":                        "",
	"limit-rate":                               "response bandwidth limits are not supported",
	"limit-rate-after":                         "response bandwidth limits are not supported",
	"limit-rpm":                                "",
	"limit-rps":                                "",
	"limit-whitelist":                          "",
	"load-balance":                             "",
	"mirror-host":                              "",
	"mirror-request-body":                      "",
	"mirror-target":                            "",
	"modsecurity-snippet":                      "Portico has no web application firewall; put one behind it",
	"modsecurity-transaction-id":               "Portico has no web application firewall; put one behind it",
	"opentelemetry-operation-name":             "tracing is not built yet",
	"opentelemetry-trust-incoming-span":        "tracing is not built yet",
	"permanent-redirect":                       "",
	"permanent-redirect-code":                  "",
	"preserve-trailing-slash":                  "",
	"proxy-body-size":                          "",
	"proxy-buffer-size":                        "Portico streams responses; buffer sizes are its own",
	"proxy-buffering":                          "Portico streams responses; buffer sizes are its own",
	"proxy-buffers-number":                     "Portico streams responses; buffer sizes are its own",
	"proxy-busy-buffers-size":                  "Portico streams responses; buffer sizes are its own",
	"proxy-connect-timeout":                    "",
	"proxy-cookie-domain":                      "",
	"proxy-cookie-path":                        "",
	"proxy-http-version":                       "HTTP/1.1 is always used upstream (HTTP/2 with backend-protocol h2c, grpc or grpcs)",
	"proxy-max-temp-file-size":                 "Portico streams responses; buffer sizes are its own",
	"proxy-next-upstream":                      "",
	"proxy-next-upstream-timeout":              "",
	"proxy-next-upstream-tries":                "",
	"proxy-read-timeout":                       "",
	"proxy-redirect-from":                      "",
	"proxy-redirect-to":                        "",
	"proxy-request-buffering":                  "Portico streams request bodies; it buffers only what a retry needs",
	"proxy-send-timeout":                       "",
	"proxy-ssl-ciphers":                        "Go chooses the cipher suites (modern AEAD suites only); OpenSSL cipher strings are not applied",
	"proxy-ssl-name":                           "",
	"proxy-ssl-protocols":                      "",
	"proxy-ssl-secret":                         "",
	"proxy-ssl-server-name":                    "",
	"proxy-ssl-verify":                         "",
	"proxy-ssl-verify-depth":                   "",
	"relative-redirects":                       "",
	"rewrite-target":                           "",
	"satisfy":                                  "",
	"server-alias":                             "",
	"server-snippet":                           "",
	"service-upstream":                         "",
	"session-cookie-change-on-failure":         "",
	"session-cookie-conditional-samesite-none": "",
	"session-cookie-domain":                    "",
	"session-cookie-expires":                   "",
	"session-cookie-max-age":                   "",
	"session-cookie-name":                      "",
	"session-cookie-path":                      "",
	"session-cookie-samesite":                  "",
	"session-cookie-secure":                    "",
	"ssl-ciphers":                              "Portico's TLS settings are Go's (TLS 1.2 minimum, modern suites); they are not set per Ingress",
	"ssl-passthrough":                          "",
	"ssl-prefer-server-ciphers":                "Portico's TLS settings are Go's (TLS 1.2 minimum, modern suites); they are not set per Ingress",
	"ssl-redirect":                             "",
	"stream-snippet":                           "snippets are nginx configuration text; Portico never templates user text into configuration",
	"temporal-redirect":                        "",
	"temporal-redirect-code":                   "",
	"upstream-hash-by":                         "",
	"upstream-hash-by-subset":                  "",
	"upstream-hash-by-subset-size":             "",
	"upstream-vhost":                           "",
	"use-port-in-redirects":                    "Portico's redirects name the port when the listener's is not the scheme's default; always naming it is not supported",
	"use-regex":                                "",
	"whitelist-source-range":                   "",
	"x-forwarded-prefix":                       "",
}

// NginxSupport says what Portico does with an ingress-nginx annotation
// (name without its prefix): honoured, or not and why.
type NginxSupport struct {
	Name      string
	Known     bool // ingress-nginx defines it
	Supported bool // Portico honours it
	Note      string
}

// NginxAnnotation looks name up.
func NginxAnnotation(name string) NginxSupport {
	note, known := nginxAnnotations[name]
	g := annotationIndex[name]
	s := NginxSupport{Name: name, Known: known, Supported: g != nil && g.nginx}
	switch {
	case s.Supported:
	case !known:
		s.Note = "ingress-nginx defines no such annotation"
	case note == "":
		s.Note = "not supported yet"
	default:
		s.Note = note
	}
	return s
}

// NginxAnnotations lists every annotation ingress-nginx defines, sorted.
func NginxAnnotations() []NginxSupport {
	var out []NginxSupport
	for name := range nginxAnnotations {
		out = append(out, NginxAnnotation(name))
	}
	slices.SortFunc(out, func(a, b NginxSupport) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// nginxUnsupported is the Warning for an ingress-nginx annotation that
// Portico ignores.
func nginxUnsupported(name string) string {
	s := NginxAnnotation(name)
	return fmt.Sprintf("annotation %s%s is ignored: %s", nginxPrefix, truncate(name, 80), s.Note)
}

// nginxDiffers says, for an annotation Portico honours, how its meaning
// differs from ingress-nginx's where it does (docs/annotations.md has the
// detail). The migration guide and `portico nginx-check` show it.
var nginxDiffers = map[string]string{
	"ssl-passthrough":                  "needs --enable-ssl-passthrough, as in ingress-nginx; spliced connections are not counted in the request metrics but in portico_passthrough_*",
	"auth-tls-secret":                  "a Secret without ca.crt refuses the host's requests (403; ingress-nginx silently stops checking); plain HTTP requests of the host count as without a certificate (nginx does not check them)",
	"auth-tls-error-page":              "a path (not a URL) is answered with a 302 to it, not served by nginx's internal redirect",
	"auth-tls-match-cn":                "RE2 syntax, not PCRE, matched against the subject DN in RFC 2253 form",
	"proxy-ssl-name":                   "without it the name checked is the Service's cluster DNS name <service>.<namespace>.svc (ingress-nginx checks its internal upstream name, which no certificate carries)",
	"proxy-ssl-protocols":              "TLSv1 and TLSv1.1 are left out: Portico speaks TLS 1.2 or later",
	"proxy-ssl-secret":                 "an unusable Secret makes the Ingress's HTTPS backends answer 500 (ingress-nginx: 503); a Secret of type kubernetes.io/tls is read; the settings apply to the Ingress's own paths (ingress-nginx also gives the first Ingress's to other Ingresses' paths of the host, unless proxy-ssl-location-only)",
	"use-regex":                        "regular expressions are RE2 (no look-arounds or back-references), not PCRE; Exact paths on a regex host stay exact",
	"rewrite-target":                   "only $1 to $9 are expanded; a target that is an absolute URL or uses another nginx variable is refused",
	"canary-by-header-pattern":         "RE2 syntax, not PCRE; an expression RE2 refuses is reported when the Ingress is read",
	"affinity-mode":                    "balanced behaves as persistent: a session stays on its endpoint while that endpoint is ready",
	"session-cookie-change-on-failure": "with false, a retry goes to another endpoint but the cookie is kept",
	"upstream-hash-by":                 "rendezvous hashing, not nginx's ketama ring: a key may land on another endpoint than under ingress-nginx (same stability)",
	"limit-allowlist":                  "an invalid list is reported and the limits still apply to everyone",
	"limit-whitelist":                  "an invalid list is reported and the limits still apply to everyone",
	"proxy-next-upstream-tries":        "0 (no limit) means Portico's maximum number of tries",
	"load-balance":                     "ewma is served as least-request (fewest requests in flight), not latency-weighted",
	"proxy-redirect-from":              "literal prefixes only: nginx's regular-expression (~) form and variables are refused",
	"proxy-cookie-path":                "literal prefixes only: nginx's regular-expression (~) form and variables are refused",
	"auth-type":                        "basic only: digest is not supported, and an Ingress asking for it answers 503 (never served unprotected)",
	"auth-secret":                      "an Opaque Secret of the Ingress's own namespace only (allow-cross-namespace-resources has no equivalent)",
	"auth-secret-type":                 "auth-map: a value is the hash up to its first ':' or line break; it cannot add users",
	"auth-realm":                       "a realm of off does not turn authentication off",
	"server-alias":                     "DNS names and *.wildcards only: nginx regular-expression server names and .example.com are refused",
	"mirror-target":                    "$request_uri is the only variable, at the end; copies never slow the client (bounded, dropped when busy), bodies over 64 KiB are not mirrored",
	"custom-http-errors":               "without any default backend the answer is 404 (as ingress-nginx's built-in one); the default backend gets no request body",
	"proxy-next-upstream":              "a response that does not come within proxy-read-timeout is answered 504, not sent to another endpoint",
}
