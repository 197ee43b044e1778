package main

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
)

// gcPercentWithLimit is the GC target used when the process has a memory
// limit and no GOGC of its own (docs/benchmarks.md). The data plane's live
// heap is small and nearly all of its garbage is per-request, so collecting
// four times less often cuts GC work per request roughly fourfold; the
// memory limit (GOMEMLIMIT, which the manifests set from the container's
// limit) still makes the runtime collect before the heap outgrows it.
const gcPercentWithLimit = 400

// tuneGC applies that policy; an explicit GOGC always wins, and without a
// memory limit Go's default (100) stays, so memory cannot grow unbounded.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") != "" {
		return
	}
	limit := debug.SetMemoryLimit(-1)
	if limit == math.MaxInt64 {
		return
	}
	debug.SetGCPercent(gcPercentWithLimit)
	log.Info("GC tuned for the memory limit", "gogc", gcPercentWithLimit, "memory_limit_bytes", limit)
}
