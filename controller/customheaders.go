package controller

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"portico.dev/portico/router"
)

// custom-headers names a ConfigMap whose keys and values become response
// headers on every path of the Ingress (ingress-nginx: more_set_headers in
// each location, after the configuration-snippet). As in ingress-nginx, an
// Ingress whose ConfigMap cannot be used (missing, a header name or value
// its checks refuse, a header outside the allowed list) is denied: its
// paths answer 503 and a Warning Event says why. Portico differs in one
// thing: the ConfigMap must be in the Ingress's namespace (ingress-nginx's
// documentation says so; its code reads any namespace, and leans on
// global-allowed-response-headers instead).

// maxCustomHeadersBytes bounds what the ConfigMap cache keeps of a
// ConfigMap: larger ones are kept without data and refused.
const maxCustomHeadersBytes = 16 << 10

// ingress-nginx's checks (annotations/customheaders).
var (
	customHeaderNameRE  = regexp.MustCompile(`^[a-zA-Z\d\-_]+$`)
	customHeaderValueRE = regexp.MustCompile(`^[a-zA-Z\d_ :;.,\\/"'?!(){}\[\]@<>=\-+*#$&\x60|~^%]+$`)
)

var customHeadersAnnotations = []annotationGroup{{
	names: []string{"custom-headers"},
	nginx: true,
	parse: func(a annotations, o *ingressOptions, bad badFunc) {
		v, _ := a.get("custom-headers")
		ns, name, found := strings.Cut(v, "/")
		if !found {
			ns, name = "", v
		}
		// An invalid value denies the Ingress; the compiler reports it.
		invalid := name == "" || strings.Contains(name, "/") || checkHost(name) != "" || ns != "" && checkHost(ns) != ""
		o.customHeaders = &customHeadersRef{namespace: ns, name: name, key: a.key("custom-headers"), invalid: invalid, value: v}
	},
}}

// customHeadersRef is the parsed annotation.
type customHeadersRef struct {
	namespace, name string // namespace "": the Ingress's
	key             string // the annotation's full name, for messages
	invalid         bool   // the value is not [namespace/]name: deny
	value           string // as given, for the message when invalid
}

// denied503 is ingress-nginx's answer for a location it denies (nginx's
// own 503 page).
var denied503 = &router.FixedResponse{Status: 503, Body: "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n" +
	"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"}

// customHeaders reads ing's custom-headers ConfigMap: its headers as a
// snippet of more_set_headers, run after the Ingress's snippets
// (snippetFilters). When the ConfigMap cannot be used the Ingress is
// denied: it returns filters whose every answer is 503, reported.
func (c *compiler) customHeaders(ing *networkingv1.Ingress, ref *customHeadersRef, filters *router.Filters) (*snippet, *router.Filters) {
	set, reason, msg := c.customHeaderFields(ing, ref)
	if reason != "" {
		c.problem(ing, reason, msg+"; the Ingress's paths answer 503, as ingress-nginx denies them")
		var f router.Filters
		if filters != nil {
			f = *filters
		}
		f.Snippet, f.Redirect = &router.SnippetRules{Return: denied503}, nil
		return nil, &f
	}
	sn := &snippet{}
	for _, h := range set {
		sn.ops = append(sn.ops, snippetOp{kind: opSetResponse, name: h.Name, value: h.Value})
	}
	return sn, filters
}

// customHeaderFields reads the ConfigMap; reason and msg say why it
// cannot be used.
func (c *compiler) customHeaderFields(ing *networkingv1.Ingress, ref *customHeadersRef) (set []router.HeaderField, reason, msg string) {
	if ref.invalid {
		return nil, "InvalidAnnotation", fmt.Sprintf("annotation %s: invalid value %q: want namespace/name of a ConfigMap", ref.key, truncate(ref.value, 64))
	}
	ns := ref.namespace
	if ns == "" {
		ns = ing.Namespace
	}
	k := types.NamespacedName{Namespace: ns, Name: ref.name}
	switch {
	case ns != ing.Namespace:
		return nil, "InvalidAnnotation", fmt.Sprintf("%s: ConfigMap %s is not in the Ingress's namespace", ref.key, k)
	case c.snap.ConfigMaps == nil:
		return nil, "ConfigMapNotFound", fmt.Sprintf("%s: Portico may not read ConfigMaps (RBAC: list and watch configmaps, docs/rbac.md)", ref.key)
	}
	cm := c.snap.ConfigMaps[k]
	if cm == nil {
		return nil, "ConfigMapNotFound", fmt.Sprintf("%s: no ConfigMap %s", ref.key, k)
	}
	if cm.Annotations[tooLargeAnnotation] != "" {
		return nil, "InvalidAnnotation", fmt.Sprintf("%s: ConfigMap %s is larger than %d bytes", ref.key, k, maxCustomHeadersBytes)
	}
	names := make([]string, 0, len(cm.Data))
	for name := range cm.Data {
		names = append(names, name)
	}
	slices.Sort(names) // the same order at every build
	for _, name := range names {
		value := cm.Data[name]
		switch {
		case !customHeaderNameRE.MatchString(name) || framingHeaders[http.CanonicalHeaderKey(name)]:
			return nil, "InvalidAnnotation", fmt.Sprintf("%s: ConfigMap %s: invalid header name %q", ref.key, k, truncate(name, 64))
		case !customHeaderValueRE.MatchString(value):
			return nil, "InvalidAnnotation", fmt.Sprintf("%s: ConfigMap %s: invalid value of header %s", ref.key, k, truncate(name, 64))
		case c.allowedHeaders != nil && !slices.ContainsFunc(c.allowedHeaders, func(a string) bool { return strings.EqualFold(a, name) }):
			return nil, "InvalidAnnotation", fmt.Sprintf("%s: ConfigMap %s: header %s is not allowed (global-allowed-response-headers)", ref.key, k, name)
		}
		set = append(set, router.HeaderField{Name: http.CanonicalHeaderKey(name), Value: value})
	}
	return set, "", ""
}

