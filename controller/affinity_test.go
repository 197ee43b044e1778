package controller

import (
	"strconv"
	"strings"
	"testing"
)

func TestAffinityParse(t *testing.T) {
	t.Parallel()
	n := nginxPrefix
	tests := []struct {
		name    string
		ann     map[string]string
		want    string // summary of the Affinity, "" for none
		invalid string // annotation an InvalidAnnotation names
	}{
		{"none", map[string]string{n + "session-cookie-name": "X"}, "", ""},
		{"defaults", map[string]string{n + "affinity": "cookie"}, "INGRESSCOOKIE path= domain= maxage=0 expires=0s secure=nil samesite=0 legacy=false", ""},
		{"all", map[string]string{n + "affinity": "cookie", n + "affinity-mode": "persistent", n + "session-cookie-name": "SERVERID",
			n + "session-cookie-path": "/something", n + "session-cookie-domain": "foo.bar", n + "session-cookie-max-age": "259200",
			n + "session-cookie-expires": "172800", n + "session-cookie-secure": "true", n + "session-cookie-samesite": "None",
			n + "affinity-canary-behavior": "legacy"},
			"SERVERID path=/something domain=foo.bar maxage=259200 expires=48h0m0s secure=true samesite=4 legacy=true", ""},
		{"samesite lax", map[string]string{n + "affinity": "cookie", n + "session-cookie-samesite": "lax"}, "INGRESSCOOKIE path= domain= maxage=0 expires=0s secure=nil samesite=2 legacy=false", ""},
		{"bad type", map[string]string{n + "affinity": "ip"}, "", n + "affinity"},
		{"bad mode", map[string]string{n + "affinity": "cookie", n + "affinity-mode": "sticky"}, "INGRESSCOOKIE path= domain= maxage=0 expires=0s secure=nil samesite=0 legacy=false", n + "affinity-mode"},
		{"bad name", map[string]string{n + "affinity": "cookie", n + "session-cookie-name": "a;b"}, "INGRESSCOOKIE path= domain= maxage=0 expires=0s secure=nil samesite=0 legacy=false", n + "session-cookie-name"},
		{"bad path", map[string]string{n + "affinity": "cookie", n + "session-cookie-path": "/a; Domain=evil"}, "INGRESSCOOKIE path= domain= maxage=0 expires=0s secure=nil samesite=0 legacy=false", n + "session-cookie-path"},
		{"bad domain", map[string]string{n + "affinity": "cookie", n + "session-cookie-domain": "a b"}, "INGRESSCOOKIE path= domain= maxage=0 expires=0s secure=nil samesite=0 legacy=false", n + "session-cookie-domain"},
		{"bad max-age", map[string]string{n + "affinity": "cookie", n + "session-cookie-max-age": "1d"}, "INGRESSCOOKIE path= domain= maxage=0 expires=0s secure=nil samesite=0 legacy=false", n + "session-cookie-max-age"},
		{"bad samesite", map[string]string{n + "affinity": "cookie", n + "session-cookie-samesite": "always"}, "INGRESSCOOKIE path= domain= maxage=0 expires=0s secure=nil samesite=0 legacy=false", n + "session-cookie-samesite"},
		{"bad canary behavior", map[string]string{n + "affinity": "cookie", n + "affinity-canary-behavior": "x"}, "INGRESSCOOKIE path= domain= maxage=0 expires=0s secure=nil samesite=0 legacy=false", n + "affinity-canary-behavior"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, probs := parseAnnotations(tt.ann)
			got := ""
			if a := o.route.Affinity; a != nil {
				sec := "nil"
				if a.Secure != nil {
					sec = strconv.FormatBool(*a.Secure)
				}
				got = a.Cookie + " path=" + a.Path + " domain=" + a.Domain + " maxage=" + itoa(uint32(a.MaxAge)) +
					" expires=" + a.Expires.String() + " secure=" + sec + " samesite=" + itoa(uint32(a.SameSite)) +
					" legacy=" + strconv.FormatBool(a.CanaryLegacy)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.invalid == "" && len(probs) > 0 || tt.invalid != "" && (len(probs) != 1 || !strings.Contains(probs[0].msg, tt.invalid+":")) {
				t.Errorf("problems %+v, want InvalidAnnotation for %q", probs, tt.invalid)
			}
		})
	}
}

func TestAffinityChangeOnFailureParse(t *testing.T) {
	t.Parallel()
	o, probs := parseAnnotations(map[string]string{nginxPrefix + "affinity": "cookie", nginxPrefix + "session-cookie-change-on-failure": "true"})
	if o.route.Affinity == nil || !o.route.Affinity.ChangeOnFailure || len(probs) != 0 {
		t.Errorf("affinity %+v problems %+v", o.route.Affinity, probs)
	}
	_, probs = parseAnnotations(map[string]string{nginxPrefix + "affinity": "cookie", nginxPrefix + "session-cookie-change-on-failure": "yes"})
	if len(probs) != 1 || !strings.Contains(probs[0].msg, "session-cookie-change-on-failure") {
		t.Errorf("problems %+v", probs)
	}
}

func TestAffinityCanaryLegacy(t *testing.T) {
	t.Parallel()
	o, _ := parseAnnotations(map[string]string{nginxPrefix + "canary": "true", nginxPrefix + "affinity-canary-behavior": "legacy"})
	if o.canary == nil || !o.canary.rules.AffinityLegacy || o.route.Affinity != nil {
		t.Errorf("canary %+v affinity %+v", o.canary, o.route.Affinity)
	}
}
