package controller

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/router"
)

func TestParseNginxConfig(t *testing.T) {
	const defHSTS = "max-age=31536000; includeSubDomains"
	tests := []struct {
		name        string
		data        map[string]string
		trusted     bool
		check       func(t *testing.T, c *NginxConfig)
		problems    []string // keys with a problem
		unsupported []string
	}{
		{name: "absent: ingress-nginx defaults", data: nil, check: func(t *testing.T, c *NginxConfig) {
			want := router.Options{MaxBodyBytes: 1 << 20, SSLRedirect: true}
			if c.Route != want || c.ForceSSLRedirect || c.HSTS != defHSTS || c.HSTSSet || c.AllowSnippetAnnotations {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "sizes and timeouts", data: map[string]string{"proxy-body-size": "8k", "proxy-connect-timeout": "3",
			"proxy-read-timeout": "120", "proxy-send-timeout": "2m"}, check: func(t *testing.T, c *NginxConfig) {
			r := c.Route
			if r.MaxBodyBytes != 8<<10 || r.ConnectTimeout != 3*time.Second || r.ReadTimeout != 120*time.Second || r.SendTimeout != 2*time.Minute {
				t.Errorf("got %+v", r)
			}
		}},
		{name: "body size 0 is unlimited", data: map[string]string{"proxy-body-size": "0"}, check: func(t *testing.T, c *NginxConfig) {
			if c.Route.MaxBodyBytes != 0 {
				t.Errorf("MaxBodyBytes = %d", c.Route.MaxBodyBytes)
			}
		}},
		{name: "invalid values keep defaults", data: map[string]string{"proxy-body-size": "lots", "proxy-read-timeout": "-1",
			"ssl-redirect": "maybe", "hsts-max-age": "1y", "gzip-level": "10", "gzip-min-length": "-5", "gzip-types": "html"},
			problems: []string{"gzip-level", "gzip-min-length", "gzip-types", "hsts-max-age", "proxy-body-size", "proxy-read-timeout", "ssl-redirect"},
			check: func(t *testing.T, c *NginxConfig) {
				if c.Route.MaxBodyBytes != 1<<20 || c.Route.ReadTimeout != 0 || !c.Route.SSLRedirect || c.HSTS != defHSTS {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "ssl redirects", data: map[string]string{"ssl-redirect": "false", "force-ssl-redirect": "true"}, check: func(t *testing.T, c *NginxConfig) {
			if c.Route.SSLRedirect || !c.ForceSSLRedirect {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "hsts off", data: map[string]string{"hsts": "false"}, check: func(t *testing.T, c *NginxConfig) {
			if c.HSTS != "" || !c.HSTSSet {
				t.Errorf("HSTS = %q, set %v", c.HSTS, c.HSTSSet)
			}
		}},
		{name: "hsts parts", data: map[string]string{"hsts-max-age": "600", "hsts-include-subdomains": "false", "hsts-preload": "true"},
			check: func(t *testing.T, c *NginxConfig) {
				if c.HSTS != "max-age=600; preload" {
					t.Errorf("HSTS = %q", c.HSTS)
				}
			}},
		{name: "gzip off by default", data: map[string]string{"gzip-level": "5"}, check: func(t *testing.T, c *NginxConfig) {
			if c.Route.Compress != nil {
				t.Errorf("Compress = %+v without use-gzip", c.Route.Compress)
			}
		}},
		{name: "gzip defaults", data: map[string]string{"use-gzip": "true"}, check: func(t *testing.T, c *NginxConfig) {
			cp := c.Route.Compress
			if cp == nil || cp.Level != 1 || cp.MinLength != 256 || cp.AnyType || !cp.Zstd {
				t.Fatalf("Compress = %+v", cp)
			}
			for _, typ := range []string{"text/html", "text/css", "application/json", "image/svg+xml", "text/plain; charset=utf-8", "Application/JSON"} {
				if !cp.Compressible(typ) {
					t.Errorf("%s not compressible", typ)
				}
			}
			for _, typ := range []string{"image/png", "application/octet-stream", "", "text/event-stream"} {
				if cp.Compressible(typ) {
					t.Errorf("%q compressible", typ)
				}
			}
		}},
		{name: "gzip types", data: map[string]string{"use-gzip": "true", "gzip-types": "application/x-custom  text/css", "gzip-level": "9", "gzip-min-length": "0"},
			check: func(t *testing.T, c *NginxConfig) {
				cp := c.Route.Compress
				if cp.Level != 9 || cp.MinLength != 0 || !cp.Compressible("application/x-custom") || cp.Compressible("application/json") ||
					!cp.Compressible("text/html") {
					t.Errorf("Compress = %+v", cp)
				}
			}},
		{name: "gzip any type", data: map[string]string{"use-gzip": "true", "gzip-types": "*"}, check: func(t *testing.T, c *NginxConfig) {
			if !c.Route.Compress.Compressible("image/png") {
				t.Error("* does not match image/png")
			}
		}},
		{name: "snippets", data: map[string]string{"allow-snippet-annotations": "true"}, check: func(t *testing.T, c *NginxConfig) {
			if !c.AllowSnippetAnnotations {
				t.Error("AllowSnippetAnnotations false")
			}
		}},
		{name: "forwarded headers without trusted proxies", data: map[string]string{"use-forwarded-headers": "true", "enable-real-ip": "true",
			"compute-full-forwarded-for": "false"}, problems: []string{"enable-real-ip", "use-forwarded-headers"}},
		{name: "forwarded headers with trusted proxies", trusted: true, data: map[string]string{"use-forwarded-headers": "true",
			"enable-real-ip": "true", "compute-full-forwarded-for": "true", "forwarded-for-header": "x-forwarded-for"}},
		{name: "compute-full-forwarded-for false with trusted proxies", trusted: true,
			data: map[string]string{"compute-full-forwarded-for": "false"}, problems: []string{"compute-full-forwarded-for"}},
		{name: "other forwarded-for header", data: map[string]string{"forwarded-for-header": "X-Client-IP"}, problems: []string{"forwarded-for-header"}},
		{name: "unknown keys listed sorted", data: map[string]string{"worker-processes": "4", "enable-brotli": "true", "use-gzip": "false"},
			unsupported: []string{"enable-brotli", "worker-processes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, probs, unsupported := ParseNginxConfig(tt.data, tt.trusted)
			var keys []string
			for _, p := range probs {
				keys = append(keys, p.Key)
				if p.Message == "" {
					t.Errorf("%s: empty message", p.Key)
				}
			}
			if !slices.Equal(keys, tt.problems) {
				t.Errorf("problems %v, want %v (%+v)", keys, tt.problems, probs)
			}
			if !slices.Equal(unsupported, tt.unsupported) {
				t.Errorf("unsupported %v, want %v", unsupported, tt.unsupported)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestNginxConfigInvalidMessage(t *testing.T) {
	_, probs, _ := ParseNginxConfig(map[string]string{"proxy-body-size": "lots"}, false)
	if len(probs) != 1 || !strings.Contains(probs[0].Message, `"lots"`) || !strings.Contains(probs[0].Message, "using the default 1m") {
		t.Errorf("problems %+v", probs)
	}
}

// TestCompileNginxConfig: annotation > ConfigMap > flag.
func TestCompileNginxConfig(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "svc"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	ing := func(name, host string, ann map[string]string) *networkingv1.Ingress {
		pt := networkingv1.PathTypePrefix
		cls := "portico"
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Annotations: ann},
			Spec: networkingv1.IngressSpec{IngressClassName: &cls,
				TLS: []networkingv1.IngressTLS{{Hosts: []string{host}}},
				Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pt, Backend: networkingv1.IngressBackend{
						Service: &networkingv1.IngressServiceBackend{Name: "svc", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
	}
	nc, _, _ := ParseNginxConfig(map[string]string{"proxy-body-size": "1k", "proxy-read-timeout": "7", "use-gzip": "true"}, false)
	snap := &Snapshot{
		Ingresses: []*networkingv1.Ingress{
			ing("plain", "a.example", nil),
			ing("annotated", "b.example", map[string]string{"nginx.ingress.kubernetes.io/proxy-body-size": "0",
				"nginx.ingress.kubernetes.io/proxy-read-timeout": "9", "portico.dev/hsts": "max-age=5"}),
		},
		Classes:  []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "portico"}, Spec: networkingv1.IngressClassSpec{Controller: "portico.dev/ingress-controller"}}},
		Services: map[types.NamespacedName]*corev1.Service{{Namespace: "ns", Name: "svc"}: svc},
		Nginx:    nc,
	}
	cfg := CompileConfig{Class: ClassConfig{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico"}, HSTS: "max-age=1"}
	res := Compile(snap, cfg)
	opts := map[string]*router.Options{}
	for _, r := range res.Table.Routes() {
		opts[r.Host] = r.Options
	}
	a, b := opts["a.example"], opts["b.example"]
	if a == nil || b == nil {
		t.Fatalf("routes %v, problems %+v", opts, res.Problems)
	}
	if a.MaxBodyBytes != 1<<10 || a.ReadTimeout != 7*time.Second || a.Compress == nil || a.HSTS != "max-age=1" {
		t.Errorf("ConfigMap defaults: %+v", a)
	}
	if b.MaxBodyBytes != 0 || b.ReadTimeout != 9*time.Second || b.Compress == nil || b.HSTS != "max-age=5" {
		t.Errorf("annotations over the ConfigMap: %+v", b)
	}
	// hsts keys in the ConfigMap win over --hsts.
	snap.Nginx, _, _ = ParseNginxConfig(map[string]string{"hsts-max-age": "60"}, false)
	res = Compile(snap, cfg)
	for _, r := range res.Table.Routes() {
		if r.Host == "a.example" && r.Options.HSTS != "max-age=60; includeSubDomains" {
			t.Errorf("HSTS = %q", r.Options.HSTS)
		}
	}
	// Without the ConfigMap, nothing changes.
	snap.Nginx = nil
	res = Compile(snap, cfg)
	for _, r := range res.Table.Routes() {
		if r.Host == "a.example" && (r.Options.MaxBodyBytes != 0 || r.Options.Compress != nil || r.Options.HSTS != "max-age=1") {
			t.Errorf("without ConfigMap: %+v", r.Options)
		}
	}
}

// FuzzParseNginxConfig: any value of any key is a problem at worst, never
// a panic, and an invalid value keeps the default.
func FuzzParseNginxConfig(f *testing.F) {
	for _, s := range []string{"1k", "0", "true", "60", "text/css *", "max-age=1", "", "9", "-1", "X-Forwarded-For"} {
		f.Add("proxy-body-size", s)
		f.Add("gzip-types", s)
	}
	f.Fuzz(func(t *testing.T, key, val string) {
		keys := []string{key}
		for k := range nginxConfigKeys {
			keys = append(keys, k)
		}
		for _, k := range keys {
			c, probs, unsupported := ParseNginxConfig(map[string]string{k: val}, len(val)%2 == 0)
			if c == nil || len(probs)+len(unsupported) > 2 {
				t.Fatalf("%s=%q: %+v %+v %v", k, val, c, probs, unsupported)
			}
			if strings.ContainsAny(c.HSTS, "\r\n") {
				t.Fatalf("%s=%q: HSTS %q", k, val, c.HSTS)
			}
			if cp := c.Route.Compress; cp != nil && (cp.Level < 1 || cp.Level > 9 || cp.MinLength < 0) {
				t.Fatalf("%s=%q: Compress %+v", k, val, cp)
			}
		}
	})
}

func TestGlobalAuth(t *testing.T) {
	t.Parallel()
	nc, probs, _ := ParseNginxConfig(map[string]string{"global-auth-url": "http://auth.example/check", "global-auth-method": "POST"}, false)
	if len(probs) != 0 || nc.Route.Auth == nil || nc.Route.Auth.External == nil || nc.Route.Auth.External.Method != "POST" {
		t.Fatalf("global auth %+v, problems %v", nc.Route.Auth, probs)
	}
	for _, tt := range []struct {
		ann  map[string]string
		want string // "global", "own" or "none"
	}{
		{nil, "global"},
		{map[string]string{nginxPrefix + "enable-global-auth": "false"}, "none"},
		{map[string]string{nginxPrefix + "enable-global-auth": "true"}, "global"},
		{map[string]string{nginxPrefix + "auth-url": "http://own.example/"}, "own"},
		{map[string]string{nginxPrefix + "auth-url": "http://own.example/", nginxPrefix + "enable-global-auth": "false"}, "own"},
	} {
		o, _ := parseAnnotationsOver(tt.ann, nc)
		got := "own"
		switch o.route.Auth {
		case nil:
			got = "none"
		case nc.Route.Auth:
			got = "global"
		}
		if got != tt.want {
			t.Errorf("%v: auth is %s, want %s", tt.ann, got, tt.want)
		}
	}
	// Unusable global settings deny rather than serve unauthenticated.
	nc, probs, _ = ParseNginxConfig(map[string]string{"global-auth-url": "ftp://x"}, false)
	if len(probs) != 1 || probs[0].Key != "global-auth-url" || nc.Route.Auth == nil || !nc.Route.Auth.Deny {
		t.Errorf("invalid global-auth-url: auth %+v, problems %v", nc.Route.Auth, probs)
	}
}
