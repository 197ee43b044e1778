package controller

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/router"
)

// authTLSOptions are ingress-nginx's auth-tls-* annotations:
// client-certificate authentication (nginx ssl_client_certificate,
// ssl_verify_client, ssl_verify_depth, ssl_crl, error_page 495 496, and
// the ssl-client-* headers upstream).
type authTLSOptions struct {
	secret    string // "namespace/name"
	mode      router.ClientCertMode
	depth     int
	errorPage string
	passCert  bool
	matchCN   *regexp.Regexp
	invalid   string // a value that cannot be honoured: every request is refused
}

var authTLSAnnotations = []annotationGroup{{
	names: []string{"auth-tls-secret", "auth-tls-verify-client", "auth-tls-verify-depth", "auth-tls-error-page",
		"auth-tls-match-cn", "auth-tls-pass-certificate-to-upstream"},
	nginx: true,
	parse: parseAuthTLS,
}}

func parseAuthTLS(a annotations, o *ingressOptions, bad badFunc) {
	secret, ok := a.get("auth-tls-secret")
	if !ok || secret == "" {
		return // ingress-nginx: no CA Secret, no client-certificate check
	}
	t := &authTLSOptions{secret: secret, depth: 1}
	switch v, _ := a.get("auth-tls-verify-client"); v {
	case "off":
		return // asks for nothing
	case "", "on":
	case "optional":
		t.mode = router.ClientCertOptional
	case "optional_no_ca":
		t.mode = router.ClientCertOptionalNoCA
	default:
		// ingress-nginx falls back to its default, "on": the strict one.
		bad("auth-tls-verify-client", `want "on", "off", "optional" or "optional_no_ca"; "on" applies`)
	}
	if v, ok := a.get("auth-tls-verify-depth"); ok {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0 || n > 100:
			bad("auth-tls-verify-depth", "want a whole number from 1 to 100; 1 applies")
		case n > 0: // ingress-nginx: 0 is the default, 1
			t.depth = n
		}
	}
	if v, ok := a.get("auth-tls-error-page"); ok && v != "" {
		if u, err := url.Parse(v); err != nil || strings.ContainsAny(v, " \t\r\n\"'\\") ||
			!(u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" || !u.IsAbs() && u.Host == "" && strings.HasPrefix(v, "/")) {
			bad("auth-tls-error-page", "want an http(s) URL or a path; requests without a good certificate get 400")
		} else {
			t.errorPage = v
		}
	}
	if v, ok := a.get("auth-tls-pass-certificate-to-upstream"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("auth-tls-pass-certificate-to-upstream", `want "true" or "false"`)
		}
		t.passCert = b
	}
	if v, ok := a.get("auth-tls-match-cn"); ok && v != "" {
		re, err := regexp.Compile(v)
		switch {
		case !strings.HasPrefix(v, "CN="):
			t.invalid = "auth-tls-match-cn must start with CN="
		case err != nil:
			t.invalid = "auth-tls-match-cn is not a regular expression RE2 accepts"
		default:
			t.matchCN = re
		}
		if t.invalid != "" {
			bad("auth-tls-match-cn", t.invalid+"; every request of the Ingress's hosts is refused (403)")
		}
	}
	o.authTLS = t
}

// Keys of an auth-tls-secret (ingress-nginx: ca.crt, and ca.crl).
const (
	authTLSCAKey  = "ca.crt"
	authTLSCRLKey = "ca.crl"
)

// clientAuth resolves an Ingress's auth-tls settings against its Secret:
// a TLS Secret or an Opaque one with ca.crt (and ca.crl), of the
// Ingress's namespace (ingress-nginx refuses other namespaces unless
// allow-cross-namespace-resources, which Portico has no equivalent of).
// Anything unusable refuses every request of the hosts (403, as
// ingress-nginx does), with a problem naming the reason.
func (c *compiler) clientAuth(ing *networkingv1.Ingress, t *authTLSOptions) *router.ClientAuth {
	src := ing.Namespace + "/" + ing.Name
	fail := func(msg string) *router.ClientAuth {
		c.problem(ing, "InvalidAnnotation", "annotation "+nginxPrefix+"auth-tls-secret: "+msg+"; requests of the Ingress's hosts are refused (403)")
		return &router.ClientAuth{Source: src, Invalid: msg}
	}
	if t.invalid != "" {
		return &router.ClientAuth{Source: src, Invalid: t.invalid}
	}
	ns, name, ok := strings.Cut(t.secret, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return fail(fmt.Sprintf("%q is not namespace/name", truncate(t.secret, 64)))
	}
	if ns == "" {
		ns = ing.Namespace
	}
	if ns != ing.Namespace {
		return fail("Secrets of other namespaces are not allowed")
	}
	key := types.NamespacedName{Namespace: ns, Name: name}
	sec := c.secret(key)
	if sec == nil {
		sec = c.snap.AuthSecrets[key]
	}
	if sec == nil {
		return fail("Secret " + key.String() + " not found")
	}
	ca := sec.Data[authTLSCAKey]
	if len(ca) == 0 {
		// ingress-nginx then turns the check off; a check that silently
		// goes away is not what the Ingress asked for.
		return fail("Secret " + key.String() + " has no ca.crt")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return fail("Secret " + key.String() + ": ca.crt holds no PEM certificate")
	}
	a := &router.ClientAuth{Source: src, Mode: t.mode, Roots: roots, Depth: t.depth, PassCert: t.passCert,
		ErrorPage: t.errorPage, MatchCN: t.matchCN}
	if crl := sec.Data[authTLSCRLKey]; len(crl) > 0 {
		lists, err := parseCRLs(crl)
		if err != nil {
			return fail("Secret " + key.String() + ": ca.crl: " + err.Error())
		}
		a.CRLs = lists
	}
	return a
}

