// Package tlsstore holds the certificates Portico serves and picks one per
// TLS handshake.
//
// It knows nothing of Kubernetes: the controller turns Secrets into
// [Certificate] values with [Parse] and hands the full set to
// [Store.Replace], which builds an immutable index off to the side and
// publishes it with one atomic store. The handshake path,
// [Store.GetCertificate], is a pointer load plus at most two map lookups and
// does not allocate.
package tlsstore
