package controller

import (
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/tlsstore"
)

// certCache parses each Secret once per resourceVersion (parsing and
// checking a key pair costs far more than a build's other work) and
// remembers the last good certificate of each Secret, so a Secret updated
// with broken data keeps serving what it served before.
type certCache struct {
	mu       sync.Mutex
	now      func() time.Time
	parsed   map[types.UID]parsedSecret
	lastGood map[types.NamespacedName]*tlsstore.Certificate
}

type parsedSecret struct {
	rv   string
	cert *tlsstore.Certificate
	err  error
}

func newCertCache(now func() time.Time) *certCache {
	if now == nil {
		now = time.Now
	}
	return &certCache{now: now, parsed: make(map[types.UID]parsedSecret), lastGood: make(map[types.NamespacedName]*tlsstore.Certificate)}
}

// get returns the Secret's certificate, or the last good one and the error
// that kept the new data from being used.
func (cc *certCache) get(s *corev1.Secret) (*tlsstore.Certificate, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
	p, ok := cc.parsed[s.UID]
	if !ok || p.rv != s.ResourceVersion {
		p = parsedSecret{rv: s.ResourceVersion}
		p.cert, p.err = parseSecret(s, cc.now())
		cc.parsed[s.UID] = p
		if p.err == nil {
			cc.lastGood[key] = p.cert
		}
	}
	if p.err != nil {
		return cc.lastGood[key], p.err
	}
	return p.cert, nil
}

// prune forgets Secrets that are gone, so the cache does not grow forever.
func (cc *certCache) prune(live map[types.NamespacedName]*corev1.Secret) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	uids := make(map[types.UID]bool, len(live))
	for _, s := range live {
		uids[s.UID] = true
	}
	for uid := range cc.parsed {
		if !uids[uid] {
			delete(cc.parsed, uid)
		}
	}
	for k := range cc.lastGood {
		if live[k] == nil {
			delete(cc.lastGood, k)
		}
	}
}

func parseSecret(s *corev1.Secret, now time.Time) (*tlsstore.Certificate, error) {
	if s.Type != corev1.SecretTypeTLS {
		return nil, fmt.Errorf("Secret %s/%s is of type %q, not %q", s.Namespace, s.Name, s.Type, corev1.SecretTypeTLS)
	}
	c, err := tlsstore.Parse(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey], now)
	if err != nil {
		return nil, fmt.Errorf("Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	c.Source = s.Namespace + "/" + s.Name
	return c, nil
}

// ingressTLS resolves an Ingress's spec.tls into certificates. An Ingress
// may only use Secrets of its own namespace: "other/name" is refused, so one
// tenant can never serve (or learn) another tenant's key.
func (c *compiler) ingressTLS(ing *networkingv1.Ingress) []*tlsstore.Certificate {
	var out []*tlsstore.Certificate
	for i, t := range ing.Spec.TLS {
		where := fmt.Sprintf("spec.tls[%d]", i)
		if t.SecretName == "" {
			continue // hosts without a Secret: served by ACME or the default certificate
		}
		if strings.Contains(t.SecretName, "/") {
			c.problem(ing, "CrossNamespaceSecret", fmt.Sprintf(
				"%s: secretName %q refers to another namespace; an Ingress may only use Secrets of its own namespace", where, truncate(t.SecretName, 128)))
			continue
		}
		key := types.NamespacedName{Namespace: ing.Namespace, Name: t.SecretName}
		sec := c.snap.Secrets[key]
		if sec == nil {
			c.problem(ing, "SecretNotFound", fmt.Sprintf("%s: no Secret %s of type kubernetes.io/tls", where, key))
			continue
		}
		cert, err := c.certs.get(sec)
		if err != nil {
			msg := where + ": " + err.Error()
			if cert != nil {
				msg += "; still serving the last valid certificate"
			}
			c.problem(ing, "InvalidCertificate", msg)
			c.badSecrets[key] = true
		}
		if cert == nil {
			continue
		}
		for _, h := range t.Hosts {
			if !cert.Covers(h) {
				c.problem(ing, "CertificateHostMismatch", fmt.Sprintf(
					"%s: certificate in Secret %s does not cover host %q (it covers %s)", where, key, truncate(h, 64), strings.Join(cert.Names, ", ")))
			}
		}
		out = append(out, cert)
	}
	return out
}
