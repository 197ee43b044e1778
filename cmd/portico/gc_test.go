package main

import (
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	prevPct := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(prevPct); debug.SetMemoryLimit(prevLimit) })
	for _, tc := range []struct {
		name  string
		gogc  string
		limit int64
		want  int
	}{
		{"memory limit, no GOGC: raised", "", 512 << 20, gcPercentWithLimit},
		{"no memory limit: Go's default", "", math.MaxInt64, 100},
		{"explicit GOGC wins", "150", 512 << 20, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.gogc == "" {
				t.Setenv("GOGC", "")
				os.Unsetenv("GOGC")
			} else {
				t.Setenv("GOGC", tc.gogc)
			}
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(tc.limit)
			tuneGC(slog.New(slog.NewTextHandler(io.Discard, nil)))
			got := debug.SetGCPercent(100)
			if got != tc.want {
				t.Errorf("GC percent %d, want %d", got, tc.want)
			}
		})
	}
}
