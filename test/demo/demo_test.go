package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"portico.dev/portico/test/harness"
)

// TestDemo runs the demo as `go run ./test/demo -once` does, on free ports:
// the manifests in deploy/examples apply, their Deployments become
// available and every printed curl line answers as it says.
func TestDemo(t *testing.T) {
	ports, err := harness.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if err := run(ctx, addr(0), addr(1), addr(2), true); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE: demo from start to checked curl lines in %v", time.Since(start).Round(time.Millisecond))
}
