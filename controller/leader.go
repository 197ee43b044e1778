package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaderConfig for RunLeaderElection.
type LeaderConfig struct {
	Client    kubernetes.Interface
	Namespace string // of the Lease
	Name      string // of the Lease (--election-id)
	Identity  string // unique per replica
	// LeaseDuration, RenewDeadline and RetryPeriod as in client-go's
	// leaderelection; LeaseDuration must exceed RenewDeadline, and
	// RenewDeadline must exceed RetryPeriod * 1.2.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Lead runs while this replica holds the Lease; its context ends when
	// the Lease is lost or released. Only work that may be done by one
	// replica at a time belongs here (status writes). Traffic never does.
	Lead    func(ctx context.Context)
	Log     *slog.Logger
	Metrics prometheus.Registerer // optional; portico_leader is registered here
}

// ValidateLeaderTimings checks the durations the way client-go will, so bad
// flags are a start-up error rather than a panic later.
func ValidateLeaderTimings(lease, renew, retry time.Duration) error {
	switch {
	case lease <= 0 || renew <= 0 || retry <= 0:
		return errors.New("--lease-duration, --renew-deadline and --retry-period must be positive")
	case lease <= renew:
		return fmt.Errorf("--lease-duration (%s) must be greater than --renew-deadline (%s)", lease, renew)
	case float64(renew) <= leaderelection.JitterFactor*float64(retry):
		return fmt.Errorf("--renew-deadline (%s) must be greater than %.1f x --retry-period (%s)", renew, leaderelection.JitterFactor, retry)
	}
	return nil
}

// RunLeaderElection campaigns for the coordination.k8s.io/v1 Lease until
// ctx ends. Losing the Lease ends Lead's context and starts a new campaign.
// When ctx ends while leading, the Lease is released at once
// (ReleaseOnCancel) so another replica takes over within one retry period
// instead of waiting for the lease to expire.
func RunLeaderElection(ctx context.Context, cfg LeaderConfig) error {
	if err := ValidateLeaderTimings(cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod); err != nil {
		return err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	leader := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "portico_leader",
		Help: "1 while this replica holds the leader Lease (and writes Ingress status), else 0.",
	})
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(leader); err != nil {
			return fmt.Errorf("register portico_leader: %w", err)
		}
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
		Client:     cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            cfg.Name,
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				leader.Set(1)
				cfg.Log.Info("became leader", "lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
				if cfg.Lead != nil {
					cfg.Lead(ctx)
				}
			},
			OnStoppedLeading: func() {
				leader.Set(0)
			},
			OnNewLeader: func(id string) {
				if id != cfg.Identity {
					cfg.Log.Info("leader is another replica", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	cfg.Log.Info("campaigning for leadership", "lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
	for {
		// Run returns when the Lease is lost (or ctx ends). A replica that
		// lost it keeps serving traffic and simply campaigns again.
		le.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		cfg.Log.Warn("lost leadership; campaigning again", "identity", cfg.Identity)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(cfg.RetryPeriod):
		}
	}
}
