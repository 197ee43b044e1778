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
)

// StatusConfig for NewStatusWriter.
type StatusConfig struct {
	Client kubernetes.Interface
	Source AddressSource // where Portico can be reached
	Log    *slog.Logger
	// RetryAfter is how long to wait before trying again after a failed
	// write (other than a conflict, which is retried at once); it doubles
	// while writes keep failing, up to 30s. Default 2s.
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
	loop      statusLoop

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
	return &StatusWriter{cfg: cfg, loop: newStatusLoop(cfg.RetryAfter), written: map[types.UID][]Address{}}
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
	w.loop.signal()
}

// Lead writes status until ctx ends (leadership lost or shutdown). It runs
// the address source for as long as it leads.
func (w *StatusWriter) Lead(ctx context.Context) {
	srcCtx, cancel := context.WithCancel(ctx)
	srcDone := make(chan struct{})
	go func() {
		defer close(srcDone)
		w.cfg.Source.Run(srcCtx, w.loop.signal)
	}()
	defer func() { cancel(); <-srcDone }()
	w.loop.run(ctx, w.sync)
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
	latest := func() (*networkingv1.Ingress, bool, error) {
		fresh, err := api.Get(ctx, ing.Name, metav1.GetOptions{})
		if err != nil {
			return nil, false, err
		}
		// Deleted and re-created: the next build handles the new one.
		return fresh, fresh.UID == ing.UID, nil
	}
	change := func(cur *networkingv1.Ingress) (*networkingv1.Ingress, bool) {
		if !cond(cur.Status.LoadBalancer.Ingress) {
			return nil, false
		}
		next := cur.DeepCopy()
		next.Status.LoadBalancer.Ingress = want
		return next, true
	}
	return updateStatus(ing, latest, change, func(next *networkingv1.Ingress) error {
		_, err := api.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		return err
	})
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
