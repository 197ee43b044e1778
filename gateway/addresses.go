package gateway

import (
	"fmt"
	"net/netip"
	"slices"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// assignAddresses gives each accepted Gateway the addresses it listens on,
// oldest Gateway first:
//
//   - spec.addresses, when given: IPAddress entries must be usable (inside
//     --gateway-address-pool, or one of the published addresses); an entry
//     with an empty value asks for any address of the pool
//     (GatewayAddressEmpty); any other address type makes the Gateway not
//     Accepted (UnsupportedAddress); an unusable address leaves it not
//     Programmed (AddressNotUsable).
//   - otherwise one address of its own from the pool, the one it had last
//     time when still free (status.addresses), else the lowest free one;
//     an exhausted pool leaves it not Programmed (AddressNotAssigned).
//   - without a pool, the published addresses, shared by every Gateway
//     (their listeners are merged per port; see ports).
func (t *translator) assignAddresses() {
	pool := t.cfg.AddressPool
	taken := make(map[netip.Addr]bool)
	var wantPool []*gatewayState
	for _, g := range t.gateways {
		if ok, _, _ := g.acceptedStatus(); !ok {
			continue // not accepted: it gets no address
		}
		if len(g.gw.Spec.Addresses) == 0 {
			if pool.IsValid() {
				wantPool = append(wantPool, g)
				continue
			}
			if len(t.cfg.Published) == 0 {
				g.programmed.set(string(gwv1.GatewayReasonAddressNotAssigned), "no address to listen on: set --gateway-address-pool or spec.addresses, or publish an address")
				continue
			}
			g.addrs = slices.Clone(t.cfg.Published)
			continue
		}
		empty := 0
		for _, a := range g.gw.Spec.Addresses {
			typ := gwv1.IPAddressType
			if a.Type != nil {
				typ = *a.Type
			}
			if typ != gwv1.IPAddressType {
				g.accepted.set(string(gwv1.GatewayReasonUnsupportedAddress), fmt.Sprintf("address type %q is not supported; Portico binds IPAddress addresses", typ))
				continue
			}
			if a.Value == "" {
				empty++
				continue
			}
			ip, err := netip.ParseAddr(a.Value)
			if err != nil || ip.Zone() != "" {
				g.accepted.set(string(gwv1.GatewayReasonUnsupportedAddress), fmt.Sprintf("address %q is not an IP address", a.Value))
				continue
			}
			if !t.usable(ip) {
				g.programmed.set(string(gwv1.GatewayReasonAddressNotUsable), fmt.Sprintf("address %s is neither in --gateway-address-pool nor published", ip))
				continue
			}
			if !slices.Contains(g.addrs, ip) {
				g.addrs = append(g.addrs, ip)
				taken[ip] = true
			}
		}
		if !g.accepted.ok() && g.accepted.reason == string(gwv1.GatewayReasonUnsupportedAddress) {
			g.addrs = nil
			continue
		}
		if empty > 0 {
			if !pool.IsValid() {
				g.programmed.set(string(gwv1.GatewayReasonAddressNotAssigned), "an empty address asks for one from --gateway-address-pool, which is not set")
				continue
			}
			wantPool = append(wantPool, g)
		}
	}
	if len(wantPool) == 0 {
		return
	}
	// Keep the address a Gateway had when nobody older claims it.
	need := make([]*gatewayState, 0, len(wantPool))
	for _, g := range wantPool {
		kept := false
		for _, sa := range g.gw.Status.Addresses {
			ip, err := netip.ParseAddr(sa.Value)
			if err == nil && pool.Contains(ip) && !taken[ip] && usableInPool(pool, ip) {
				g.addrs = append(g.addrs, ip)
				taken[ip] = true
				kept = true
				break
			}
		}
		if !kept {
			need = append(need, g)
		}
	}
	next := pool.Masked().Addr()
	for _, g := range need {
		for next = next.Next(); next.IsValid() && pool.Contains(next) && (taken[next] || !usableInPool(pool, next)); next = next.Next() {
		}
		if !next.IsValid() || !pool.Contains(next) {
			g.programmed.set(string(gwv1.GatewayReasonAddressNotAssigned), fmt.Sprintf("--gateway-address-pool %s has no free address left", pool))
			continue
		}
		g.addrs = append(g.addrs, next)
		taken[next] = true
	}
}

func (g *gatewayState) anyValid() bool {
	for _, l := range g.listeners {
		if l.attachable() {
			return true
		}
	}
	return false
}

// usable reports whether Portico may bind ip for a Gateway.
func (t *translator) usable(ip netip.Addr) bool {
	if t.cfg.AddressPool.IsValid() && t.cfg.AddressPool.Contains(ip) {
		return true
	}
	return slices.Contains(t.cfg.Published, ip)
}

// usableInPool leaves out an IPv4 pool's network and broadcast addresses.
func usableInPool(pool netip.Prefix, ip netip.Addr) bool {
	if !ip.Is4() || pool.Bits() >= 31 {
		return true
	}
	if ip == pool.Masked().Addr() {
		return false
	}
	b := ip.As4()
	host := 32 - pool.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := uint32(1)<<host - 1
	return v&mask != mask
}
