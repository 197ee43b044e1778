package controller

import (
	"slices"
	"strings"
	"testing"

	"portico.dev/portico/router"
)

// TestParseNginxRedirects: ssl-redirect's trailing-slash rule, app-root's
// "$is_args$args" and cors-allow-origin of blanks, as ingress-nginx reads
// them.
func TestParseNginxRedirects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ann     map[string]string
		check   func(o ingressOptions) bool
		problem string // a problem message containing this; "" for none
	}{
		{"no annotation: Portico's redirect keeps the slash", map[string]string{annForceSSLRedirect: "true"},
			func(o ingressOptions) bool { return o.forceRedirect && !o.route.SSLRedirectTrimSlash }, ""},
		{"nginx force-ssl-redirect trims", map[string]string{nginxPrefix + "force-ssl-redirect": "true"},
			func(o ingressOptions) bool { return o.forceRedirect && o.route.SSLRedirectTrimSlash }, ""},
		{"nginx ssl-redirect trims", map[string]string{nginxPrefix + "ssl-redirect": "true"},
			func(o ingressOptions) bool { return o.route.SSLRedirect && o.route.SSLRedirectTrimSlash }, ""},
		{"nginx preserve-trailing-slash false trims", map[string]string{nginxPrefix + "preserve-trailing-slash": "false"},
			func(o ingressOptions) bool { return o.route.SSLRedirect && o.route.SSLRedirectTrimSlash }, ""},
		{"preserve-trailing-slash true keeps it", map[string]string{nginxPrefix + "ssl-redirect": "true", nginxPrefix + "preserve-trailing-slash": "true"},
			func(o ingressOptions) bool { return o.route.SSLRedirect && !o.route.SSLRedirectTrimSlash }, ""},
		{"preserve-trailing-slash invalid", map[string]string{nginxPrefix + "ssl-redirect": "true", nginxPrefix + "preserve-trailing-slash": "yes please"},
			func(o ingressOptions) bool { return o.route.SSLRedirectTrimSlash }, "preserve-trailing-slash"},
		{"app-root", map[string]string{nginxPrefix + "app-root": "/foo"},
			func(o ingressOptions) bool {
				return o.redirects.appRoot == "/foo" && o.redirects.appRootForm == router.FormAppRoot
			}, ""},
		{"app-root with $is_args$args keeps the query", map[string]string{nginxPrefix + "app-root": "/login$is_args$args"},
			func(o ingressOptions) bool {
				return o.redirects.appRoot == "/login" && o.redirects.appRootForm == router.FormAppRootArgs
			}, ""},
		{"app-root with another variable", map[string]string{nginxPrefix + "app-root": "/login$request_uri"},
			func(o ingressOptions) bool { return o.redirects.appRoot == "" }, "app-root"},
		{"app-root of only $is_args$args", map[string]string{nginxPrefix + "app-root": "$is_args$args"},
			func(o ingressOptions) bool { return o.redirects.appRoot == "" }, "app-root"},
		{"cors-allow-origin of blanks allows all", map[string]string{nginxPrefix + "enable-cors": "true", nginxPrefix + "cors-allow-origin": "      "},
			func(o ingressOptions) bool {
				return o.filters.CORS != nil && slices.Equal(o.filters.CORS.AllowOrigins, []string{"*"})
			}, ""},
		{"cors-allow-origin of commas allows none", map[string]string{nginxPrefix + "enable-cors": "true", nginxPrefix + "cors-allow-origin": " , ,"},
			func(o ingressOptions) bool { return o.filters.CORS != nil && len(o.filters.CORS.AllowOrigins) == 0 }, ""},
		{"cors-allow-origin with a trailing comma", map[string]string{nginxPrefix + "enable-cors": "true",
			nginxPrefix + "cors-allow-origin": "https://a.test:8080,   ,https://b.test:8080,"},
			func(o ingressOptions) bool {
				return slices.Equal(o.filters.CORS.AllowOrigins, []string{"https://a.test:8080", "https://b.test:8080"})
			}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, probs := parseAnnotations(tc.ann)
			if !tc.check(o) {
				t.Errorf("options %+v do not pass the check", o)
			}
			found := false
			for _, p := range probs {
				found = found || (tc.problem != "" && strings.Contains(p.msg, tc.problem))
			}
			if tc.problem == "" && len(probs) > 0 || tc.problem != "" && !found {
				t.Errorf("problems %v, want one about %q", probs, tc.problem)
			}
		})
	}
}
