package controller

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// auth-tls-* is not built: an Ingress asking for client certificates
// fails closed, and nothing else changes.
func TestAuthTLSFailsClosed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ann  map[string]string
		deny bool
	}{
		{map[string]string{"auth-tls-secret": "ns/ca"}, true},
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-verify-client": "optional"}, true},
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-verify-client": "off"}, false},
		{map[string]string{"auth-tls-verify-client": "on"}, false}, // no CA: ingress-nginx checks nothing
	} {
		ann := map[string]string{}
		for k, v := range tt.ann {
			ann[nginxPrefix+k] = v
		}
		o, probs := parseAnnotations(ann)
		deny := o.route.Auth != nil && o.route.Auth.Deny
		if deny != tt.deny || (len(probs) > 0) != tt.deny {
			t.Errorf("%v: deny %v, problems %v; want deny %v", tt.ann, deny, probs, tt.deny)
		}
	}
	if s := NginxAnnotation("auth-tls-secret"); s.Supported || s.Note == "" {
		t.Errorf("auth-tls-secret reported as %+v", s)
	}
}

// ingress-nginx checks client certificates for the whole host: every
// Ingress's paths of a host that one Ingress asks them for fail closed.
func TestAuthTLSDeniesTheWholeHost(t *testing.T) {
	t.Parallel()
	prefix := networkingv1.PathTypePrefix
	asker := ingress("ns", "asker", 2, annotate(nginxPrefix+"auth-tls-secret", "ns/ca"), rule("mtls.test", "/admin", prefix, "svc1", 80))
	sibling := ingress("ns", "sibling", 1, rule("mtls.test", "/", prefix, "svc1", 80))
	other := ingress("ns", "other", 0, rule("open.test", "/", prefix, "svc1", 80))
	res := Compile(cluster([]*networkingv1.Ingress{asker, sibling, other}, "svc1"), CompileConfig{Class: testClass})
	for _, tt := range []struct {
		host, path string
		deny       bool
	}{{"mtls.test", "/admin", true}, {"mtls.test", "/", true}, {"open.test", "/", false}} {
		r := res.Table.Match(tt.host, tt.path)
		if r == nil || (r.Options.Auth != nil && r.Options.Auth.Deny) != tt.deny {
			t.Errorf("%s%s: route %+v, want deny %v", tt.host, tt.path, r, tt.deny)
		}
	}
	var sib int
	for _, p := range res.Problems {
		if p.Ingress == sibling && p.Reason == "AuthTLSNotSupported" {
			sib++
		}
		if p.Ingress == other {
			t.Errorf("unrelated Ingress got %s: %s", p.Reason, p.Message)
		}
	}
	if sib != 1 {
		t.Errorf("sibling Ingress: %d AuthTLSNotSupported problems, want 1: %+v", sib, res.Problems)
	}
}
