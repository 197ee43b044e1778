package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"portico.dev/portico/test/harness"
)

// images maps a Pod's image to the program that stands in for it: no image
// is pulled, every program is built from source on first use. Add a line to
// support another image. match sees the image's repository (no tag, no
// digest).
var images = []image{
	{"portico.dev/echo", repoIs("portico.dev/echo"), goProgram("portico-echo", "./test/cmd/portico-echo")},
	{"*/echo-basic (Gateway API conformance)", lastElemIs("echo-basic"), toolProgram("gateway-api", "sigs.k8s.io/gateway-api/conformance/echo-basic")},
	// In the Gateway API conformance base manifests (for UDPRoute tests);
	// its Pod must be Ready before any test runs.
	{"*/coredns (CoreDNS)", lastElemIs("coredns"), toolProgram("coredns", "github.com/coredns/coredns")},
}

type image struct {
	pattern string // for messages
	match   func(repo string) bool
	build   builder
}

// A builder makes a program into binDir and returns its path.
type builder struct {
	name  string
	build func(ctx context.Context, binDir string, log io.Writer) (string, error)
}

func repoIs(r string) func(string) bool { return func(repo string) bool { return repo == r } }

func lastElemIs(e string) func(string) bool {
	return func(repo string) bool { return path.Base(repo) == e }
}

// goProgram builds a main package of this repository with go build.
func goProgram(name, pkg string) builder {
	return builder{name: name, build: func(ctx context.Context, binDir string, _ io.Writer) (string, error) {
		root, err := harness.RepoRoot()
		if err != nil {
			return "", err
		}
		out := filepath.Join(binDir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		return out, nil
	}}
}

// toolProgram is package pkg of a tools module (test/tools/<set>), built
// once per machine and cached (harness.ToolBinary).
func toolProgram(set, pkg string) builder {
	return builder{name: path.Base(pkg), build: func(ctx context.Context, _ string, log io.Writer) (string, error) {
		return harness.ToolBinary(ctx, set, pkg, log)
	}}
}

// buildTimeout bounds one program build; a cold build of a tools module
// (echo-basic and its gRPC dependencies) takes a minute or two.
const buildTimeout = 10 * time.Minute

// programs builds each program once per agent, in the background, and
// remembers the result (also a failure: Pods then report it instead of
// building again). Builds end when the agent stops (ctx).
type programs struct {
	ctx    context.Context
	binDir string
	log    io.Writer
	mu     sync.Mutex
	built  map[string]*buildResult
}

type buildResult struct {
	done chan struct{} // closed once path, err are set
	path string
	err  error
}

func newPrograms(ctx context.Context, binDir string, log io.Writer) *programs {
	return &programs{ctx: ctx, binDir: binDir, log: log, built: map[string]*buildResult{}}
}

// errUnknownImage is an image no program stands in for.
type errUnknownImage struct{ image string }

func (e errUnknownImage) Error() string {
	var known []string
	for _, im := range images {
		known = append(known, im.pattern)
	}
	return fmt.Sprintf("portico test node agent: no program stands in for image %q (known: %s; see test/nodeagent/images.go)",
		e.image, strings.Join(known, ", "))
}

// Prepare builds the programs that stand in for images now, so that Pods
// using them later start without waiting for a build (a cold build of
// CoreDNS takes minutes, longer than some test suites wait for Pods to get
// Ready). It fails at once for an image no program stands in for.
func (a *Agent) Prepare(ctx context.Context, images ...string) error {
	for _, img := range images {
		if _, err := a.programs.resolve(img, ctx.Done(), a.stopCh); err != nil {
			if errors.Is(err, errGaveUp) && ctx.Err() != nil {
				err = ctx.Err()
			}
			return fmt.Errorf("prepare image %q: %w", img, err)
		}
	}
	return nil
}

// errGaveUp: the caller stopped waiting for a build.
var errGaveUp = errors.New("stopped waiting for the program to build")

// resolve returns the program for image, building it on first use. It
// stops waiting for a build when stop or terminating is closed.
func (p *programs) resolve(img string, stop, terminating <-chan struct{}) (string, error) {
	repo := repository(img)
	for _, im := range images {
		if !im.match(repo) {
			continue
		}
		r := p.start(im, img)
		select {
		case <-r.done:
			return r.path, r.err
		case <-stop:
			return "", errGaveUp
		case <-terminating:
			return "", errGaveUp
		}
	}
	return "", errUnknownImage{img}
}

// start begins the build of im's program unless it has begun already.
func (p *programs) start(im image, img string) *buildResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.built[im.build.name]; r != nil {
		return r
	}
	r := &buildResult{done: make(chan struct{})}
	p.built[im.build.name] = r
	go func() {
		defer close(r.done)
		if r.err = os.MkdirAll(p.binDir, 0o755); r.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(p.ctx, buildTimeout)
		defer cancel()
		start := time.Now()
		r.path, r.err = im.build.build(ctx, p.binDir, p.log)
		fmt.Fprintf(p.log, "nodeagent: built %s for %s in %v (err %v)\n", im.build.name, img, time.Since(start).Round(time.Millisecond), r.err)
	}()
	return r
}

// repository strips the tag and digest: "reg:5000/a/b:v1@sha256:…" is "reg:5000/a/b".
func repository(img string) string {
	if i := strings.IndexByte(img, '@'); i >= 0 {
		img = img[:i]
	}
	if i := strings.LastIndexByte(img, ':'); i > strings.LastIndexByte(img, '/') {
		img = img[:i]
	}
	return img
}
