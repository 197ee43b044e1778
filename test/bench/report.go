package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

var order = []string{"nginx", "haproxy", "portico", "portico-baseline"}

func renderReport(o options, results map[string]map[string][]sample, rss map[string][2]int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Side by side: Portico, nginx, HAProxy\n\n")
	fmt.Fprintf(&b, "Run %s on %d cores (`test/bench/run.sh %s`). Each proxy pinned to CPU 0 "+
		"(nginx: 1 worker; HAProxy: 1 thread; Portico: GOMAXPROCS=1, access log %s); wrk (1 thread) and the Go backend "+
		"on CPU 1; the backend in a network namespace, so every proxy crosses the same veth. Every proxy has %d hosts "+
		"configured. Medians over %d rounds; ratios are the median of per-round ratios to nginx (lower is better for "+
		"CPU and p99).\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), strings.Join(os.Args[1:], " "),
		onOff(o.accessLog), extraHosts+1, o.rounds)
	for _, sc := range scenarios {
		byTarget := results[sc.name]
		if byTarget == nil {
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n", sc.name)
		fmt.Fprintf(&b, "| proxy | CPU µs/req | × nginx | req/s | × nginx | p50 | p99 | × nginx | errors |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, name := range order {
			ss := byTarget[name]
			if len(ss) == 0 {
				continue
			}
			ref := byTarget["nginx"]
			fmt.Fprintf(&b, "| %s | %.1f | %s | %.0f | %s | %s | %s | %s | %d |\n", name,
				us(time.Duration(median(ss, func(s sample) float64 { return float64(s.cpuPerReq) }))),
				ratio(ss, ref, func(s sample) float64 { return float64(s.cpuPerReq) }),
				median(ss, func(s sample) float64 { return s.rps }),
				ratio(ss, ref, func(s sample) float64 { return s.rps }),
				dur(median(ss, func(s sample) float64 { return float64(s.p50) })),
				dur(median(ss, func(s sample) float64 { return float64(s.p99) })),
				ratio(ss, ref, func(s sample) float64 { return float64(s.p99) }),
				sum(ss, func(s sample) int64 { return s.errors }))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "### Memory after the run\n\n| proxy | RSS | peak RSS |\n|---|--:|--:|\n")
	for _, name := range order {
		if m, ok := rss[name]; ok {
			fmt.Fprintf(&b, "| %s | %.1f MiB | %.1f MiB |\n", name, float64(m[0])/(1<<20), float64(m[1])/(1<<20))
		}
	}
	b.WriteString("\n")
	return b.String()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func median(ss []sample, f func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// ratio is the median over rounds of this target's value / nginx's value.
func ratio(ss, ref []sample, f func(sample) float64) string {
	if len(ref) == 0 || len(ref) != len(ss) {
		return "-"
	}
	var r []float64
	for i := range ss {
		if d := f(ref[i]); d != 0 {
			r = append(r, f(ss[i])/d)
		}
	}
	return fmt.Sprintf("%.2f", medianOf(r))
}

func sum(ss []sample, f func(sample) int64) int64 {
	var n int64
	for _, s := range ss {
		n += f(s)
	}
	return n
}

func dur(ns float64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
}
