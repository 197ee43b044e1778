package acmecache

import (
	"context"
	"fmt"

	"golang.org/x/crypto/acme/autocert"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Labels and annotations on cache Secrets, for `kubectl get -l` and for
// humans: the exact key is kept because the name only hints at it.
const (
	LabelCache    = "portico.dev/acme-cache"
	AnnotationKey = "portico.dev/acme-cache-key"
	dataKey       = "data"
	secretPrefix  = "portico-acme-"
)

// SecretCache is an autocert.Cache that keeps each entry in its own Secret
// of type Opaque. Entries hold private keys (certificates' and the ACME
// account's), which is why they are Secrets.
type SecretCache struct {
	Client    kubernetes.Interface
	Namespace string
}

var _ autocert.Cache = (*SecretCache)(nil)

// SecretName is the name of the Secret that holds key.
func SecretName(key string) string { return objectName(secretPrefix, key) }

// Get returns autocert.ErrCacheMiss when there is no entry for key.
func (c *SecretCache) Get(ctx context.Context, key string) ([]byte, error) {
	s, err := c.Client.CoreV1().Secrets(c.Namespace).Get(ctx, SecretName(key), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, autocert.ErrCacheMiss
	}
	if err != nil {
		return nil, fmt.Errorf("acme cache: reading %q: %w", key, err)
	}
	if s.Annotations[AnnotationKey] != key {
		return nil, autocert.ErrCacheMiss // a name collision or a hand-made Secret: not ours
	}
	return s.Data[dataKey], nil
}

// Put creates or overwrites the entry for key.
func (c *SecretCache) Put(ctx context.Context, key string, data []byte) error {
	secrets := c.Client.CoreV1().Secrets(c.Namespace)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        SecretName(key),
			Namespace:   c.Namespace,
			Labels:      map[string]string{LabelCache: "true", "app.kubernetes.io/managed-by": "portico"},
			Annotations: map[string]string{AnnotationKey: key},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{dataKey: data},
	}
	_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
	for try := 0; apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err); try++ {
		if try == 5 {
			break
		}
		var cur *corev1.Secret
		if cur, err = secrets.Get(ctx, s.Name, metav1.GetOptions{}); err != nil {
			break
		}
		s.ResourceVersion = cur.ResourceVersion
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("acme cache: writing %q: %w", key, err)
	}
	return nil
}

// Delete removes the entry for key; a missing entry is not an error.
func (c *SecretCache) Delete(ctx context.Context, key string) error {
	err := c.Client.CoreV1().Secrets(c.Namespace).Delete(ctx, SecretName(key), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("acme cache: deleting %q: %w", key, err)
	}
	return nil
}
