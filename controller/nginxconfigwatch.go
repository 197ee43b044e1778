package controller

import (
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
)

// nginxConfigWatch follows the one ConfigMap --nginx-configmap names: a
// namespaced informer whose field selector is that name, so Portico needs
// to read ConfigMaps in that namespace only and caches no other one.
type nginxConfigWatch struct {
	name    types.NamespacedName
	trusted bool // --trusted-proxies names a proxy
	lister  listersv1.ConfigMapNamespaceLister
	// The ConfigMap last parsed ("" for absent) and what it said: it is
	// parsed, and its problems logged, once per change, not per build.
	version string
	cfg     *NginxConfig
}

func (c *Controller) watchNginxConfig() {
	ref := c.cfg.NginxConfigMap
	f := informers.NewSharedInformerFactoryWithOptions(c.cfg.Client, 0, informers.WithNamespace(ref.Namespace),
		informers.WithTransform(stripForCache),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + ref.Name }))
	inf := f.Core().V1().ConfigMaps()
	c.nginx = &nginxConfigWatch{name: *ref, trusted: c.cfg.TrustedProxies, lister: inf.Lister().ConfigMaps(ref.Namespace)}
	c.watch(inf.Informer())
	c.factories = append(c.factories, f)
}

// config returns the parsed ConfigMap, parsing it again when it changed.
func (w *nginxConfigWatch) config(c *Controller) *NginxConfig {
	cm, err := w.lister.Get(w.name.Name)
	var data map[string]string
	version := ""
	switch {
	case err == nil:
		data, version = cm.Data, cm.ResourceVersion
	case !errors.IsNotFound(err):
		c.cfg.Log.Error("reading the ingress-nginx ConfigMap", "configmap", w.name.String(), "err", err)
	}
	if w.cfg != nil && version == w.version {
		return w.cfg
	}
	cfg, probs, unsupported := ParseNginxConfig(data, w.trusted)
	log := c.cfg.Log.With("configmap", w.name.String())
	if version == "" {
		log.Info("ingress-nginx ConfigMap not found: its keys have ingress-nginx's defaults")
	} else {
		log.Info("ingress-nginx ConfigMap read", "resourceVersion", version)
	}
	for _, p := range probs {
		log.Warn("ingress-nginx ConfigMap key: "+p.Message, "key", p.Key)
	}
	if len(unsupported) > 0 {
		log.Warn("ingress-nginx ConfigMap keys Portico does not support are ignored", "keys", unsupported)
	}
	w.version, w.cfg = version, cfg
	return cfg
}
