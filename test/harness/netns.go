package harness

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Pod is a network namespace with a veth link to the root namespace: what a
// node sees of a real pod. The API server refuses loopback addresses in
// EndpointSlices, so test backends listen on a Pod's addresses instead.
type Pod struct {
	Name     string       // netns name, ptc-<pid>-<n>
	Addrs    []netip.Addr // pod-side addresses, on eth0 inside the namespace
	HostAddr netip.Addr   // host side of the veth (the pod's default gateway)
	Prefix   netip.Prefix // subnet shared by HostAddr and Addrs
	HostLink string       // veth name in the root namespace, ptc<pid>h<n>

	mu      sync.Mutex
	closed  bool
	release func() // returns the address to its Bridge; nil for NewPod's own subnet
}

var (
	podCounter atomic.Int64
	openPods   sync.Map // *Pod -> struct{}; closed by ClosePods on exit paths
	staleOnce  sync.Once
)

// maxPodAddrs keeps .1 for the host and the broadcast address free in a /24.
const maxPodAddrs = 253

// NewPod creates a namespace on a free /24 from 10.200.0.0/16 … 10.250.0.0/16
// with n pod addresses (.2 … .n+1) and the host end at .1. Safe to call from
// several test binaries at once. Needs root.
func NewPod(n int) (*Pod, error) {
	return newPod(netip.Prefix{}, n)
}

// NewPodWithPrefix is NewPod on a fixed IPv4 subnet (for demos whose sample
// YAML names static addresses): host end at the first address of prefix, pod
// addresses after it. Fails if the subnet overlaps one in use on the host.
func NewPodWithPrefix(prefix netip.Prefix, n int) (*Pod, error) {
	if !prefix.IsValid() || !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return nil, fmt.Errorf("new pod: prefix %v: want an IPv4 prefix of /30 or larger", prefix)
	}
	return newPod(prefix.Masked(), n)
}

func newPod(prefix netip.Prefix, n int) (*Pod, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("new pod: network namespaces need root (CAP_NET_ADMIN); run the tests as root")
	}
	if n < 1 || n > maxPodAddrs {
		return nil, fmt.Errorf("new pod: %d addresses: want 1..%d", n, maxPodAddrs)
	}
	pid, seq := os.Getpid(), podCounter.Add(1)
	p := &Pod{
		Name:     fmt.Sprintf("ptc-%d-%d", pid, seq),
		HostLink: fmt.Sprintf("ptc%dh%d", pid, seq),
	}
	if len(p.HostLink) > 15 { // IFNAMSIZ-1
		return nil, fmt.Errorf("new pod: link name %q longer than 15 bytes; too many pods in one process", p.HostLink)
	}

	// The lock covers choosing a subnet up to the moment its host address
	// exists, which is what other processes look at when they choose.
	unlock, err := lockFile(netnsLockPath)
	if err != nil {
		return nil, fmt.Errorf("new pod: %w", err)
	}
	defer unlock()
	staleOnce.Do(func() { _ = cleanupStaleLocked() }) // best effort; a leftover only costs a subnet

	used, err := usedPrefixes()
	if err != nil {
		return nil, fmt.Errorf("new pod: %w", err)
	}
	if prefix.IsValid() {
		if overlapsAny(prefix, used) {
			return nil, fmt.Errorf("new pod: subnet %v overlaps one in use on this host", prefix)
		}
	} else if prefix, err = freeSubnet(used); err != nil {
		return nil, fmt.Errorf("new pod: %w", err)
	}
	if err := p.create(prefix, n); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("new pod %s: %w", p.Name, err)
	}
	openPods.Store(p, struct{}{})
	return p, nil
}

