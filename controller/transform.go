package controller

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// lastApplied is kubectl apply's copy of the whole object, as an annotation.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// stripForCache is the informers' transform: it drops what Portico never
// reads before an object enters the cache. managedFields often weigh more
// than the object itself; at 10k Ingresses they dominate the cache. The
// last-applied annotation is a second copy of the object (for a TLS Secret,
// of its key and certificate); it is dropped from every kind but Ingress,
// whose cached copy is the base of status updates, and an update through
// /status would remove an annotation missing from it. (A nil managedFields
// in an update leaves the server's unchanged.)
func stripForCache(obj any) (any, error) {
	a, ok := obj.(metav1.ObjectMetaAccessor)
	if !ok {
		return obj, nil // a tombstone: its object was transformed when stored
	}
	m := a.GetObjectMeta()
	m.SetManagedFields(nil)
	if _, isIngress := obj.(*networkingv1.Ingress); !isIngress {
		if ann := m.GetAnnotations(); ann[lastApplied] != "" {
			delete(ann, lastApplied)
		}
	}
	return obj, nil
}

var _ cache.TransformFunc = stripForCache
