package acmecache

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const leasePrefix = "portico-acme-lock-"

// LeaseLocker implements acmecert.Locker with one coordination.k8s.io
// Lease per host. Taking a lock is an optimistic create (or an update at
// the resourceVersion read, for an expired Lease), so two replicas can
// never both win. The holder renews the Lease while it holds it; a crashed
// holder's Lease expires after TTL and is then taken over.
type LeaseLocker struct {
	Client    kubernetes.Interface
	Namespace string
	Identity  string        // this replica, e.g. the Pod name plus a random suffix
	TTL       time.Duration // default 1 min
	Log       *slog.Logger
}

// LeaseName is the name of the Lease that guards orders for host.
func LeaseName(host string) string { return objectName(leasePrefix, host) }

// TryLock takes the Lease for name, or reports that another replica holds it.
func (l *LeaseLocker) TryLock(ctx context.Context, name string) (func(), bool, error) {
	ttl := l.TTL
	if ttl <= 0 {
		ttl = time.Minute
	}
	leases := l.Client.CoordinationV1().Leases(l.Namespace)
	now := metav1.NewMicroTime(time.Now())
	secs := int32(ttl / time.Second)
	spec := coordinationv1.LeaseSpec{HolderIdentity: &l.Identity, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now}
	fresh := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: LeaseName(name), Namespace: l.Namespace,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "portico"},
			Annotations: map[string]string{AnnotationKey: name}},
		Spec: spec,
	}
	// The Lease can vanish between a failed create and the read (its
	// holder released it): then creating it is tried again.
	for try := 0; ; try++ {
		lease, err := leases.Create(ctx, fresh, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			cur, gerr := leases.Get(ctx, LeaseName(name), metav1.GetOptions{})
			if apierrors.IsNotFound(gerr) && try < 3 {
				continue
			}
			if gerr != nil {
				return nil, false, fmt.Errorf("reading Lease %s: %w", LeaseName(name), gerr)
			}
			if held(cur, l.Identity, time.Now()) {
				return nil, false, nil
			}
			cur.Spec = spec
			lease, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				return nil, false, nil // someone else took or released it first; look again later
			}
		}
		if err != nil {
			return nil, false, fmt.Errorf("taking Lease %s: %w", LeaseName(name), err)
		}
		return l.hold(lease, ttl), true, nil
	}
}

// held reports whether another holder has a Lease that has not expired.
func held(l *coordinationv1.Lease, me string, now time.Time) bool {
	s := l.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || *s.HolderIdentity == me {
		return false
	}
	if s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return false
	}
	return now.Before(s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second))
}

// hold renews the Lease every TTL/3 until the returned unlock, which
// deletes it (only if it is still ours: preconditions on UID and
// resourceVersion).
func (l *LeaseLocker) hold(lease *coordinationv1.Lease, ttl time.Duration) func() {
	leases := l.Client.CoordinationV1().Leases(l.Namespace)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *coordinationv1.Lease)
	go func() {
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		cur := lease
		for {
			select {
			case <-ctx.Done():
				done <- cur
				return
			case <-t.C:
				now := metav1.NewMicroTime(time.Now())
				next := cur.DeepCopy()
				next.Spec.RenewTime = &now
				if up, err := leases.Update(ctx, next, metav1.UpdateOptions{}); err == nil {
					cur = up
				} else if l.Log != nil {
					l.Log.Warn("renewing ACME order Lease", "lease", cur.Name, "err", err)
				}
			}
		}
	}()
	return func() {
		cancel()
		cur := <-done
		uid, rv := cur.UID, cur.ResourceVersion
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		err := leases.Delete(dctx, cur.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
		if err != nil && !apierrors.IsNotFound(err) && l.Log != nil {
			l.Log.Warn("releasing ACME order Lease; it will expire", "lease", cur.Name, "err", err)
		}
	}
}
