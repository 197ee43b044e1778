package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// netnsLockPath serializes subnet choice and stale cleanup across processes
// (go test ./... runs test binaries of several packages at once).
var netnsLockPath = filepath.Join(os.TempDir(), "portico-netns.lock")

// Pod subnets are /24s in 10.200.0.0 … 10.250.255.0.
const (
	firstSecondOctet = 200
	lastSecondOctet  = 250
	subnetCount      = (lastSecondOctet - firstSecondOctet + 1) * 256
)

var (
	cursorMu sync.Mutex
	// cursor walks the subnets in order from a random start, so a process
	// does not hand out a just-freed subnet again: a proxy's idle connection
	// to an old pod's address would otherwise hit a new pod and be reset.
	cursor = rand.IntN(subnetCount)
)

// freeSubnet returns the next /24 that overlaps nothing in used.
func freeSubnet(used []netip.Prefix) (netip.Prefix, error) {
	cursorMu.Lock()
	defer cursorMu.Unlock()
	for range subnetCount {
		i := cursor
		cursor = (cursor + 1) % subnetCount
		addr := netip.AddrFrom4([4]byte{10, byte(firstSecondOctet + i/256), byte(i % 256), 0})
		p := netip.PrefixFrom(addr, 24)
		if !overlapsAny(p, used) {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free /24 left in 10.200.0.0-10.250.255.255")
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

// usedPrefixes lists IPv4 subnets of addresses and routes in the root
// namespace; a pod subnet must not shadow or duplicate any of them.
func usedPrefixes() ([]netip.Prefix, error) {
	var used []netip.Prefix

	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := ipJSON(&links, "-4", "addr", "show"); err != nil {
		return nil, err
	}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if p, err := netip.ParsePrefix(a.Local + "/" + strconv.Itoa(a.PrefixLen)); err == nil {
				used = append(used, p.Masked())
			}
		}
	}

	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := ipJSON(&routes, "-4", "route", "show"); err != nil {
		return nil, err
	}
	for _, r := range routes {
		if r.Dst == "default" {
			continue
		}
		dst := r.Dst
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		if p, err := netip.ParsePrefix(dst); err == nil {
			used = append(used, p.Masked())
		}
	}
	return used, nil
}

func ipJSON(v any, args ...string) error {
	out, err := ip(append([]string{"-j"}, args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("parse ip %s output: %w", strings.Join(args, " "), err)
	}
	return nil
}

var (
	staleNetns = regexp.MustCompile(`^ptc-(\d+)-\d+$`)
	staleLink  = regexp.MustCompile(`^ptc(\d+)[hb]\d+$`) // veth host ends, bridges
	staleDir   = regexp.MustCompile(`^portico-cp-(\d+)-\d+$`)
)

// CleanupStale removes namespaces and links left by runs that were killed
// before they could clean up: names ptc-<pid>-* / ptc<pid>h* / ptc<pid>b*
// whose pid is no longer alive. Objects of live processes are never touched.
func CleanupStale() error {
	unlock, err := lockFile(netnsLockPath)
	if err != nil {
		return fmt.Errorf("cleanup stale pods: %w", err)
	}
	defer unlock()
	return cleanupStaleLocked()
}

func cleanupStaleLocked() error {
	var errs []error
	out, err := ip("netns", "list")
	if err != nil {
		return fmt.Errorf("cleanup stale pods: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if name := fields[0]; ownerDead(staleNetns, name) {
			if _, err := ip("netns", "del", name); err != nil {
				errs = append(errs, err)
			}
		}
	}

	var links []struct {
		Name string `json:"ifname"`
	}
	if err := ipJSON(&links, "link", "show"); err != nil {
		return fmt.Errorf("cleanup stale pods: %w", err)
	}
	for _, l := range links {
		if ownerDead(staleLink, l.Name) {
			if _, err := ip("link", "del", l.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// ownerDead reports whether name matches re and the pid it embeds is gone.
func ownerDead(re *regexp.Regexp, name string) bool {
	m := re.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0) // signal 0: existence check only
	return errors.Is(err, syscall.ESRCH)
}

// lastAddr is the broadcast address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// removeStaleDirs removes control plane dirs of runs killed before Stop
// (SIGKILL, e.g. a go test timeout): Pdeathsig ends their processes, but
// their files stay. Best effort.
func removeStaleDirs() {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && ownerDead(staleDir, e.Name()) {
			_ = os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
		}
	}
}
