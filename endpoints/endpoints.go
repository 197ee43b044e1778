// Package endpoints turns a Service port and its EndpointSlices into the
// addresses Portico sends traffic to. Both translators (Ingress and the
// Gateway API) use it, so they choose endpoints the same way.
package endpoints

import (
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Addrs returns the "ip:port" addresses that serve one Service port,
// from the Service's EndpointSlices (not kube-proxy):
//
//   - endpoints that are ready (and not terminating) are used;
//   - only when there are none, endpoints that are still serving while
//     terminating are used, so a rolling update whose last pod is going away
//     still drains instead of failing.
//
// EndpointSlices name their ports after the Service port's name, which is how
// the target port is found (it may differ per slice during a rollout).
func Addrs(sp corev1.ServicePort, eps []*discoveryv1.EndpointSlice) []string {
	n := 0
	for _, s := range eps {
		n += len(s.Endpoints)
	}
	ready := make([]string, 0, n) // one allocation, not one per doubling
	var draining []string
	for _, s := range eps {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue // FQDN slices are deprecated and not followed
		}
		port, ok := slicePort(s, sp.Name)
		if !ok {
			continue
		}
		ps := strconv.Itoa(int(port))
		for _, ep := range s.Endpoints {
			if len(ep.Addresses) == 0 {
				continue
			}
			// All addresses of an endpoint are fungible; the first suffices.
			addr := net.JoinHostPort(ep.Addresses[0], ps)
			switch c := ep.Conditions; {
			case isTrue(c.Ready, true) && !isTrue(c.Terminating, false):
				ready = append(ready, addr)
			case isTrue(c.Serving, isTrue(c.Ready, true)):
				draining = append(draining, addr)
			}
		}
	}
	out := ready
	if len(out) == 0 {
		out = draining
	}
	slices.Sort(out)
	return slices.Compact(out) // an endpoint may sit in two slices mid-update
}

func slicePort(s *discoveryv1.EndpointSlice, name string) (int32, bool) {
	for _, p := range s.Ports {
		n := ""
		if p.Name != nil {
			n = *p.Name
		}
		if n == name && p.Port != nil && *p.Port > 0 {
			return *p.Port, true
		}
	}
	return 0, false
}

// isTrue reads an optional condition; nil means unknown and takes def
// (the EndpointSlice API says to treat a nil ready as true).
func isTrue(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}
