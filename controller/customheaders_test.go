package controller

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/router"
)

func TestCompileCustomHeaders(t *testing.T) {
	prefix := networkingv1.PathTypePrefix
	const ann = nginxPrefix + "custom-headers"
	cm := func(ns, name string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	}
	good := cm("ns", "custom-headers", map[string]string{"My-Custom-Header": "42", "My-Custom-Header-Dollar": "$remote_addr"})
	tests := []struct {
		name    string
		value   string
		snippet string
		cms     []*corev1.ConfigMap
		noRead  bool     // Snapshot.ConfigMaps nil: no RBAC
		allowed []string // CompileConfig.AllowedResponseHeaders
		want    []router.HeaderField
		problem string // reason: message part; the paths answer 503
	}{
		{name: "headers are set, $ literally", value: "ns/custom-headers", cms: []*corev1.ConfigMap{good},
			want: []router.HeaderField{{Name: "My-Custom-Header", Value: "42"}, {Name: "My-Custom-Header-Dollar", Value: "$remote_addr"}}},
		{name: "a bare name is the Ingress's namespace", value: "custom-headers", cms: []*corev1.ConfigMap{good},
			want: []router.HeaderField{{Name: "My-Custom-Header", Value: "42"}, {Name: "My-Custom-Header-Dollar", Value: "$remote_addr"}}},
		{name: "custom-headers run after the configuration-snippet", value: "ns/c", snippet: `more_set_headers "X-A: snippet" "X-B: b";`,
			cms:  []*corev1.ConfigMap{cm("ns", "c", map[string]string{"X-A": "custom"})},
			want: []router.HeaderField{{Name: "X-B", Value: "b"}, {Name: "X-A", Value: "custom"}}},
		{name: "allowed list", value: "ns/custom-headers", cms: []*corev1.ConfigMap{good}, allowed: []string{"my-custom-header", "My-Custom-Header-Dollar"},
			want: []router.HeaderField{{Name: "My-Custom-Header", Value: "42"}, {Name: "My-Custom-Header-Dollar", Value: "$remote_addr"}}},
		{name: "missing ConfigMap", value: "ns/custom-headers", problem: "ConfigMapNotFound: no ConfigMap ns/custom-headers"},
		{name: "no permission", value: "ns/custom-headers", noRead: true, problem: "ConfigMapNotFound: may not read ConfigMaps"},
		{name: "another namespace", value: "other/custom-headers", cms: []*corev1.ConfigMap{cm("other", "custom-headers", map[string]string{"X-A": "a"})},
			problem: "InvalidAnnotation: is not in the Ingress's namespace"},
		{name: "bad header name", value: "ns/c", cms: []*corev1.ConfigMap{cm("ns", "c", map[string]string{"X A": "a"})},
			problem: `InvalidAnnotation: invalid header name "X A"`},
		{name: "bad header value", value: "ns/c", cms: []*corev1.ConfigMap{cm("ns", "c", map[string]string{"X-A": "a\r\nSet-Cookie: x"})},
			problem: "InvalidAnnotation: invalid value of header X-A"},
		{name: "framing header", value: "ns/c", cms: []*corev1.ConfigMap{cm("ns", "c", map[string]string{"Content-Length": "1"})},
			problem: "InvalidAnnotation: invalid header name"},
		{name: "not in the allowed list", value: "ns/custom-headers", cms: []*corev1.ConfigMap{good}, allowed: []string{"My-Custom-Header"},
			problem: "InvalidAnnotation: header My-Custom-Header-Dollar is not allowed"},
		{name: "invalid annotation", value: "a/b/c", problem: "InvalidAnnotation: want namespace/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []ingressOpt{annotate(ann, tt.value), rule("c.test", "/one", prefix, "svc1", 80), rule("c.test", "/two", prefix, "svc1", 80)}
			if tt.snippet != "" {
				opts = append(opts, annotate(annConfigSnippet, tt.snippet))
			}
			snap := cluster([]*networkingv1.Ingress{ingress("ns", "a", 0, opts...)}, "svc1")
			if !tt.noRead {
				snap.ConfigMaps = map[types.NamespacedName]*corev1.ConfigMap{}
				for _, c := range tt.cms {
					snap.ConfigMaps[types.NamespacedName{Namespace: c.Namespace, Name: c.Name}] = c
				}
			}
			res := Compile(snap, CompileConfig{Class: testClass, AllowedResponseHeaders: tt.allowed})
			for _, path := range []string{"/one", "/two"} {
				r := res.Table.Match("c.test", path)
				if r == nil || r.Filters == nil || r.Filters.Snippet == nil {
					t.Fatalf("%s: route %+v, want filters", path, r)
				}
				if tt.problem != "" {
					if r.Filters.Snippet.Return == nil || r.Filters.Snippet.Return.Status != 503 {
						t.Errorf("%s: %+v, want a 503 answer", path, r.Filters.Snippet)
					}
					continue
				}
				if got := r.Filters.ResponseHeaders.Set; !reflect.DeepEqual(got, tt.want) || r.Filters.Snippet.Return != nil {
					t.Errorf("%s: response Set %v (return %v), want %v", path, got, r.Filters.Snippet.Return, tt.want)
				}
			}
			var got []string
			for _, p := range res.Problems {
				got = append(got, p.Reason+": "+p.Message)
			}
			if tt.problem == "" && len(got) != 0 {
				t.Errorf("problems %q, want none", got)
			}
			if tt.problem != "" {
				reason, part, _ := strings.Cut(tt.problem, ": ")
				if len(res.Problems) == 0 || res.Problems[len(res.Problems)-1].Reason != reason ||
					!strings.Contains(res.Problems[len(res.Problems)-1].Message, part) || !strings.Contains(got[len(got)-1], "answer 503") {
					t.Errorf("problems %q, want %s containing %q and 503", got, reason, part)
				}
			}
		})
	}
}

func TestStripConfigMap(t *testing.T) {
	small := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", Labels: map[string]string{"a": "b"}},
		Data: map[string]string{"X-A": "a"}, BinaryData: map[string][]byte{"bin": []byte("x")}}
	got, _ := stripConfigMap(small)
	if cm := got.(*corev1.ConfigMap); cm.Name != "s" || cm.Labels != nil || cm.BinaryData != nil || cm.Data["X-A"] != "a" {
		t.Errorf("small: %+v", cm)
	}
	big := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}, Data: map[string]string{"k": strings.Repeat("x", maxCustomHeadersBytes)}}
	got, _ = stripConfigMap(big)
	if cm := got.(*corev1.ConfigMap); cm.Data != nil || cm.Annotations[tooLargeAnnotation] == "" {
		t.Errorf("big: %+v", cm)
	}
}
