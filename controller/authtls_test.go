package controller

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/internal/testpki"
	"portico.dev/portico/router"
)

// TestParseAuthTLS: the auth-tls-* values, with ingress-nginx's defaults.
func TestParseAuthTLS(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ann      map[string]string
		want     *authTLSOptions // nil: no client certificates
		problems int
	}{
		{map[string]string{"auth-tls-verify-client": "on"}, nil, 0}, // no CA: ingress-nginx checks nothing
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-verify-client": "off"}, nil, 0},
		{map[string]string{"auth-tls-secret": "ns/ca"}, &authTLSOptions{secret: "ns/ca", depth: 1}, 0},
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-verify-client": "optional", "auth-tls-verify-depth": "2"},
			&authTLSOptions{secret: "ns/ca", mode: router.ClientCertOptional, depth: 2}, 0},
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-verify-client": "optional_no_ca", "auth-tls-pass-certificate-to-upstream": "true"},
			&authTLSOptions{secret: "ns/ca", mode: router.ClientCertOptionalNoCA, depth: 1, passCert: true}, 0},
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-verify-client": "maybe", "auth-tls-verify-depth": "0"},
			&authTLSOptions{secret: "ns/ca", depth: 1}, 1}, // the strict default, reported
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-error-page": "https://login.test/mtls"},
			&authTLSOptions{secret: "ns/ca", depth: 1, errorPage: "https://login.test/mtls"}, 0},
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-error-page": "/error"}, &authTLSOptions{secret: "ns/ca", depth: 1, errorPage: "/error"}, 0},
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-error-page": "javascript:alert(1)"}, &authTLSOptions{secret: "ns/ca", depth: 1}, 1},
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-match-cn": "authtls"}, &authTLSOptions{secret: "ns/ca", depth: 1, invalid: "auth-tls-match-cn must start with CN="}, 1},
		{map[string]string{"auth-tls-secret": "ns/ca", "auth-tls-match-cn": "CN=(a"}, &authTLSOptions{secret: "ns/ca", depth: 1, invalid: "auth-tls-match-cn is not a regular expression RE2 accepts"}, 1},
	} {
		ann := map[string]string{}
		for k, v := range tt.ann {
			ann[nginxPrefix+k] = v
		}
		o, probs := parseAnnotations(ann)
		got := o.authTLS
		if got != nil {
			got.matchCN = nil
		}
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want || len(probs) != tt.problems {
			t.Errorf("%v: %+v, problems %v; want %+v with %d problems", tt.ann, got, probs, tt.want, tt.problems)
		}
	}
	if s := NginxAnnotation("auth-tls-secret"); !s.Supported {
		t.Errorf("auth-tls-secret reported as %+v", s)
	}
}

