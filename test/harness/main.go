package harness

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// Main is a TestMain for packages that share one control plane:
//
//	var cp *harness.ControlPlane
//	func TestMain(m *testing.M) { harness.Main(m, &cp) }
//
// It starts the control plane, runs the tests, stops it and closes leftover
// Pods, then exits. If the control plane cannot start (for example the
// binaries cannot be built) the package fails with a message saying how to
// fix it; it never skips. Process output is shown with -v or
// PORTICO_HARNESS_LOG=1; the first build's progress is always shown.
func Main(m *testing.M, cp **ControlPlane) {
	os.Exit(runMain(m, cp, Options{}, nil))
}

// MainWith is Main with options (such as Controllers) and a setup that runs
// once the control plane is up, for example to start a node agent; what
// setup starts must stop through cp.OnStop. A setup error fails the package.
func MainWith(m *testing.M, cp **ControlPlane, opts Options, setup func(context.Context, *ControlPlane) error) {
	os.Exit(runMain(m, cp, opts, setup))
}

func runMain(m *testing.M, cp **ControlPlane, opts Options, setup func(context.Context, *ControlPlane) error) int {
	flag.Parse() // for testing.Verbose; m.Run accepts already parsed flags
	var logw io.Writer
	if testing.Verbose() || os.Getenv("PORTICO_HARNESS_LOG") != "" {
		logw = os.Stderr
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // covers a first build (16 min measured cold)
	defer cancel()
	// Build progress goes to stderr even without -v: a silent 16-minute
	// first run looks like a hang.
	if opts.Log == nil {
		opts.Log = logw
	}
	var err error
	if opts.BinDir == "" {
		opts.BinDir, err = K8sBinDir(ctx, os.Stderr)
	}
	if err == nil {
		*cp, err = Start(ctx, opts)
	}
	if err == nil && setup != nil {
		if err = setup(ctx, *cp); err != nil {
			cleanup(*cp)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: harness: cannot start the test control plane: %v\n", err)
		return 1
	}

	// Ctrl-C or a kill from a CI runner: clean up before dying. (SIGKILL
	// cannot be caught; Pdeathsig then ends the children, and the next run's
	// CleanupStale removes leftover namespaces.)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "harness: %v: cleaning up\n", sig)
		cleanup(*cp)
		os.Exit(1)
	}()

	code := m.Run()
	signal.Stop(sigs)
	cleanup(*cp)
	return code
}

// cleanup stops the control plane first: its OnStop hooks end the
// processes that run inside Pods before ClosePods removes their namespaces.
func cleanup(cp *ControlPlane) {
	cp.Stop()
	if err := ClosePods(); err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
	}
}
