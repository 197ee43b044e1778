package controller

import (
	networkingv1 "k8s.io/api/networking/v1"
)

const (
	// legacyClassAnnotation predates spec.ingressClassName and is still common.
	legacyClassAnnotation = "kubernetes.io/ingress.class"
	// defaultClassAnnotation marks the IngressClass used by Ingresses without a class.
	defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
)

// ClassConfig says which Ingresses are Portico's.
type ClassConfig struct {
	ControllerName    string // IngressClass spec.controller we claim
	IngressClass      string // class name honoured in the legacy annotation
	WatchWithoutClass bool   // serve Ingresses that name no class at all
	// NameOnly is set when IngressClasses cannot be read (a namespaced
	// Role only): spec.ingressClassName is then ours when it equals
	// IngressClass, and no class is known to be the default.
	NameOnly bool
}

// classifier decides ownership from the IngressClasses of a snapshot.
type classifier struct {
	cfg       ClassConfig
	ours      map[string]bool // names of IngressClasses whose controller is ours
	isDefault bool            // one of ours is marked default
}

func newClassifier(cfg ClassConfig, classes []*networkingv1.IngressClass) classifier {
	c := classifier{cfg: cfg, ours: make(map[string]bool)}
	for _, ic := range classes {
		if ic.Spec.Controller != cfg.ControllerName {
			continue
		}
		c.ours[ic.Name] = true
		if ic.Annotations[defaultClassAnnotation] == "true" {
			c.isDefault = true
		}
	}
	return c
}

// owns reports whether ing is Portico's to serve:
//   - spec.ingressClassName names an IngressClass whose controller is ours;
//   - else the legacy annotation equals our class name;
//   - else (no class at all) one of our classes is the default, or
//     --watch-ingress-without-class is set.
//
// An Ingress naming a class that does not exist is nobody's.
func (c classifier) owns(ing *networkingv1.Ingress) bool {
	if name := ing.Spec.IngressClassName; name != nil {
		if c.cfg.NameOnly {
			return *name == c.cfg.IngressClass
		}
		return c.ours[*name]
	}
	// An empty annotation names no class.
	if v := ing.Annotations[legacyClassAnnotation]; v != "" {
		return v == c.cfg.IngressClass
	}
	return c.isDefault || c.cfg.WatchWithoutClass
}