// parseCRLs reads the PEM "X509 CRL" blocks of data. Which CA signed
// each is checked per chain, against the issuer in it (a CRL may come
// from an intermediate that only clients send).
func parseCRLs(data []byte) ([]*x509.RevocationList, error) {
	var lists []*x509.RevocationList
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("a revocation list does not parse: %v", err)
		}
		lists = append(lists, l)
	}
	if len(lists) == 0 {
		return nil, fmt.Errorf("no PEM revocation list (X509 CRL)")
	}
	return lists, nil
}

// noteAuthTLS records the client-certificate settings of an Ingress's
// hosts: ingress-nginx checks certificates for the whole server, so the
// oldest Ingress that sets them for a host sets them for every path of
// it, from every Ingress. A rule without a host cannot be asked for by
// server name: that Ingress's hostless paths are refused.
func (c *compiler) noteAuthTLS(ing *networkingv1.Ingress, a *router.ClientAuth) {
	if c.authTLS == nil {
		c.authTLS = make(map[string]*router.ClientAuth)
	}
	for _, r := range ing.Spec.Rules {
		h := strings.ToLower(r.Host)
		if h == "" {
			if c.authTLSHostless == nil {
				c.authTLSHostless = make(map[string]*router.ClientAuth)
			}
			if _, seen := c.authTLSHostless[a.Source]; !seen {
				c.problem(ing, "InvalidAnnotation", "annotation "+nginxPrefix+"auth-tls-secret: a rule without a host cannot ask for client certificates; its requests are refused (403)")
				c.authTLSHostless[a.Source] = &router.ClientAuth{Source: a.Source, Invalid: "client certificates need a rule host"}
			}
			continue
		}
		if first, seen := c.authTLS[h]; !seen {
			c.authTLS[h] = a
		} else if first.Source != a.Source {
			c.problem(ing, "AuthTLSIgnored", fmt.Sprintf("host %s: the auth-tls-* settings are ignored: the older Ingress %s already sets them for the host", r.Host, first.Source))
		}
	}
}

// authTLSHosts gives every route of a host with client-certificate
// settings those settings (and the hostless routes of an Ingress that
// asks for them their refusal).
func (c *compiler) authTLSHosts(routes []router.Route) {
	if len(c.authTLS) == 0 && len(c.authTLSHostless) == 0 {
		return
	}
	type key struct {
		o *router.Options
		a *router.ClientAuth
	}
	copies := map[key]*router.Options{} // one copy per shared Options
	for i := range routes {
		r := &routes[i]
		a, ok := c.authTLS[r.Host]
		if r.Host == "" {
			a, ok = c.authTLSHostless[r.Source]
		}
		if !ok {
			continue
		}
		base := r.Options
		if base == nil {
			base = &router.Options{}
		}
		k := key{base, a}
		o, ok := copies[k]
		if !ok {
			cp := *base
			cp.ClientAuth = a
			o, copies[k] = &cp, &cp
		}
		r.Options = o
	}
}

// clientCertHosts are the hosts whose handshakes ask for a client
// certificate, with the CAs the request names.
func clientCertHosts(routes []router.Route) map[string]*x509.CertPool {
	var hosts map[string]*x509.CertPool
	for i := range routes {
		if o := routes[i].Options; o != nil && o.ClientAuth != nil && routes[i].Host != "" {
			if hosts == nil {
				hosts = make(map[string]*x509.CertPool)
			}
			hosts[routes[i].Host] = o.ClientAuth.Roots
		}
	}
	return hosts
}
