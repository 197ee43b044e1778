package controller

import (
	"net"
	"strings"
	"testing"

	"portico.dev/portico/router"
)

func TestMirrorParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ann  map[string]string
		want *router.MirrorURL // nil: no mirror
		bad  string            // the annotation reported, "" for none
	}{
		{"request_uri as the docs show", map[string]string{"mirror-target": "https://test.env.com$request_uri"},
			&router.MirrorURL{Scheme: "https", Addr: "test.env.com:443", Path: "", RequestURI: true, Host: "test.env.com"}, ""},
		{"ingress-nginx e2e target with a slash", map[string]string{"mirror-target": "https://test.env.com/$request_uri"},
			&router.MirrorURL{Scheme: "https", Addr: "test.env.com:443", Path: "/", RequestURI: true, Host: "test.env.com"}, ""},
		{"fixed path, body off", map[string]string{"mirror-target": "http://localhost/mirror", "mirror-request-body": "off"},
			&router.MirrorURL{Scheme: "http", Addr: "localhost:80", Path: "/mirror", Host: "localhost", NoBody: true}, ""},
		{"mirror-host overrides the Host; any other body value is on", map[string]string{"mirror-target": "http://1.2.3.4:8080$request_uri",
			"mirror-host": "Test.Env.com", "mirror-request-body": "yes"},
			&router.MirrorURL{Scheme: "http", Addr: "1.2.3.4:8080", RequestURI: true, Host: "test.env.com"}, ""},
		{"no path", map[string]string{"mirror-target": "http://m.example"},
			&router.MirrorURL{Scheme: "http", Addr: "m.example:80", Path: "/", Host: "m.example"}, ""},
		{"IPv6", map[string]string{"mirror-target": "http://[fd00::1]:81$request_uri"},
			&router.MirrorURL{Scheme: "http", Addr: "[fd00::1]:81", RequestURI: true, Host: "[fd00::1]"}, ""},
		{"bad mirror-host keeps the target's", map[string]string{"mirror-target": "http://m.example$request_uri", "mirror-host": "a b"},
			&router.MirrorURL{Scheme: "http", Addr: "m.example:80", RequestURI: true, Host: "m.example"}, "mirror-host"},
		{"other variables are refused", map[string]string{"mirror-target": "http://m.example/$host$request_uri"}, nil, "mirror-target"},
		{"variable not at the end", map[string]string{"mirror-target": "http://m.example$request_uri/x"}, nil, "mirror-target"},
		{"not http", map[string]string{"mirror-target": "ftp://m.example/"}, nil, "mirror-target"},
		{"no host", map[string]string{"mirror-target": "/mirror"}, nil, "mirror-target"},
		{"query", map[string]string{"mirror-target": "http://m.example/?a=b"}, nil, "mirror-target"},
		{"userinfo", map[string]string{"mirror-target": "http://u:p@m.example/"}, nil, "mirror-target"},
		{"bad port", map[string]string{"mirror-target": "http://m.example:99999/"}, nil, "mirror-target"},
		{"header injection in host", map[string]string{"mirror-target": "http://m.example%0d%0aX:1/"}, nil, "mirror-target"},
		{"empty target: none", map[string]string{"mirror-target": ""}, nil, ""},
		{"host alone does nothing", map[string]string{"mirror-host": "x.example"}, nil, ""},
	}
	for _, tt := range tests {
		ann := map[string]string{}
		for k, v := range tt.ann {
			ann[nginxPrefix+k] = v
		}
		o, probs := parseAnnotations(ann)
		var got *router.MirrorURL
		if len(o.filters.Mirrors) == 1 {
			got = o.filters.Mirrors[0].URL
		} else if len(o.filters.Mirrors) > 1 {
			t.Errorf("%s: %d mirrors", tt.name, len(o.filters.Mirrors))
		}
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("%s: mirror %+v, want %+v", tt.name, got, tt.want)
		}
		switch {
		case tt.bad == "" && len(probs) > 0:
			t.Errorf("%s: problems %+v", tt.name, probs)
		case tt.bad != "" && (len(probs) != 1 || probs[0].reason != "InvalidAnnotation" || !strings.Contains(probs[0].msg, nginxPrefix+tt.bad)):
			t.Errorf("%s: problems %+v, want one about %s", tt.name, probs, tt.bad)
		}
	}
}

func TestMirrorTarget(t *testing.T) {
	t.Parallel()
	m, _ := parseMirrorTarget("https://test.env.com/copy$request_uri")
	u, err := m.Target("/a%2Fb?x=1", "x=1")
	if err != nil || u.String() != "https://test.env.com:443/copy/a%2Fb?x=1" {
		t.Errorf("target %v, %v", u, err)
	}
	m, _ = parseMirrorTarget("http://m.example/fixed path")
	if u, _ := m.Target("/ignored?q=1", "q=1"); u.String() != "http://m.example:80/fixed%20path?q=1" {
		t.Errorf("target %v", u)
	}
}

// FuzzMirrorTarget: whatever the annotation says, an accepted target has an
// http(s) scheme, a host:port to dial and a Host header without spaces or
// control bytes, and building the copy's URL never panics.
func FuzzMirrorTarget(f *testing.F) {
	for _, s := range []string{"https://test.env.com$request_uri", "http://1.2.3.4:8080/x$request_uri", "http://[fd00::1]/m",
		"http://a$request_uri$request_uri", "http://a%0d%0a/", "http://x.example/$host", "//x/$request_uri"} {
		f.Add(s, "/p?q=1")
	}
	f.Fuzz(func(t *testing.T, s, uri string) {
		m, why := parseMirrorTarget(s)
		if m == nil {
			if why == "" {
				t.Errorf("%q refused without a reason", s)
			}
			return
		}
		if m.Scheme != "http" && m.Scheme != "https" || strings.ContainsAny(m.Host, " \t\r\n") || m.Host == "" {
			t.Errorf("%q: %+v", s, m)
		}
		if _, _, err := net.SplitHostPort(m.Addr); err != nil {
			t.Errorf("%q: addr %q: %v", s, m.Addr, err)
		}
		_, _ = m.Target(uri, "")
	})
}
