// Package acmecache keeps ACME state in the Kubernetes API, where every
// Portico replica sees it: [SecretCache] is an autocert.Cache with one
// Secret per entry, and [LeaseLocker] is a per-host lock on a
// coordination.k8s.io Lease, so that only one replica orders a certificate
// at a time. Both use the client-go typed client and live in one namespace,
// Portico's own (--acme-namespace).
package acmecache
