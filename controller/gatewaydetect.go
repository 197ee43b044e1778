package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// gatewayAPIResources are the Gateway API resources Portico watches, by
// group version: all must be served for the Gateway API to be on.
var gatewayAPIResources = []struct {
	groupVersion string
	resources    []string
}{
	{"gateway.networking.k8s.io/v1", []string{"gatewayclasses", "gateways", "httproutes"}},
	{"gateway.networking.k8s.io/v1beta1", []string{"referencegrants"}},
}

// DetectGatewayAPI reports whether Portico can serve the Gateway API: the
// API server serves every Gateway API resource Portico watches (the CRDs
// are installed; asked through discovery) and Portico may list and watch
// them and Namespaces (asked with SelfSubjectAccessReviews, which every
// authenticated user may create, so a missing permission is found here
// instead of as a watch refused forever). namespace is --watch-namespace
// ("" for all). When ok is false, why says what is missing, for a log line
// or a start-up error. err is for an API server that cannot answer.
func DetectGatewayAPI(ctx context.Context, client kubernetes.Interface, namespace string, log *slog.Logger) (ok bool, why string, err error) {
	if log == nil {
		log = slog.Default()
	}
	for _, gv := range gatewayAPIResources {
		served, err := servedResources(ctx, client, gv.groupVersion)
		if err != nil {
			return false, "", fmt.Errorf("discovery of %s: %w", gv.groupVersion, err)
		}
		var missing []string
		for _, r := range gv.resources {
			if !slices.Contains(served, r) {
				missing = append(missing, r)
			}
		}
		if len(missing) > 0 {
			return false, fmt.Sprintf("the Gateway API CRDs are not installed: the API server does not serve %s %s",
				gv.groupVersion, strings.Join(missing, ", ")), nil
		}
	}
	type access struct{ group, resource, namespace, name string }
	checks := []access{{group: "gateway.networking.k8s.io", resource: "gatewayclasses"}}
	for _, r := range []string{"gateways", "httproutes", "referencegrants"} {
		checks = append(checks, access{group: "gateway.networking.k8s.io", resource: r, namespace: namespace})
	}
	// With --watch-namespace only that Namespace is watched (by name).
	checks = append(checks, access{resource: "namespaces", name: namespace})
	for _, a := range checks {
		for _, verb := range []string{"list", "watch"} {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: verb, Group: a.group, Resource: a.resource, Namespace: a.namespace, Name: a.name,
				},
			}}
			res, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				// Cannot tell (a locked-down API server): assume the
				// ClusterRole in deploy/ is there, as for IngressClasses.
				log.Warn("cannot check access to the Gateway API; assuming it is granted", "err", err)
				return true, "", nil
			}
			if !res.Status.Allowed {
				where := "in all namespaces"
				if a.namespace != "" {
					where = "in namespace " + a.namespace
				}
				if a.resource == "gatewayclasses" || a.resource == "namespaces" {
					where = "(cluster-scoped)"
				}
				return false, fmt.Sprintf("the Gateway API CRDs are installed but Portico may not %s %s %s (RBAC: docs/rbac.md)",
					verb, a.resource, where), nil
			}
		}
	}
	return true, "", nil
}

// servedResources lists the resources of one group version, or none when
// the API server does not serve it. The request is made with ctx, so it
// ends with it (client-go's discovery calls take no context).
func servedResources(ctx context.Context, client kubernetes.Interface, groupVersion string) ([]string, error) {
	raw, err := client.Discovery().RESTClient().Get().AbsPath("/apis/"+groupVersion).
		SetHeader("Accept", "application/json").Do(ctx).Raw()
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list metav1.APIResourceList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range list.APIResources {
		out = append(out, r.Name)
	}
	return out, nil
}

// GatewayExtras are the optional parts of the Gateway API Portico serves
// when the cluster has them: ListenerSets (a CRD added in v1.5; older
// installations lack it) and ConfigMaps (CA bundles for client
// certificate validation and for BackendTLSPolicies) and
// BackendTLSPolicies (gateway.networking.k8s.io/v1 since v1.4). Each needs its resource served and list+watch
// granted; without one, Portico runs without that part and says so.
type GatewayExtras struct {
	ListenerSets       bool
	ConfigMaps         bool
	BackendTLSPolicies bool
}

// DetectGatewayExtras finds which optional parts can be watched.
func DetectGatewayExtras(ctx context.Context, client kubernetes.Interface, namespace string, log *slog.Logger) GatewayExtras {
	if log == nil {
		log = slog.Default()
	}
	can := func(group, resource string) bool {
		for _, verb := range []string{"list", "watch"} {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: namespace},
			}}
			res, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil || !res.Status.Allowed {
				return false
			}
		}
		return true
	}
	var x GatewayExtras
	served, err := servedResources(ctx, client, "gateway.networking.k8s.io/v1")
	if err == nil && slices.Contains(served, "listenersets") {
		x.ListenerSets = can("gateway.networking.k8s.io", "listenersets")
	}
	if err == nil && slices.Contains(served, "backendtlspolicies") {
		x.BackendTLSPolicies = can("gateway.networking.k8s.io", "backendtlspolicies")
	}
	x.ConfigMaps = can("", "configmaps")
	if !x.ListenerSets {
		log.Info("ListenerSets not served or not allowed (list/watch listenersets); Gateways take no ListenerSets")
	}
	if !x.BackendTLSPolicies {
		log.Info("BackendTLSPolicies not served or not allowed (list/watch backendtlspolicies); backends are not verified")
	}
	if !x.ConfigMaps {
		log.Info("ConfigMaps not readable (list/watch configmaps); client certificate validation has no CA bundles")
	}
	return x
}
