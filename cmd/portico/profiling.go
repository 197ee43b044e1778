package main

import (
	"flag"
	"net/http"
	"net/http/pprof"
)

// profilingFlags: --profiling serves Go's profiler on the metrics address
// (docs/benchmarks.md). Off by default: a CPU profile costs the data plane
// while it runs, and heap and goroutine dumps reveal internals, so it is for
// an operator who asks for it, on an address not reachable from outside.
type profilingFlags struct{ enabled bool }

func (p *profilingFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&p.enabled, "profiling", false, "serve Go's profiler (/debug/pprof/) on --metrics-addr")
}

// withProfiling adds /debug/pprof/ to the ops mux when enabled.
func (p *profilingFlags) withProfiling(mux *http.ServeMux) *http.ServeMux {
	if !p.enabled {
		return mux
	}
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
