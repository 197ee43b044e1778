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

	"portico.dev/portico/gateway"
)

// EventSink turns build problems into Kubernetes Events on the Ingresses
// (and Gateway API objects) they concern. Every build sees every problem again, so only problems that
// are new since the last build are sent; client-go's event correlator then
// aggregates repeats and rate-limits per object, so one broken Ingress
// updated in a loop cannot flood the API server.
type EventSink struct {
	rec         record.EventRecorder
	broadcaster record.EventBroadcaster

	mu          sync.Mutex
	last        map[problemKey]struct{}
	lastGateway map[problemKey]struct{} // the Gateway API's, kept apart: both front-ends report every build
	admitted    map[types.UID]struct{}
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
		lastGateway: make(map[problemKey]struct{}),
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

// reportGateway sends a Warning Event for each Gateway API problem that is
// new since the last translation, on the object it names (ref finds it;
// a problem whose object it cannot name is only logged).
func (s *EventSink) reportGateway(problems []gateway.Problem, ref func(gateway.Problem) (*corev1.ObjectReference, int64, bool), log *slog.Logger) {
	seen := make(map[problemKey]struct{}, len(problems))
	if s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	for _, p := range problems {
		r, gen, ok := ref(p)
		k := problemKey{reason: p.Reason, message: p.Kind + " " + p.Namespace + "/" + p.Name + ": " + p.Message, gen: gen}
		if ok {
			k.uid = r.UID
		}
		seen[k] = struct{}{}
		if s != nil {
			if _, old := s.lastGateway[k]; old {
				continue
			}
		}
		log.Warn("gateway API problem", "kind", p.Kind, "object", p.Namespace+"/"+p.Name, "reason", p.Reason, "msg", p.Message)
		if s != nil && ok {
			s.rec.Event(r, corev1.EventTypeWarning, p.Reason, p.Message)
		}
	}
	if s != nil {
		s.lastGateway = seen
	}
}
