package harness

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
)

// Bridge is a node's pod network, wired the way the CNI bridge plugin wires
// one: a Linux bridge in the root namespace holding the host address (.1) of
// a free /24, the node's pod CIDR, and one network namespace per pod joined
// to it by a veth pair, with one address of the CIDR and a default route via
// the bridge. The root namespace (Portico, the API server) reaches every pod
// address directly, like a node reaches its pods.
type Bridge struct {
	Name     string       // link name in the root namespace, ptc<pid>b<n>
	Prefix   netip.Prefix // the pod CIDR
	HostAddr netip.Addr   // on the bridge: the pods' gateway

	mu     sync.Mutex
	closed bool
	inUse  map[netip.Addr]bool
	next   netip.Addr // where the search for a free address starts
}

var openBridges sync.Map // *Bridge -> struct{}; closed by ClosePods

// NewBridge creates a bridge on a free /24 of 10.200.0.0 … 10.250.255.0.
// Safe to call from several test binaries at once. Needs root.
func NewBridge() (*Bridge, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("new bridge: network namespaces need root (CAP_NET_ADMIN); run the tests as root")
	}
	b := &Bridge{Name: fmt.Sprintf("ptc%db%d", os.Getpid(), podCounter.Add(1)), inUse: map[netip.Addr]bool{}}
	if len(b.Name) > 15 { // IFNAMSIZ-1
		return nil, fmt.Errorf("new bridge: link name %q longer than 15 bytes", b.Name)
	}
	unlock, err := lockFile(netnsLockPath)
	if err != nil {
		return nil, fmt.Errorf("new bridge: %w", err)
	}
	defer unlock()
	staleOnce.Do(func() { _ = cleanupStaleLocked() })
	used, err := usedPrefixes()
	if err != nil {
		return nil, fmt.Errorf("new bridge: %w", err)
	}
	prefix, err := freeSubnet(used)
	if err != nil {
		return nil, fmt.Errorf("new bridge: %w", err)
	}
	b.Prefix, b.HostAddr = prefix, prefix.Addr().Next()
	b.next = b.HostAddr.Next()
	// A bridge takes the lowest MAC of its ports unless given one, and would
	// change it as pods come and go, under the pods' ARP caches.
	mac := fmt.Sprintf("02:70:%02x:%02x:%02x:01", prefix.Addr().As4()[0], prefix.Addr().As4()[1], prefix.Addr().As4()[2])
	steps := [][]string{
		{"link", "add", b.Name, "address", mac, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("%v/%d", b.HostAddr, prefix.Bits()), "dev", b.Name},
		{"link", "set", b.Name, "up"},
	}
	for _, args := range steps {
		if _, err := ip(args...); err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("new bridge %s: %w", b.Name, err)
		}
	}
	openBridges.Store(b, struct{}{})
	return b, nil
}

// NewPod creates a network namespace attached to the bridge with the next
// free address of the pod CIDR. Addresses are handed out in order, wrapping
// around, so a just-freed address is not reused at once (a proxy's idle
// connection to the old pod would otherwise reach the new one). Close the
// Pod to free its address.
func (b *Bridge) NewPod() (*Pod, error) {
	addr, err := b.take()
	if err != nil {
		return nil, err
	}
	seq := podCounter.Add(1)
	p := &Pod{
		Name:     fmt.Sprintf("ptc-%d-%d", os.Getpid(), seq),
		HostLink: fmt.Sprintf("ptc%dh%d", os.Getpid(), seq),
		release:  func() { b.release(addr) },
	}
	if len(p.HostLink) > 15 {
		b.release(addr)
		return nil, fmt.Errorf("new pod: link name %q longer than 15 bytes; too many pods in one process", p.HostLink)
	}
	bits := fmt.Sprint(b.Prefix.Bits())
	steps := [][]string{
		{"netns", "add", p.Name},
		{"link", "add", p.HostLink, "type", "veth", "peer", "name", "eth0", "netns", p.Name},
		{"link", "set", p.HostLink, "master", b.Name},
		{"link", "set", p.HostLink, "up"},
		{"-n", p.Name, "link", "set", "lo", "up"},
		{"-n", p.Name, "addr", "add", addr.String() + "/" + bits, "dev", "eth0"},
		{"-n", p.Name, "link", "set", "eth0", "up"},
		{"-n", p.Name, "route", "add", "default", "via", b.HostAddr.String()},
	}
	for _, args := range steps {
		if _, err := ip(args...); err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("new pod %s on bridge %s: %w", p.Name, b.Name, err)
		}
	}
	p.Prefix, p.HostAddr, p.Addrs = b.Prefix, b.HostAddr, []netip.Addr{addr}
	openPods.Store(p, struct{}{})
	return p, nil
}

func (b *Bridge) take() (netip.Addr, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return netip.Addr{}, fmt.Errorf("bridge %s: closed", b.Name)
	}
	last := lastAddr(b.Prefix)
	for a, n := b.next, 0; n < 256; a, n = a.Next(), n+1 {
		if !b.Prefix.Contains(a) || a == last {
			a = b.HostAddr.Next()
		}
		if !b.inUse[a] {
			b.inUse[a] = true
			b.next = a.Next()
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("bridge %s: no free address left in %v", b.Name, b.Prefix)
}

func (b *Bridge) release(a netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.inUse, a)
}

// Close deletes the bridge. Pods attached to it should be closed first
// (ClosePods does so); their links would otherwise only be detached.
// Idempotent.
func (b *Bridge) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	openBridges.Delete(b)
	if linkExists(b.Name) {
		if _, err := ip("link", "del", b.Name); err != nil {
			return fmt.Errorf("close bridge: %w", err)
		}
	}
	return nil
}