// TestAuthTLSWholeHost: ingress-nginx checks client certificates per
// server: the oldest Ingress that sets them for a host sets them for every
// path of it, aliases included; a bad Secret refuses the host (403).
func TestAuthTLSWholeHost(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA("clients")
	prefix := networkingv1.PathTypePrefix
	asker := ingress("ns", "asker", 0, annotate(nginxPrefix+"auth-tls-secret", "ns/ca"), annotate(nginxPrefix+"server-alias", "alias.test"),
		rule("mtls.test", "/admin", prefix, "svc1", 80))
	sibling := ingress("ns", "sibling", 1, rule("mtls.test", "/", prefix, "svc1", 80),
		annotate(nginxPrefix+"auth-tls-secret", "ns/ca"), annotate(nginxPrefix+"auth-tls-verify-client", "optional"))
	broken := ingress("ns", "broken", 2, annotate(nginxPrefix+"auth-tls-secret", "ns/missing"), rule("broken.test", "/", prefix, "svc1", 80))
	other := ingress("ns", "other", 3, rule("open.test", "/", prefix, "svc1", 80))
	snap := cluster([]*networkingv1.Ingress{asker, sibling, broken, other}, "svc1")
	snap.AuthSecrets = map[types.NamespacedName]*corev1.Secret{{Namespace: "ns", Name: "ca"}: {
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca"}, Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"ca.crt": ca.PEM}}}
	res := Compile(snap, CompileConfig{Class: testClass})
	for _, tt := range []struct {
		host, path string
		mode       router.ClientCertMode
		invalid    bool
		none       bool
	}{
		{"mtls.test", "/admin", router.ClientCertRequired, false, false},
		{"mtls.test", "/", router.ClientCertRequired, false, false}, // the older Ingress's settings
		{"alias.test", "/admin", router.ClientCertRequired, false, false},
		{"broken.test", "/", 0, true, false},
		{"open.test", "/", 0, false, true},
	} {
		r := res.Table.Match(tt.host, tt.path)
		if r == nil {
			t.Fatalf("%s%s: no route", tt.host, tt.path)
		}
		a := r.Options.ClientAuth
		switch {
		case tt.none && a != nil:
			t.Errorf("%s%s: client certificates asked for", tt.host, tt.path)
		case tt.none:
		case a == nil:
			t.Errorf("%s%s: no client certificates", tt.host, tt.path)
		case (a.Invalid != "") != tt.invalid || a.Mode != tt.mode || !tt.invalid && a.Roots == nil:
			t.Errorf("%s%s: %+v", tt.host, tt.path, a)
		}
	}
	if got, want := strings.Join(slices.Sorted(maps.Keys(res.ClientCertHosts)), ","), "alias.test,broken.test,mtls.test"; got != want || res.ClientCertHosts["mtls.test"] == nil {
		t.Errorf("ClientCertHosts %s, want %s", got, want)
	}
	reasons := map[*networkingv1.Ingress]string{}
	for _, p := range res.Problems {
		reasons[p.Ingress] += p.Reason + " "
	}
	if !strings.Contains(reasons[sibling], "AuthTLSIgnored") || !strings.Contains(reasons[broken], "InvalidAnnotation") ||
		reasons[other] != "" || reasons[asker] != "" {
		t.Errorf("problems: %+v", res.Problems)
	}
}

// TestAuthTLSSecrets: what an auth-tls-secret must hold.
func TestAuthTLSSecrets(t *testing.T) {
	t.Parallel()
	ca, other := testpki.NewCA("clients"), testpki.NewCA("other")
	for _, tt := range []struct {
		name    string
		typ     corev1.SecretType
		ref     string
		data    map[string][]byte
		invalid string // "" when usable
		crls    int
	}{
		{"Opaque with ca.crt", corev1.SecretTypeOpaque, "ns/ca", map[string][]byte{"ca.crt": ca.PEM}, "", 0},
		{"TLS with ca.crt", corev1.SecretTypeTLS, "ns/ca", map[string][]byte{"ca.crt": ca.PEM, "tls.crt": {}, "tls.key": {}}, "", 0},
		{"name only", corev1.SecretTypeOpaque, "ca", map[string][]byte{"ca.crt": ca.PEM}, "is not namespace/name", 0},
		{"own namespace implied", corev1.SecretTypeOpaque, "/ca", map[string][]byte{"ca.crt": ca.PEM}, "", 0},
		{"other namespace", corev1.SecretTypeOpaque, "kube-system/ca", map[string][]byte{"ca.crt": ca.PEM}, "other namespaces", 0},
		{"no ca.crt", corev1.SecretTypeOpaque, "ns/ca", map[string][]byte{"auth": []byte("x")}, "has no ca.crt", 0},
		{"not PEM", corev1.SecretTypeOpaque, "ns/ca", map[string][]byte{"ca.crt": []byte("junk")}, "no PEM certificate", 0},
		{"with a CRL", corev1.SecretTypeOpaque, "ns/ca", map[string][]byte{"ca.crt": ca.PEM, "ca.crl": ca.CRL(time.Now().Add(time.Hour))}, "", 1},
		{"CRL of another CA (an intermediate's, judged per chain)", corev1.SecretTypeOpaque, "ns/ca", map[string][]byte{"ca.crt": ca.PEM, "ca.crl": other.CRL(time.Now().Add(time.Hour))}, "", 1},
		{"CRL not PEM", corev1.SecretTypeOpaque, "ns/ca", map[string][]byte{"ca.crt": ca.PEM, "ca.crl": []byte("junk")}, "no PEM revocation list", 0},
	} {
		snap := cluster(nil)
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca"}, Type: tt.typ, Data: tt.data}
		k := types.NamespacedName{Namespace: "ns", Name: "ca"}
		if tt.typ == corev1.SecretTypeTLS {
			snap.Secrets = map[types.NamespacedName]*corev1.Secret{k: sec}
		} else {
			snap.AuthSecrets = map[types.NamespacedName]*corev1.Secret{k: sec}
		}
		c := compiler{snap: snap}
		ing := ingress("ns", "ing", 0)
		a := c.clientAuth(ing, &authTLSOptions{secret: tt.ref, depth: 1})
		if tt.invalid == "" && (a.Invalid != "" || a.Roots == nil || len(a.CRLs) != tt.crls) ||
			tt.invalid != "" && !strings.Contains(a.Invalid, tt.invalid) || (a.Invalid != "") != (len(c.problems) > 0) {
			t.Errorf("%s: %+v, problems %+v", tt.name, a, c.problems)
		}
	}
}

// The Opaque Secret cache keeps the CA certificates and CRLs of
// auth-tls-secret; other keys are still dropped.
func TestStripAuthSecretKeepsCA(t *testing.T) {
	t.Parallel()
	obj, err := stripAuthSecret(&corev1.Secret{Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"ca.crt": []byte("ca"), "ca.crl": []byte("crl"), "password": []byte("hunter2")}})
	if err != nil {
		t.Fatal(err)
	}
	d := obj.(*corev1.Secret).Data
	if string(d["ca.crt"]) != "ca" || string(d["ca.crl"]) != "crl" || d["password"] != nil {
		t.Errorf("kept %v", d)
	}
}
