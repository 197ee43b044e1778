package controller

import (
	"context"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// EventSink turns build problems into Kubernetes Events on the Ingresses
// they concern. Every build sees every problem again, so only problems that
// are new since the last build are sent; client-go's event correlator then
// aggregates repeats and rate-limits per object, so one broken Ingress
// updated in a loop cannot flood the API server.
type EventSink struct {
	rec         record.EventRecorder
	broadcaster record.EventBroadcaster

	mu       sync.Mutex
	last     map[problemKey]struct{}
	admitted map[types.UID]struct{}
}

type problemKey struct {
	uid     types.UID
	gen     int64
	reason  string
	message string
}

// NewEventSink sends Events through client as component "portico".
func NewEventSink(ctx context.Context, client kubernetes.Interface, component string) *EventSink {
	b := record.NewBroadcasterWithCorrelatorOptions(record.CorrelatorOptions{
		BurstSize: 10,      // events per object before rate limiting starts
		QPS:       1. / 60, // then one per minute per object
	})
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	go func() { <-ctx.Done(); b.Shutdown() }()
	return &EventSink{
		rec:         b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}),
		broadcaster: b,
		last:        make(map[problemKey]struct{}),
		admitted:    make(map[types.UID]struct{}),
	}
}

func (s *EventSink) report(res Result, log *slog.Logger) {
	seen := make(map[problemKey]struct{}, len(res.Problems))
	if s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	for _, p := range res.Problems {
		k := problemKey{reason: p.Reason, message: p.Message}
		if p.Ingress != nil {
			k.uid, k.gen = p.Ingress.UID, p.Ingress.Generation
		}
		seen[k] = struct{}{}
		if s != nil {
			if _, old := s.last[k]; old {
				continue
			}
		}
		if p.Ingress == nil {
			log.Warn("configuration problem", "reason", p.Reason, "msg", p.Message)
			continue
		}
		log.Warn("ingress problem", "ingress", p.Ingress.Namespace+"/"+p.Ingress.Name, "reason", p.Reason, "msg", p.Message)
		if s != nil {
			s.rec.Event(p.Ingress, corev1.EventTypeWarning, p.Reason, p.Message)
		}
	}
	if s == nil {
		return
	}
	s.last = seen
	live := make(map[types.UID]struct{}, len(res.Admitted))
	for _, ing := range res.Admitted {
		live[ing.UID] = struct{}{}
		if _, ok := s.admitted[ing.UID]; !ok {
			s.rec.Event(ing, corev1.EventTypeNormal, "Admitted", "Ingress is served by Portico")
		}
	}
	s.admitted = live
}
