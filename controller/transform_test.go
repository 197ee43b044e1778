package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestStripForCache(t *testing.T) {
	t.Parallel()
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name:          "x",
			Annotations:   map[string]string{lastApplied: `{"big":"copy"}`, "portico.dev/hsts": "max-age=1"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		}
	}
	for _, tc := range []struct {
		name            string
		obj             any
		keepLastApplied bool
	}{
		{"ingress keeps last-applied (status updates start from it)", &networkingv1.Ingress{ObjectMeta: meta()}, true},
		{"secret", &corev1.Secret{ObjectMeta: meta()}, false},
		{"service", &corev1.Service{ObjectMeta: meta()}, false},
		{"ingress class", &networkingv1.IngressClass{ObjectMeta: meta()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := stripForCache(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			m := out.(metav1.ObjectMetaAccessor).GetObjectMeta()
			if m.GetManagedFields() != nil {
				t.Error("managedFields kept")
			}
			if _, ok := m.GetAnnotations()[lastApplied]; ok != tc.keepLastApplied {
				t.Errorf("last-applied present: %v, want %v", ok, tc.keepLastApplied)
			}
			if m.GetAnnotations()["portico.dev/hsts"] != "max-age=1" {
				t.Error("other annotations changed")
			}
		})
	}
	t.Run("tombstone passes through", func(t *testing.T) {
		tomb := cache.DeletedFinalStateUnknown{Key: "ns/x"}
		if out, err := stripForCache(tomb); err != nil || out.(cache.DeletedFinalStateUnknown).Key != "ns/x" {
			t.Errorf("got %v, %v", out, err)
		}
	})
}
