package controller

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// startClassInformer starts the IngressClass informer when Portico may read
// IngressClasses, and reports whether it did.
//
// IngressClasses are cluster-scoped, so a Portico that runs with only a
// namespaced Role (--watch-namespace) cannot list them. Rather than retry a
// forbidden list forever and never become ready, it asks the API server
// first (a SelfSubjectAccessReview, which every authenticated user may
// create) and, when the answer is no, falls back to matching
// spec.ingressClassName against --ingress-class by name (ClassConfig.NameOnly).
func (c *Controller) startClassInformer(ctx context.Context) bool {
	if !c.canReadClasses(ctx) {
		c.cfg.Compile.Class.NameOnly = true
		c.cfg.Log.Warn("no permission to list and watch IngressClasses (cluster-scoped); "+
			"serving Ingresses whose spec.ingressClassName equals --ingress-class without checking the class's controller, "+
			"and no default-class detection (use --watch-ingress-without-class for class-less Ingresses)",
			"ingress_class", c.cfg.Compile.Class.IngressClass)
		return false
	}
	c.classFactory.Start(ctx.Done())
	return true
}

func (c *Controller) canReadClasses(ctx context.Context) bool {
	for _, verb := range []string{"list", "watch"} {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: verb, Group: "networking.k8s.io", Resource: "ingressclasses",
			},
		}}
		res, err := c.cfg.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			// Cannot tell (old or locked-down API server): assume the
			// usual ClusterRole is there, as before this check existed.
			c.cfg.Log.Warn("cannot check access to IngressClasses; assuming it is granted", "err", err)
			return true
		}
		if !res.Status.Allowed {
			return false
		}
	}
	return true
}
