package gateway

import (
	gwv1b1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// grants answers whether a ReferenceGrant allows a cross-namespace
// reference (GEP-709). References within one namespace need no grant.
type grants struct {
	byNamespace map[string][]*gwv1b1.ReferenceGrant
}

func newGrants(list []*gwv1b1.ReferenceGrant) grants {
	g := grants{byNamespace: make(map[string][]*gwv1b1.ReferenceGrant)}
	for _, rg := range list {
		g.byNamespace[rg.Namespace] = append(g.byNamespace[rg.Namespace], rg)
	}
	return g
}

// ref is one end of a reference: a group (core is ""), a kind, a namespace
// and, for the target, a name.
type ref struct {
	group, kind, namespace, name string
}

// allows reports whether from may refer to to. "A ReferenceGrant is
// required for any reference from one namespace to another"; the grant
// lives in the target's namespace, lists the referrers it trusts in
// spec.from, and the targets in spec.to (a to entry without a name
// allows every object of its kind).
func (g grants) allows(from, to ref) bool {
	if from.namespace == to.namespace {
		return true
	}
	for _, rg := range g.byNamespace[to.namespace] {
		fromOK := false
		for _, f := range rg.Spec.From {
			if string(f.Group) == from.group && string(f.Kind) == from.kind && string(f.Namespace) == from.namespace {
				fromOK = true
				break
			}
		}
		if !fromOK {
			continue
		}
		for _, t := range rg.Spec.To {
			if string(t.Group) == to.group && string(t.Kind) == to.kind && (t.Name == nil || *t.Name == "" || string(*t.Name) == to.name) {
				return true
			}
		}
	}
	return false
}
