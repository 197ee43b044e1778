package controller

import (
	"reflect"
	"testing"
	"time"

	"portico.dev/portico/router"
)

func TestNextUpstreamParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ann  map[string]string
		want *router.NextUpstream
		bad  bool
	}{
		// ingress-nginx annotations/proxy.go "should build proxy next upstream" (values as its e2e sets them)
		{map[string]string{"proxy-next-upstream": "error timeout http_502", "proxy-next-upstream-timeout": "999999"},
			&router.NextUpstream{Error: true, Timeout: true, Codes: []int{502}, Within: maxTimeout}, false},
		{map[string]string{"proxy-next-upstream": "error timeout http_503", "proxy-next-upstream-timeout": "10"},
			&router.NextUpstream{Error: true, Timeout: true, Codes: []int{503}, Within: 10 * time.Second}, false},
		{map[string]string{"proxy-next-upstream": "off"}, &router.NextUpstream{}, false},
		{map[string]string{"proxy-next-upstream": "http_500 off error"}, &router.NextUpstream{}, false},
		{map[string]string{"proxy-next-upstream": "invalid_header http_403 http_404 http_429 non_idempotent"},
			&router.NextUpstream{InvalidHeader: true, Codes: []int{403, 404, 429}, NonIdempotent: true}, false},
		// timeout alone: the default conditions, bounded in time.
		{map[string]string{"proxy-next-upstream-timeout": "5"}, &router.NextUpstream{Error: true, Timeout: true, Within: 5 * time.Second}, false},
		{map[string]string{"proxy-next-upstream-timeout": "0"}, &router.NextUpstream{Error: true, Timeout: true}, false},
		{map[string]string{"proxy-next-upstream": "error http_418"}, nil, true},
		{map[string]string{"proxy-next-upstream": ""}, nil, true},
		{map[string]string{"proxy-next-upstream": "error", "proxy-next-upstream-timeout": "-1"}, &router.NextUpstream{Error: true}, true},
	} {
		ann := map[string]string{}
		for k, v := range tt.ann {
			ann[nginxPrefix+k] = v
		}
		o, probs := parseAnnotations(ann)
		if !reflect.DeepEqual(o.route.NextUpstream, tt.want) || (len(probs) > 0) != tt.bad {
			t.Errorf("%v: %+v, problems %+v; want %+v", tt.ann, o.route.NextUpstream, probs, tt.want)
		}
	}
}