// tooLargeAnnotation marks, in the cache only, a ConfigMap whose data was
// dropped for its size (stripConfigMap).
const tooLargeAnnotation = "portico.dev/internal-too-large"

// stripConfigMap keeps of a ConfigMap what custom-headers reads: its name
// and its Data when small.
func stripConfigMap(obj any) (any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return obj, nil // a tombstone
	}
	out := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cm.Name, Namespace: cm.Namespace,
		ResourceVersion: cm.ResourceVersion, UID: cm.UID}}
	n := 0
	for k, v := range cm.Data {
		n += len(k) + len(v)
	}
	if n > maxCustomHeadersBytes {
		out.Annotations = map[string]string{tooLargeAnnotation: "true"}
	} else {
		out.Data = cm.Data
	}
	return out, nil
}

// configMapWatch is the ConfigMap informer, started only when Portico may
// list and watch ConfigMaps (the access check of classaccess.go).
type configMapWatch struct {
	factory informers.SharedInformerFactory
	lister  listersv1.ConfigMapLister
	synced  cache.InformerSynced
	on      bool // started; false: Snapshot.ConfigMaps stays nil
	// refs are the ConfigMaps Ingresses name, as of the last snapshot:
	// a change to any other ConfigMap starts no build.
	refs atomic.Pointer[map[types.NamespacedName]bool]
}

func (c *Controller) newConfigMapWatch() {
	f := informers.NewSharedInformerFactoryWithOptions(c.cfg.Client, 0, informers.WithNamespace(c.cfg.Namespace),
		informers.WithTransform(stripConfigMap))
	inf := f.Core().V1().ConfigMaps()
	w := &configMapWatch{factory: f, lister: inf.Lister(), synced: inf.Informer().HasSynced}
	c.configMaps = w
	signal := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		cm, ok := obj.(*corev1.ConfigMap)
		if refs := w.refs.Load(); ok && refs != nil && (*refs)[types.NamespacedName{Namespace: cm.Namespace, Name: cm.Name}] {
			c.signal()
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: signal,
		UpdateFunc: func(old, cur any) {
			if o, ok := old.(*corev1.ConfigMap); ok {
				if n, ok := cur.(*corev1.ConfigMap); ok && o.ResourceVersion == n.ResourceVersion {
					return // a resync
				}
			}
			signal(cur)
		},
		DeleteFunc: signal,
	})
}

// startConfigMaps starts the informer when allowed, and returns its synced
// func (nil when not started).
func (c *Controller) startConfigMaps(ctx context.Context) cache.InformerSynced {
	for _, verb := range []string{"list", "watch"} {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: "configmaps", Namespace: c.cfg.Namespace},
		}}
		res, err := c.cfg.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err == nil && !res.Status.Allowed {
			c.cfg.Log.Warn("no permission to list and watch ConfigMaps; Ingresses annotated custom-headers are denied (503)")
			return nil
		}
	}
	c.configMaps.factory.Start(ctx.Done())
	c.configMaps.on = true
	return c.configMaps.synced
}

// listConfigMaps fills s.ConfigMaps with the ConfigMaps Ingresses name
// (left nil when the informer is off).
func (c *Controller) listConfigMaps(s *Snapshot) error {
	if c.configMaps == nil || !c.configMaps.on {
		return nil
	}
	refs := make(map[types.NamespacedName]bool)
	s.ConfigMaps = make(map[types.NamespacedName]*corev1.ConfigMap)
	for _, ing := range s.Ingresses {
		for _, key := range []string{porticoPrefix + "custom-headers", nginxPrefix + "custom-headers"} {
			v, ok := ing.Annotations[key]
			if !ok {
				continue
			}
			ns, name, found := strings.Cut(v, "/")
			if !found {
				ns, name = ing.Namespace, v
			}
			k := types.NamespacedName{Namespace: ns, Name: name}
			if refs[k] {
				continue
			}
			refs[k] = true
			cm, err := c.configMaps.lister.ConfigMaps(ns).Get(name)
			if err == nil {
				s.ConfigMaps[k] = cm
			} else if !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	c.configMaps.refs.Store(&refs)
	return nil
}
