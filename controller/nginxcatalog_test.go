package controller

import (
	"strings"
	"testing"
	"time"
)

// Every annotation has one group, and every name Portico reads under
// ingress-nginx's prefix is one ingress-nginx defines.
func TestAnnotationGroups(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, g := range annotationGroups {
		if g.parse == nil || len(g.names) == 0 {
			t.Errorf("group %v: no parser or no names", g.names)
		}
		for _, n := range g.names {
			if seen[n] {
				t.Errorf("annotation %s is in two groups", n)
			}
			seen[n] = true
			if _, known := nginxAnnotations[n]; g.nginx && !known {
				t.Errorf("%s is read as %s%s, which ingress-nginx does not define", n, nginxPrefix, n)
			}
			if note := nginxAnnotations[n]; g.nginx && note != "" {
				t.Errorf("%s is supported but its catalog entry says %q", n, note)
			}
		}
	}
}

func TestNginxAnnotations(t *testing.T) {
	t.Parallel()
	o, probs := parseAnnotations(map[string]string{
		nginxPrefix + "proxy-read-timeout":        "30",
		nginxPrefix + "proxy-connect-timeout":     "7",
		annConnectTimeout:                         "2s", // the portico.dev/ name wins
		nginxPrefix + "backend-protocol":          "GRPCS",
		nginxPrefix + "upstream-vhost":            "internal.example",
		nginxPrefix + "proxy-next-upstream-tries": "0",
		nginxPrefix + "enable-modsecurity":        "true",
		nginxPrefix + "no-such-thing":             "1",
		nginxPrefix + "hsts":                      "max-age=1", // Portico's own, not ingress-nginx's
	})
	r := o.route
	if r.ReadTimeout != 30*time.Second || r.ConnectTimeout != 2*time.Second || r.Protocol.String() != "grpcs" ||
		r.UpstreamHost != "internal.example" || r.NextUpstreamTries != maxTries || r.HSTS != "" {
		t.Errorf("parsed %+v", r)
	}
	want := []string{
		"annotation nginx.ingress.kubernetes.io/enable-modsecurity is ignored: Portico has no web application firewall",
		"annotation nginx.ingress.kubernetes.io/hsts is ignored: ingress-nginx defines no such annotation",
		"annotation nginx.ingress.kubernetes.io/no-such-thing is ignored: ingress-nginx defines no such annotation",
	}
	if len(probs) != len(want) {
		t.Fatalf("problems %v, want %d", probs, len(want))
	}
	for i, p := range probs {
		if p.reason != "UnsupportedAnnotation" || !strings.HasPrefix(p.msg, want[i]) {
			t.Errorf("problem %d: %s %q, want UnsupportedAnnotation %q", i, p.reason, p.msg, want[i])
		}
	}
	_, probs = parseAnnotations(map[string]string{nginxPrefix + "proxy-body-size": "lots"})
	if len(probs) != 1 || probs[0].reason != "InvalidAnnotation" || !strings.Contains(probs[0].msg, nginxPrefix+"proxy-body-size") {
		t.Errorf("invalid nginx value: %v", probs)
	}
}
