package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"portico.dev/portico/controller"
)

// leaderFlags are the leader election and Ingress status flags
// (docs/controller.md).
type leaderFlags struct {
	electionID        string
	electionNamespace string
	leaseDuration     time.Duration
	renewDeadline     time.Duration
	retryPeriod       time.Duration
	publishService    *types.NamespacedName
	publishAddresses  []controller.Address
	updateStatus      bool // --update-status; false: Ingress status is never written

	publishServiceRaw, publishAddressesRaw string
}

func addLeaderFlags(fs *flag.FlagSet, l *leaderFlags) {
	fs.StringVar(&l.electionID, "election-id", "portico-leader", "name of the coordination.k8s.io Lease used for leader election (the leader writes Ingress status)")
	fs.StringVar(&l.electionNamespace, "election-namespace", "", "namespace of the leader election Lease (default: $POD_NAMESPACE, else \"default\")")
	fs.DurationVar(&l.leaseDuration, "lease-duration", 15*time.Second, "how long replicas wait before taking over from a leader that stopped renewing")
	fs.DurationVar(&l.renewDeadline, "renew-deadline", 10*time.Second, "how long the leader keeps retrying to renew before it gives up leadership")
	fs.DurationVar(&l.retryPeriod, "retry-period", 2*time.Second, "how often replicas try to acquire or renew the Lease")
	fs.StringVar(&l.publishServiceRaw, "publish-service", "", "namespace/name of the Service whose load-balancer ingress (else external IPs, else cluster IP) is written to Ingress status")
	fs.StringVar(&l.publishAddressesRaw, "publish-status-address", "", "comma-separated IPs or host names written to Ingress status (instead of --publish-service)")
	fs.BoolVar(&l.updateStatus, "update-status", true, "write the load-balancer address to Ingress status while leading; false: Ingress status is never written (Gateway API status is not affected)")
}

func (l *leaderFlags) validate() error {
	if l.electionNamespace == "" {
		l.electionNamespace = os.Getenv("POD_NAMESPACE")
	}
	if l.electionNamespace == "" {
		l.electionNamespace = "default"
	}
	if l.electionID == "" {
		return errors.New("--election-id must not be empty")
	}
	if err := controller.ValidateLeaderTimings(l.leaseDuration, l.renewDeadline, l.retryPeriod); err != nil {
		return err
	}
	if l.publishServiceRaw != "" && l.publishAddressesRaw != "" {
		return errors.New("--publish-service and --publish-status-address exclude each other")
	}
	if s := l.publishServiceRaw; s != "" {
		ns, name, ok := strings.Cut(s, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("--publish-service: %q: want namespace/name", s)
		}
		l.publishService = &types.NamespacedName{Namespace: ns, Name: name}
	}
	if s := l.publishAddressesRaw; s != "" {
		addrs, err := controller.ParseAddresses(s)
		if err != nil {
			return fmt.Errorf("--publish-status-address: %w", err)
		}
		l.publishAddresses = addrs
	}
	return nil
}

// identity is $POD_NAME (unique in a cluster), else the host name plus a
// random suffix, so several processes on one host never share an identity.
func identity() string {
	if pod := os.Getenv("POD_NAME"); pod != "" {
		return pod
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "portico"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "_" + hex.EncodeToString(b)
}

// newStatusWriter picks the address source: --publish-service, else
// --publish-status-address, else (POD_NAME and POD_NAMESPACE set, as in a
// hostNetwork DaemonSet) the addresses of the nodes running Portico pods.
// With none of them, or with --update-status=false, no status is written.
func newStatusWriter(l *leaderFlags, client kubernetes.Interface, log *slog.Logger) *controller.StatusWriter {
	var src controller.AddressSource
	switch {
	case !l.updateStatus:
		log.Info("--update-status=false: Ingress status is not written")
		return nil
	case l.publishService != nil:
		src = &controller.ServiceAddresses{Client: client, Name: *l.publishService}
	case len(l.publishAddresses) > 0:
		src = controller.StaticAddresses(l.publishAddresses)
	case os.Getenv("POD_NAME") != "" && os.Getenv("POD_NAMESPACE") != "":
		src = &controller.NodeAddresses{Client: client, Namespace: os.Getenv("POD_NAMESPACE"), Pod: os.Getenv("POD_NAME"), Log: log}
	default:
		log.Info("no --publish-service, --publish-status-address or POD_NAME/POD_NAMESPACE: Ingress status is not written")
		return nil
	}
	return controller.NewStatusWriter(controller.StatusConfig{Client: client, Source: src, Log: log})
}

// leadAll runs every status writer's Lead side by side for as long as this
// replica leads, and returns when all have stopped; nil when there are none.
func leadAll(leads []func(context.Context)) func(context.Context) {
	if len(leads) == 0 {
		return nil
	}
	return func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, lead := range leads {
			wg.Go(func() { lead(ctx) })
		}
		wg.Wait()
	}
}

// startLeaderElection campaigns until ctx ends or the returned stop is
// called; stop returns a channel that closes once the Lease is released.
// run calls stop as soon as shutdown begins, so a replica that is stopped
// gracefully hands over at once, before its drain. Traffic does not depend
// on any of this.
func startLeaderElection(ctx context.Context, l *leaderFlags, client kubernetes.Interface, lead func(context.Context),
	reg prometheus.Registerer, log *slog.Logger) (stop func() <-chan struct{}) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	cfg := controller.LeaderConfig{
		Client: client, Namespace: l.electionNamespace, Name: l.electionID, Identity: identity(),
		LeaseDuration: l.leaseDuration, RenewDeadline: l.renewDeadline, RetryPeriod: l.retryPeriod,
		Log: log, Metrics: reg, Lead: lead,
	}
	go func() {
		defer close(done)
		if err := controller.RunLeaderElection(ctx, cfg); err != nil {
			log.Error("leader election", "err", err)
		}
	}()
	return func() <-chan struct{} { cancel(); return done }
}
