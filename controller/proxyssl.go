package controller

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/router"
)

// proxySSLOptions are ingress-nginx's proxy-ssl-* annotations: how
// Portico speaks TLS to an Ingress's HTTPS backends (nginx
// proxy_ssl_trusted_certificate, proxy_ssl_certificate, proxy_ssl_verify,
// proxy_ssl_verify_depth, proxy_ssl_name, proxy_ssl_server_name,
// proxy_ssl_protocols).
type proxySSLOptions struct {
	secret     string // "namespace/name", checked against the Ingress's namespace when compiled
	verify     bool
	depth      int
	name       string // "" for the Service's DNS name
	sni        bool
	minV, maxV uint16
}

var proxySSLAnnotations = []annotationGroup{{
	names: []string{"proxy-ssl-secret", "proxy-ssl-verify", "proxy-ssl-verify-depth", "proxy-ssl-name",
		"proxy-ssl-server-name", "proxy-ssl-protocols"},
	nginx: true,
	parse: parseProxySSL,
}}

// tlsVersions are the proxy-ssl-protocols names Portico honours; TLS 1.0
// and 1.1 are below its floor.
var tlsVersions = map[string]uint16{"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}

func parseProxySSL(a annotations, o *ingressOptions, bad badFunc) {
	secret, ok := a.get("proxy-ssl-secret")
	if !ok {
		for _, n := range []string{"proxy-ssl-verify", "proxy-ssl-verify-depth", "proxy-ssl-name", "proxy-ssl-server-name", "proxy-ssl-protocols"} {
			if _, set := a.get(n); set {
				bad(n, "needs proxy-ssl-secret (ingress-nginx ignores the proxy-ssl settings without it)")
				return
			}
		}
		return
	}
	p := &proxySSLOptions{secret: secret, depth: 1}
	// ingress-nginx: a value that is not on/off keeps the default (off).
	onOff := func(name string) bool {
		v, ok := a.get(name)
		switch {
		case !ok || v == "off":
			return false
		case v == "on":
			return true
		}
		bad(name, `want "on" or "off"`)
		return false
	}
	p.verify, p.sni = onOff("proxy-ssl-verify"), onOff("proxy-ssl-server-name")
	if v, ok := a.get("proxy-ssl-verify-depth"); ok {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0 || n > 100:
			bad("proxy-ssl-verify-depth", "want a whole number from 1 to 100")
		case n > 0: // ingress-nginx: 0 is the default, 1
			p.depth = n
		}
	}
	if v, ok := a.get("proxy-ssl-name"); ok && v != "" {
		if checkHost(strings.ToLower(v)) != "" || strings.HasPrefix(v, "*.") {
			bad("proxy-ssl-name", "want a DNS name")
		} else {
			p.name = strings.ToLower(v)
		}
	}
	p.minV, p.maxV = tls.VersionTLS12, tls.VersionTLS12 // ingress-nginx's default: TLSv1.2
	if v, ok := a.get("proxy-ssl-protocols"); ok {
		var lo, hi uint16
		valid := true
		for _, f := range strings.Fields(v) {
			ver, known := tlsVersions[f]
			switch {
			case known:
				lo, hi = minNonZero(lo, ver), max(hi, ver)
			case f == "TLSv1" || f == "TLSv1.1" || f == "SSLv2" || f == "SSLv3":
				// below Portico's floor of TLS 1.2: left out
			default:
				valid = false
			}
		}
		switch {
		case !valid:
			bad("proxy-ssl-protocols", "want protocol names such as \"TLSv1.2 TLSv1.3\"")
		case hi == 0:
			bad("proxy-ssl-protocols", "names no protocol of TLS 1.2 or later; Portico never speaks older ones")
		default:
			p.minV, p.maxV = lo, hi
		}
	}
	o.proxySSL = p
}

func minNonZero(a, b uint16) uint16 {
	if a == 0 || b < a {
		return b
	}
	return a
}

// proxySSLSecretKeys are the keys of a proxy-ssl-secret Portico reads.
const proxySSLCAKey = "ca.crt"

// backendTLS resolves an Ingress's proxy-ssl settings against its
// Secret. A Secret in another namespace, missing, or unusable gives a
// configuration that fails the Ingress's HTTPS backends (500), with a
// problem naming the reason: ingress-nginx denies the location then.
func (c *compiler) backendTLS(ing *networkingv1.Ingress, p *proxySSLOptions) *router.BackendTLS {
	fail := func(msg string) *router.BackendTLS {
		c.problem(ing, "InvalidAnnotation", "annotation "+nginxPrefix+"proxy-ssl-secret: "+msg+"; its HTTPS backends answer 500")
		return &router.BackendTLS{Invalid: msg}
	}
	ns, name, ok := strings.Cut(p.secret, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return fail(fmt.Sprintf("%q is not namespace/name", truncate(p.secret, 64)))
	}
	if ns != ing.Namespace {
		return fail("Secrets of other namespaces are not allowed")
	}
	s := c.secret(types.NamespacedName{Namespace: ns, Name: name})
	if s == nil {
		return fail("Secret " + p.secret + " not found")
	}
	tl := &router.BackendTLS{SkipVerify: !p.verify, NoSNI: !p.sni, VerifyDepth: p.depth, MinVersion: p.minV, MaxVersion: p.maxV}
	h := sha256.New()
	fmt.Fprintf(h, "proxy-ssl %s %v %v %d %s %d %d\n", p.secret, p.verify, p.sni, p.depth, p.name, p.minV, p.maxV)
	if ca := s.Data[proxySSLCAKey]; len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return fail("Secret " + p.secret + ": ca.crt holds no PEM certificate")
		}
		tl.RootCAs = pool
		h.Write(ca)
	} else if p.verify {
		return fail("Secret " + p.secret + " has no ca.crt to verify the backend with")
	}
	if crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]; len(crt) > 0 || len(key) > 0 {
		cert, err := tls.X509KeyPair(crt, key)
		if err != nil {
			return fail("Secret " + p.secret + ": tls.crt and tls.key: " + err.Error())
		}
		tl.ClientCertificate = &cert
		h.Write(crt)
	}
	tl.ServerName = p.name
	tl.Key = hex.EncodeToString(h.Sum(nil))
	return tl
}

// secret finds a Secret of the snapshot.
func (c *compiler) secret(k types.NamespacedName) *corev1.Secret {
	return c.snap.Secrets[k]
}

// withBackendTLS is b speaking TLS as tl says, for an HTTPS or GRPCS
// backend; the server name defaults to the Service's cluster DNS name.
// b is shared by every Ingress that names its Service, so the TLS
// variant is a copy with the same ID (the same endpoints and balancer
// state).
func withBackendTLS(b *router.Backend, tl *router.BackendTLS, proto router.Protocol) *router.Backend {
	if tl == nil || (proto != router.HTTPS && proto != router.GRPCS) {
		return b
	}
	cp := *b
	if tl.ServerName == "" && tl.Invalid == "" {
		t := *tl
		t.ServerName = b.Service + "." + b.Namespace + ".svc"
		t.Key += "/" + t.ServerName
		tl = &t
	}
	cp.TLS = tl
	return &cp
}
