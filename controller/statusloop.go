package controller

import (
	"context"
	"time"

	"k8s.io/client-go/util/retry"
)

// maxStatusRetry caps the back-off between failed status passes.
const maxStatusRetry = 30 * time.Second

// statusLoop is what the status writers (Ingress, Gateway API) share: the
// build goroutine records what it wants and kicks, which never blocks; while
// leading, run brings the cluster to it on the writer's own goroutine. A
// pass that failed is retried after a back-off (first retry after
// retryAfter, doubling up to maxStatusRetry, reset by a pass that
// succeeds); a new build kicks a pass at once anyway.
type statusLoop struct {
	kick       chan struct{}
	retryAfter time.Duration
}

func newStatusLoop(retryAfter time.Duration) statusLoop {
	if retryAfter <= 0 {
		retryAfter = 2 * time.Second
	}
	return statusLoop{kick: make(chan struct{}, 1), retryAfter: retryAfter}
}

// signal asks for a pass; it never blocks.
func (l *statusLoop) signal() {
	select {
	case l.kick <- struct{}{}:
	default: // a pass is already pending
	}
}

// run calls sync once at once (a new leader checks everything: that is the
// full write on becoming leader), then on every signal and retry, until ctx
// ends. sync reports whether every write succeeded.
func (l *statusLoop) run(ctx context.Context, sync func(context.Context) bool) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var delay time.Duration
	l.signal()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		case <-retry.C:
		}
		if sync(ctx) {
			delay = 0
			retry.Stop()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		delay = min(max(2*delay, l.retryAfter), max(maxStatusRetry, l.retryAfter))
		retry.Reset(delay)
	}
}

// updateStatus writes the status change computes from an object, through
// update (an UpdateStatus call). The first attempt starts from cached (the
// informer's copy: no read from the API server); after a conflict it starts
// again from latest, which reports ok=false when the object is gone or was
// replaced (nothing left to write), as often as retry.DefaultRetry allows.
// change reports changed=false when the object already has the wanted
// status: then nothing is written. wrote tells whether a write succeeded.
func updateStatus[T any](cached T, latest func() (cur T, ok bool, err error),
	change func(cur T) (next T, changed bool), update func(next T) error) (wrote bool, err error) {
	cur, first := cached, true
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			fresh, ok, err := latest()
			if err != nil || !ok {
				return err
			}
			cur = fresh
		}
		first = false
		next, changed := change(cur)
		if !changed {
			return nil
		}
		if err := update(next); err != nil {
			return err
		}
		wrote = true
		return nil
	})
	return wrote, err
}
