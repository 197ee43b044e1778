package controller

import (
	"crypto/tls"
	"testing"
)

func TestParseProxySSL(t *testing.T) {
	t.Parallel()
	def := proxySSLOptions{secret: "ns/s", depth: 1, minV: tls.VersionTLS12, maxV: tls.VersionTLS12}
	with := func(f func(*proxySSLOptions)) *proxySSLOptions { p := def; f(&p); return &p }
	tests := []struct {
		ann      map[string]string
		want     *proxySSLOptions
		problems int
	}{
		{map[string]string{"proxy-ssl-secret": "ns/s"}, &def, 0},
		{map[string]string{"proxy-ssl-verify": "on"}, nil, 1}, // no Secret
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-verify": "on", "proxy-ssl-server-name": "on", "proxy-ssl-name": "Backend.Example"},
			with(func(p *proxySSLOptions) { p.verify, p.sni, p.name = true, true, "backend.example" }), 0},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-verify": "yes"}, &def, 1},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-verify-depth": "3"}, with(func(p *proxySSLOptions) { p.depth = 3 }), 0},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-verify-depth": "0"}, &def, 0},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-verify-depth": "-1"}, &def, 1},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-protocols": "TLSv1.2 TLSv1.3"},
			with(func(p *proxySSLOptions) { p.maxV = tls.VersionTLS13 }), 0},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-protocols": "TLSv1.3"},
			with(func(p *proxySSLOptions) { p.minV, p.maxV = tls.VersionTLS13, tls.VersionTLS13 }), 0},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-protocols": "TLSv1 TLSv1.1 TLSv1.2"}, &def, 0},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-protocols": "TLSv1.1"}, &def, 1},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-protocols": "TLSv9"}, &def, 1},
		{map[string]string{"proxy-ssl-secret": "ns/s", "proxy-ssl-name": "bad name"}, &def, 1},
	}
	for _, tt := range tests {
		ann := map[string]string{}
		for k, v := range tt.ann {
			ann[nginxPrefix+k] = v
		}
		o, probs := parseAnnotations(ann)
		if (o.proxySSL == nil) != (tt.want == nil) || o.proxySSL != nil && *o.proxySSL != *tt.want || len(probs) != tt.problems {
			t.Errorf("%v: %+v, problems %v; want %+v and %d problems", tt.ann, o.proxySSL, probs, tt.want, tt.problems)
		}
	}
}