// create sets the namespace up: veth pair, addresses, lo up, default route.
func (p *Pod) create(prefix netip.Prefix, n int) error {
	hostAddr := prefix.Addr().Next()
	addrs := make([]netip.Addr, 0, n)
	for a := hostAddr.Next(); len(addrs) < n; a = a.Next() {
		if !prefix.Contains(a) || a == lastAddr(prefix) {
			return fmt.Errorf("subnet %v has no room for %d addresses", prefix, n)
		}
		addrs = append(addrs, a)
	}
	bits := fmt.Sprint(prefix.Bits())
	steps := [][]string{
		{"netns", "add", p.Name},
		// Create the pod end directly inside the namespace as eth0, like a pod.
		{"link", "add", p.HostLink, "type", "veth", "peer", "name", "eth0", "netns", p.Name},
		{"addr", "add", hostAddr.String() + "/" + bits, "dev", p.HostLink},
		{"link", "set", p.HostLink, "up"},
		{"-n", p.Name, "link", "set", "lo", "up"},
		{"-n", p.Name, "link", "set", "eth0", "up"},
	}
	for _, a := range addrs {
		steps = append(steps, []string{"-n", p.Name, "addr", "add", a.String() + "/" + bits, "dev", "eth0"})
	}
	steps = append(steps, []string{"-n", p.Name, "route", "add", "default", "via", hostAddr.String()})
	for _, args := range steps {
		if _, err := ip(args...); err != nil {
			return err
		}
	}
	p.Prefix, p.HostAddr, p.Addrs = prefix, hostAddr, addrs
	return nil
}

// AddAddr adds another pod-side address inside the pod's subnet.
func (p *Pod) AddAddr(a netip.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("pod %s: add address: closed", p.Name)
	}
	if !p.Prefix.Contains(a) || a == p.HostAddr || a == p.Prefix.Addr() || a == lastAddr(p.Prefix) {
		return fmt.Errorf("pod %s: add address %v: not a free host address of %v", p.Name, a, p.Prefix)
	}
	if _, err := ip("-n", p.Name, "addr", "add", fmt.Sprintf("%v/%d", a, p.Prefix.Bits()), "dev", "eth0"); err != nil {
		return fmt.Errorf("pod %s: %w", p.Name, err)
	}
	p.Addrs = append(p.Addrs, a)
	return nil
}

// Listen opens a listener inside the pod's namespace; addr is host:port as
// for net.Listen, normally one of p.Addrs. A socket stays in the namespace it
// was created in, so only the creating thread has to switch namespaces.
func (p *Pod) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := p.inNamespace(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s: listen %s %s: %w", p.Name, network, addr, err)
	}
	return l, nil
}

// inNamespace runs fn on a fresh OS thread switched into the namespace.
func (p *Pod) inNamespace(fn func() error) error {
	target, err := os.Open("/run/netns/" + p.Name)
	if err != nil {
		return fmt.Errorf("open namespace: %w", err)
	}
	defer target.Close()

	done := make(chan error, 1)
	go func() {
		// Locked and never unlocked if switching back fails: Go then ends
		// the thread with the goroutine instead of reusing it in the wrong
		// namespace.
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- fmt.Errorf("open own namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- errors.Join(fnErr, fmt.Errorf("leave namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}

// Close deletes the host link (which deletes its peer) and the namespace.
// Idempotent. Listeners opened inside keep the namespace object alive until
// they close, but it is unreachable once the link is gone.
func (p *Pod) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	openPods.Delete(p)
	var errs []error
	if linkExists(p.HostLink) {
		if _, err := ip("link", "del", p.HostLink); err != nil {
			errs = append(errs, err)
		}
	}
	if netnsExists(p.Name) {
		if _, err := ip("netns", "del", p.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close pod %s: %w", p.Name, err)
	}
	if p.release != nil {
		p.release() // only once the address is gone from the host
	}
	return nil
}

// ClosePods closes every Pod and Bridge this process created and has not
// closed yet. Main calls it; programs that create pods call it on their
// exit paths.
func ClosePods() error {
	var errs []error
	openPods.Range(func(k, _ any) bool {
		errs = append(errs, k.(*Pod).Close())
		return true
	})
	openBridges.Range(func(k, _ any) bool {
		errs = append(errs, k.(*Bridge).Close())
		return true
	})
	return errors.Join(errs...)
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func netnsExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

// ip runs iproute2's ip and returns its stdout.
func ip(args ...string) ([]byte, error) {
	out, err := exec.Command("ip", args...).Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return out, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(exitErr.Stderr)))
		}
		return out, fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}
