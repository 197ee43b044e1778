package controller

import "testing"

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
