package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

const moduleName = "portico.dev/portico"

// k8sBinaries are the programs a control plane needs in BinDir.
var k8sBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"}

// buildHint is appended to every error about missing binaries.
const buildHint = "build them with `hack/tools.sh k8s` from the repository root " +
	"(first time about 16 minutes on 2 cores, needs the Go module proxy; later runs use the cache " +
	"in ~/.cache/portico/k8s)"

// K8sBinDir returns the folder holding etcd, kube-apiserver,
// kube-controller-manager and kubectl, running `hack/tools.sh k8s` to build
// them if needed. The script prints progress to log (nil = discard) only
// when it actually builds.
//
// Test binaries of several packages may call this at once (go test ./...);
// a lock file makes them wait for one build instead of starting one each.
func K8sBinDir(ctx context.Context, log io.Writer) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "portico-k8s-tools.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()

	var stderr bytes.Buffer
	errOut := io.Writer(&stderr)
	if log != nil {
		errOut = io.MultiWriter(&stderr, log)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "tools.sh"), "k8s")
	cmd.Dir = root
	cmd.Stderr = errOut
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/tools.sh k8s failed: %w\n%s\n%s", err, stderr.String(), buildHint)
	}
	dir := strings.TrimSpace(lastLine(string(out)))
	if err := checkBinaries(dir); err != nil {
		return "", err
	}
	return dir, nil
}

func checkBinaries(dir string) error {
	for _, name := range k8sBinaries {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%s not found in %q: %w; %s", name, dir, err, buildHint)
		}
	}
	return nil
}

// RepoRoot walks up from the working directory to the folder whose go.mod
// declares module portico.dev/portico (nested tool modules are skipped).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if isPorticoModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod for module " + moduleName + " above the working directory")
		}
		dir = parent
	}
}

func isPorticoModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == moduleName
		}
	}
	return false
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// lockFile takes an exclusive flock on path, waiting for other holders. The
// kernel drops the lock if the holder dies, so a killed run never blocks the next.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// ToolBinary builds package pkg of the tools module test/tools/<set> (a
// `tool` directive there) and returns the binary's path. Like hack/tools.sh
// it caches by the hash of the module's go.mod and go.sum, in
// ${XDG_CACHE_HOME:-~/.cache}/portico/<set>/<hash>/, and a lock makes test
// binaries that need it at once wait for one build. Progress goes to log.
func ToolBinary(ctx context.Context, set, pkg string, log io.Writer) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	mod := filepath.Join(root, "test", "tools", set)
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(mod, f))
		if err != nil {
			return "", fmt.Errorf("tools module %s: %w", set, err)
		}
		h.Write(b)
	}
	cacheRoot, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheRoot, "portico", set, hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, path.Base(pkg))
	unlock, err := lockFile(filepath.Join(os.TempDir(), "portico-tools-"+set+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintf(log, "portico: building %s from the Go module proxy into %s (first time only)\n", pkg, dir)
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-mod=readonly", "-trimpath", "-o", tmp, pkg)
	cmd.Dir = mod
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s in test/tools/%s: %w\n%s", pkg, set, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil { // complete or absent, never half written
		return "", err
	}
	return bin, nil
}
