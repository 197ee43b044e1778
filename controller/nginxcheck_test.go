package controller

import "testing"

func TestCheckAnnotations(t *testing.T) {
	t.Parallel()
	got := CheckAnnotations(map[string]string{
		nginxPrefix + "rewrite-target":        "/$1",
		nginxPrefix + "use-regex":             "true",
		nginxPrefix + "enable-modsecurity":    "true",
		nginxPrefix + "no-such-thing":         "x",
		nginxPrefix + "proxy-body-size":       "lots",
		nginxPrefix + "proxy-read-timeout":    "30",
		porticoPrefix + "proxy-read-timeout":  "5s",
		porticoPrefix + "nope":                "x",
		nginxPrefix + "proxy-connect-timeout": "7",
		"kubernetes.io/ingress.class":         "nginx", // not ours: not listed
	})
	want := []struct {
		key    string
		status CheckStatus
		note   string // "" for none, "*" for any
	}{
		{nginxPrefix + "enable-modsecurity", Ignored, "Portico has no web application firewall; put one behind it"},
		{nginxPrefix + "no-such-thing", Ignored, "ingress-nginx defines no such annotation"},
		{nginxPrefix + "proxy-body-size", Invalid, "*"},
		{nginxPrefix + "proxy-connect-timeout", Honoured, ""},
		{nginxPrefix + "proxy-read-timeout", Ignored, "overridden by portico.dev/proxy-read-timeout"},
		{nginxPrefix + "rewrite-target", Honoured, nginxDiffers["rewrite-target"]},
		{nginxPrefix + "use-regex", Honoured, nginxDiffers["use-regex"]},
		{porticoPrefix + "nope", Ignored, "Portico defines no such annotation"},
		{porticoPrefix + "proxy-read-timeout", Honoured, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d checks %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Key != w.key || g.Status != w.status || (w.note != "*" && g.Note != w.note) || (w.note == "*" && g.Note == "") {
			t.Errorf("check %d: got %+v, want %s %v %q", i, g, w.key, w.status, w.note)
		}
	}
}
