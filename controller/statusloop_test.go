package controller

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestStatusLoopRetries: a failed pass is retried without any new signal,
// with a growing delay, and a pass that succeeds stops the retries.
func TestStatusLoopRetries(t *testing.T) {
	t.Parallel()
	l := newStatusLoop(20 * time.Millisecond)
	var calls atomic.Int32
	var at [4]time.Time
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx, func(context.Context) bool {
			n := calls.Add(1)
			if n <= 4 {
				at[n-1] = time.Now()
			}
			return n >= 4 // three failures, then success
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a retry after success would show by now
	cancel()
	<-done
	if n := calls.Load(); n != 4 {
		t.Fatalf("sync ran %d times, want 4 (one at start, three retries, none after success)", n)
	}
	for i, want := range []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond} {
		if got := at[i+1].Sub(at[i]); got < want {
			t.Errorf("retry %d came after %v, want at least %v", i+1, got, want)
		}
	}
}

// TestUpdateStatusConflict: the first attempt uses the cached object; a
// conflict restarts from latest; an object that is gone ends the attempt
// without error; an unchanged object is not written.
func TestUpdateStatusConflict(t *testing.T) {
	t.Parallel()
	conflict := apierrors.NewConflict(schema.GroupResource{Resource: "things"}, "x", errors.New("stale"))
	type obj struct{ rv, status string }
	tests := []struct {
		name      string
		latest    []obj // what latest returns, in order; rv "" means gone
		conflicts int   // updates that conflict before one succeeds
		wantWrote bool
		wantBase  []string // rv of the object each update started from
	}{
		{"no conflict", nil, 0, true, []string{"1"}},
		{"conflict then fresh", []obj{{"2", "old"}}, 1, true, []string{"1", "2"}},
		{"conflict then already done", []obj{{"2", "want"}}, 1, false, []string{"1"}},
		{"conflict then gone", []obj{{"", ""}}, 1, false, []string{"1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var bases []string
			reads := 0
			latest := func() (obj, bool, error) {
				o := tc.latest[reads]
				reads++
				return o, o.rv != "", nil
			}
			change := func(cur obj) (obj, bool) {
				return obj{cur.rv, "want"}, cur.status != "want"
			}
			update := func(next obj) error {
				bases = append(bases, next.rv)
				if len(bases) <= tc.conflicts {
					return conflict
				}
				return nil
			}
			wrote, err := updateStatus(obj{"1", "old"}, latest, change, update)
			if err != nil {
				t.Fatal(err)
			}
			if wrote != tc.wantWrote {
				t.Errorf("wrote = %v, want %v", wrote, tc.wantWrote)
			}
			if len(bases) != len(tc.wantBase) {
				t.Fatalf("updates started from %v, want %v", bases, tc.wantBase)
			}
			for i := range bases {
				if bases[i] != tc.wantBase[i] {
					t.Errorf("updates started from %v, want %v", bases, tc.wantBase)
				}
			}
		})
	}
}
