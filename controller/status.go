package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/util/retry"
)

// StatusConfig for NewStatusWriter.
type StatusConfig struct {
	Client kubernetes.Interface
	Source AddressSource // where Portico can be reached
	Log    *slog.Logger
	// RetryAfter is how long to wait before trying again after a failed
	// write (other than a conflict, which is retried at once). Default 2s.
	RetryAfter time.Duration
}

// StatusWriter writes status.loadBalancer.ingress of the Ingresses Portico
// serves. Every replica feeds it builds (through Config.Status); only the
// leader runs Lead, so only the leader writes.
//
// It never touches an Ingress that is not Portico's, except to remove the
// addresses Portico itself published from an Ingress that stopped being
// Portico's (its class changed or was deleted); an Ingress whose status
// holds anything else is left alone, so two controllers never fight over
// one status. Writes happen only when the status differs (a rebuild with
// nothing new costs no API call) and are retried on conflict.
type StatusWriter struct {
	cfg       StatusConfig
	ingresses networkinglisters.IngressLister // the controller's cache; set by New
	kick      chan struct{}

	mu       sync.Mutex
	built    bool                    // a build has been seen
	admitted map[types.UID]bool      // Ingresses served in the latest build
	written  map[types.UID][]Address // what this replica published, to recognise it later
}

// NewStatusWriter returns a writer; pass it as Config.Status and run Lead
// while leading.
func NewStatusWriter(cfg StatusConfig) *StatusWriter {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 2 * time.Second
	}
	return &StatusWriter{cfg: cfg, kick: make(chan struct{}, 1), written: map[types.UID][]Address{}}
}

// update records which Ingresses the latest build admitted. It runs on the
// build goroutine on every replica and never blocks on the API server.
func (w *StatusWriter) update(res Result) {
	if w == nil {
		return
	}
	admitted := make(map[types.UID]bool, len(res.Admitted))
	for _, ing := range res.Admitted {
		admitted[ing.UID] = true
	}
	w.mu.Lock()
	w.built, w.admitted = true, admitted
	w.mu.Unlock()
	w.signal()
}

func (w *StatusWriter) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Lead writes status until ctx ends (leadership lost or shutdown). It runs
// the address source for as long as it leads.
func (w *StatusWriter) Lead(ctx context.Context) {
	srcCtx, cancel := context.WithCancel(ctx)
	srcDone := make(chan struct{})
	go func() {
		defer close(srcDone)
		w.cfg.Source.Run(srcCtx, w.signal)
	}()
	defer func() { cancel(); <-srcDone }()
	w.signal() // a new leader checks everything once
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
			if !w.sync(ctx) && ctx.Err() == nil {
				time.AfterFunc(w.cfg.RetryAfter, w.signal)
			}
		}
	}
}

// sync brings every Ingress in the cache to its wanted status and reports
// whether all writes succeeded.
func (w *StatusWriter) sync(ctx context.Context) bool {
	addrs, ok := w.cfg.Source.Addresses()
	w.mu.Lock()
	built, admitted := w.built, w.admitted
	w.mu.Unlock()
	if !ok || !built || w.ingresses == nil {
		return true // nothing known yet; the source or the next build signals again
	}
	all, err := w.ingresses.List(labels.Everything())
	if err != nil {
		return false
	}
	good := true
	present := make(map[types.UID]bool, len(all))
	for _, ing := range all {
		present[ing.UID] = true
		var err error
		if admitted[ing.UID] {
			err = w.publish(ctx, ing, addrs)
		} else {
			err = w.withdraw(ctx, ing, addrs)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			if ctx.Err() == nil {
				w.cfg.Log.Warn("writing ingress status", "ingress", ing.Namespace+"/"+ing.Name, "err", err)
			}
			good = false
		}
	}
	w.mu.Lock()
	for uid := range w.written {
		if !present[uid] {
			delete(w.written, uid)
		}
	}
	w.mu.Unlock()
	return good
}

// publish sets Portico's addresses on an Ingress it serves.
func (w *StatusWriter) publish(ctx context.Context, ing *networkingv1.Ingress, addrs []Address) error {
	differs := func(cur []Address) bool { return !sameAddresses(cur, addrs) }
	wrote, err := w.write(ctx, ing, addrs, differs)
	if err == nil {
		w.mu.Lock()
		w.written[ing.UID] = addrs
		w.mu.Unlock()
		if wrote {
			w.cfg.Log.Info("ingress status written", "ingress", ing.Namespace+"/"+ing.Name, "addresses", addrString(addrs))
		}
	}
	return err
}

// withdraw removes Portico's addresses from an Ingress it does not serve,
// only when the status is exactly what Portico publishes now or published
// before on it: anything else belongs to another controller.
func (w *StatusWriter) withdraw(ctx context.Context, ing *networkingv1.Ingress, addrs []Address) error {
	w.mu.Lock()
	prev, hadPrev := w.written[ing.UID]
	w.mu.Unlock()
	ours := func(cur []Address) bool {
		return len(cur) > 0 && (sameAddresses(cur, addrs) || hadPrev && sameAddresses(cur, prev))
	}
	if !ours(ing.Status.LoadBalancer.Ingress) {
		return nil
	}
	wrote, err := w.write(ctx, ing, nil, ours)
	if err == nil {
		w.mu.Lock()
		delete(w.written, ing.UID)
		w.mu.Unlock()
		if wrote {
			w.cfg.Log.Info("ingress status cleared", "ingress", ing.Namespace+"/"+ing.Name)
		}
	}
	return err
}

// write sets the status to want when cond holds for the current status. The
// first attempt uses the cached object; after a conflict it reads a fresh one
// and checks cond again.
func (w *StatusWriter) write(ctx context.Context, ing *networkingv1.Ingress, want []Address, cond func([]Address) bool) (bool, error) {
	api := w.cfg.Client.NetworkingV1().Ingresses(ing.Namespace)
	cur, wrote := ing, false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			fresh, err := api.Get(ctx, ing.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if fresh.UID != ing.UID {
				return nil // deleted and re-created; the next build handles the new one
			}
			cur = fresh
		}
		if !cond(cur.Status.LoadBalancer.Ingress) {
			return nil
		}
		next := cur.DeepCopy()
		next.Status.LoadBalancer.Ingress = want
		_, err := api.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			wrote = true
		}
		cur = nil
		return err
	})
	return wrote, err
}

func addrString(as []Address) string {
	s := ""
	for i, a := range as {
		if i > 0 {
			s += ","
		}
		s += a.IP + a.Hostname
	}
	return s
}

func (w *StatusWriter) useLister(l networkinglisters.IngressLister) {
	if w != nil {
		w.ingresses = l
	}
}
