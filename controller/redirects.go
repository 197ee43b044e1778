package controller

// redirectOptions are the ingress-nginx redirects of an Ingress.
type redirectOptions struct{}

var redirectAnnotations []annotationGroup
