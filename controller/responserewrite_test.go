package controller

import (
	"testing"

	"portico.dev/portico/router"
)

func TestResponseRewriteAnnotations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ann      map[string]string
		want     *router.ResponseRewrite
		problems int
	}{
		{map[string]string{"proxy-redirect-from": "http://a.internal/", "proxy-redirect-to": "https://a.example/"},
			&router.ResponseRewrite{RedirectFrom: "http://a.internal/", RedirectTo: "https://a.example/"}, 0},
		{map[string]string{"proxy-redirect-from": "off", "proxy-redirect-to": "https://a.example/"}, nil, 0},
		{map[string]string{"proxy-redirect-from": "default"}, nil, 0},
		{map[string]string{"proxy-redirect-from": "http://a.internal/"}, nil, 1},
		{map[string]string{"proxy-redirect-from": "~^http://(.*)$", "proxy-redirect-to": "/"}, nil, 1},
		{map[string]string{"proxy-redirect-from": "http://a/", "proxy-redirect-to": "https://$host/"}, nil, 1},
		{map[string]string{"proxy-redirect-from": "http://a/ x", "proxy-redirect-to": "/"}, nil, 1},
		{map[string]string{"proxy-cookie-domain": "a.internal a.example"},
			&router.ResponseRewrite{CookieDomainFrom: "a.internal", CookieDomainTo: "a.example"}, 0},
		{map[string]string{"proxy-cookie-path": "/app /"}, &router.ResponseRewrite{CookiePathFrom: "/app", CookiePathTo: "/"}, 0},
		{map[string]string{"proxy-cookie-path": "off", "proxy-cookie-domain": "off"}, nil, 0},
		{map[string]string{"proxy-cookie-path": "/app"}, nil, 1},
		{map[string]string{"proxy-cookie-domain": "a b c"}, nil, 1},
		{map[string]string{"proxy-cookie-domain": "a;b c"}, nil, 1},
	}
	for _, tt := range tests {
		ann := map[string]string{}
		for k, v := range tt.ann {
			ann[nginxPrefix+k] = v
		}
		o, probs := parseAnnotations(ann)
		got := o.route.ResponseRewrite
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want || len(probs) != tt.problems {
			t.Errorf("%v: %+v, problems %v; want %+v and %d problems", tt.ann, got, probs, tt.want, tt.problems)
		}
	}
}

func TestAccessLogAndLoadBalanceAnnotations(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		key, val string
		check    func(o *router.Options) bool
		problems int
	}{
		{"enable-access-log", "false", func(o *router.Options) bool { return o.NoAccessLog }, 0},
		{"enable-access-log", "true", func(o *router.Options) bool { return !o.NoAccessLog }, 0},
		{"enable-access-log", "no", func(o *router.Options) bool { return !o.NoAccessLog }, 1},
		{"load-balance", "ewma", func(o *router.Options) bool { return o.Balance == router.LeastRequest }, 0},
		{"load-balance", "round_robin", func(o *router.Options) bool { return o.Balance == router.RoundRobin }, 0},
		{"load-balance", "chash", func(o *router.Options) bool { return o.Balance == router.RoundRobin }, 1},
	} {
		o, probs := parseAnnotations(map[string]string{nginxPrefix + tt.key: tt.val})
		if !tt.check(&o.route) || len(probs) != tt.problems {
			t.Errorf("%s=%s: options %+v, problems %v", tt.key, tt.val, o.route, probs)
		}
	}
}
