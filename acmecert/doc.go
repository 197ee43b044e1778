// Package acmecert obtains certificates from an ACME CA for the hosts of
// Ingresses annotated portico.dev/acme: "true", shared by every replica.
//
// Ordering is done by golang.org/x/crypto/acme/autocert. What this package
// adds is what autocert leaves to its user when several processes serve the
// same hosts:
//
//   - All state (certificates, the account key, HTTP-01 tokens, TLS-ALPN-01
//     token certificates) lives in one shared [autocert.Cache], so a
//     challenge is answered by whichever replica the CA reaches, and a
//     certificate ordered by one replica is served by all.
//   - A [Locker] (a Kubernetes Lease in production) lets only one replica
//     order a given host's certificate at a time; the others wait for the
//     result to appear in the cache.
//   - Renewal is driven here, under the same lock, rather than by each
//     autocert.Manager's own timer, so replicas do not renew in parallel and
//     all of them pick up the renewed certificate from the cache.
//
// The package knows nothing of Kubernetes: the cache and the lock are
// interfaces (see package acmecache for the Secret and Lease versions).
package acmecert
