// Command bench measures Portico side by side with nginx and HAProxy on this
// machine, in the same run, against the same backend: one Go backend in a
// network namespace (so every proxy crosses the same veth), each proxy
// pinned to CPU 0, wrk and the backend on CPU 1, several rounds alternating
// targets, medians, and per-round ratios to nginx. Portico is configured
// the way a user would: Ingress -> Service -> EndpointSlice in a real API
// server.
//
//	test/bench/run.sh                  # installs nginx, haproxy, wrk; then:
//	go run ./test/bench -rounds 3 -duration 10s -out docs/benchmarks-results.md
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	rounds    int
	duration  time.Duration
	out       string
	scenarios string
	scale     bool
	accessLog bool
	pprofDir  string
	baseline  string
	env       string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "backend" {
		backendMain(os.Args[2:])
		return
	}
	var o options
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each round runs every target once per scenario, in rotating order")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "wrk duration per run")
	flag.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	flag.StringVar(&o.scenarios, "scenarios", "", "comma-separated scenario names (default: all; \"none\": only the scale test)")
	flag.BoolVar(&o.scale, "scale", true, "also run the control-plane scale test (10k Ingresses)")
	flag.BoolVar(&o.accessLog, "access-log", false, "run Portico with its access log on (nginx and HAProxy log nothing either way)")
	flag.StringVar(&o.env, "portico-env", "", "extra environment for Portico, comma-separated KEY=VALUE (e.g. GOGC=400), to measure runtime settings")
	flag.StringVar(&o.baseline, "baseline", "", "also run this Portico binary (e.g. a build of main before a change) as target portico-baseline, in the same rounds")
	flag.StringVar(&o.pprofDir, "pprof", "", "run Portico with --profiling and save a CPU profile of its measured run per scenario to this directory (SCENARIO.pprof, last round wins)")
	flag.Parse()
	if err := checkScenarios(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, o)
	if report != "" {
		fmt.Println(report)
		if o.out != "" {
			if werr := os.WriteFile(o.out, []byte(report), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "bench:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// checkScenarios refuses a -scenarios name that is neither a scenario nor
// "none", so that a typo cannot silently measure nothing.
func checkScenarios(o options) error {
	if o.scenarios == "" {
		return nil
	}
	var names []string
	for _, sc := range scenarios {
		names = append(names, sc.name)
	}
	for _, s := range strings.Split(o.scenarios, ",") {
		s = strings.TrimSpace(s)
		if s != "none" && !slices.Contains(names, s) {
			return fmt.Errorf("-scenarios: unknown %q (want none or some of %s)", s, strings.Join(names, ", "))
		}
	}
	if !anySelected(o) && !o.scale {
		return errors.New("-scenarios none with -scale=false: nothing to run")
	}
	return nil
}

// anySelected: is there a proxy scenario to run at all? ("-scenarios none"
// runs only the control-plane scale test.)
func anySelected(o options) bool {
	for _, sc := range scenarios {
		if selected(o, sc.name) {
			return true
		}
	}
	return false
}

func selected(o options, name string) bool {
	if o.scenarios == "" {
		return true
	}
	for _, s := range strings.Split(o.scenarios, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}
