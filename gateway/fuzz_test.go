package gateway

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1b1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// fuzzInput draws a cluster from fuzz bytes: every choice reads one byte,
// and an exhausted input reads zeros, so any input is a valid cluster.
type fuzzInput struct {
	b []byte
}

func (f *fuzzInput) n(max int) int {
	if len(f.b) == 0 || max <= 0 {
		return 0
	}
	v := int(f.b[0]) % max
	f.b = f.b[1:]
	return v
}

func (f *fuzzInput) pick(s ...string) string { return s[f.n(len(s))] }

var fuzzHosts = []string{"", "a.example.com", "*.example.com", "*.a.example.com", "b.example.com", "A.Example.COM", "other.org", "*"}

func (f *fuzzInput) snapshot() *Snapshot {
	s := &Snapshot{
		Namespaces: map[string]*corev1.Namespace{},
		Services:   map[types.NamespacedName]*corev1.Service{},
		Slices:     map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		Secrets:    map[types.NamespacedName]*corev1.Secret{},
	}
	nss := []string{"infra", "app", "other"}
	for _, ns := range nss {
		s.Namespaces[ns] = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"team": f.pick("a", "b")}}}
	}
	for i := range f.n(3) + 1 {
		ctrl := f.pick("portico.dev/gateway-controller", "portico.dev/gateway-controller", "example.com/other")
		s.Classes = append(s.Classes, &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("class%d", i), Generation: int64(f.n(5))},
			Spec: gwv1.GatewayClassSpec{ControllerName: gwv1.GatewayController(ctrl)}})
	}
	for i := range f.n(4) {
		ns := nss[f.n(len(nss))]
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("svc%d", i)}}
		for p := range f.n(3) + 1 {
			sp := corev1.ServicePort{Port: int32(80 + p), Name: fmt.Sprintf("p%d", p)}
			if f.n(4) == 0 {
				ap := f.pick("kubernetes.io/h2c", "kubernetes.io/ws", "weird")
				sp.AppProtocol = &ap
			}
			svc.Spec.Ports = append(svc.Spec.Ports, sp)
		}
		k := types.NamespacedName{Namespace: ns, Name: svc.Name}
		s.Services[k] = svc
		port := int32(3000)
		name := "p0"
		s.Slices[k] = []*discoveryv1.EndpointSlice{{AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.0.0.%d", i+1)}}}}}
	}
	for i := range f.n(3) {
		from := f.pick("app", "other", "infra")
		to := nss[f.n(len(nss))]
		kind := f.pick("Service", "Secret")
		group := ""
		s.ReferenceGrants = append(s.ReferenceGrants, &gwv1b1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: to, Name: fmt.Sprintf("rg%d", i)},
			Spec: gwv1b1.ReferenceGrantSpec{
				From: []gwv1b1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: gwv1.Kind(f.pick("HTTPRoute", "Gateway")), Namespace: gwv1.Namespace(from)}},
				To:   []gwv1b1.ReferenceGrantTo{{Group: gwv1.Group(group), Kind: gwv1.Kind(kind)}}}})
	}
	for i := range f.n(4) + 1 {
		gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: nss[f.n(2)], Name: fmt.Sprintf("gw%d", i), Generation: int64(f.n(9)),
			CreationTimestamp: metav1.NewTime(goldenNow.Add(time.Duration(f.n(3)) * time.Minute))},
			Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(fmt.Sprintf("class%d", f.n(3)))}}
		for a := range f.n(3) {
			typ := gwv1.AddressType(f.pick("IPAddress", "Hostname", "IPAddress"))
			gw.Spec.Addresses = append(gw.Spec.Addresses, gwv1.GatewaySpecAddress{Type: &typ, Value: f.pick("", "127.10.0.1", "127.10.0.2", "192.0.2.1", "bad", fmt.Sprint(a))})
		}
		for l := range f.n(4) + 1 {
			ls := gwv1.Listener{Name: gwv1.SectionName(fmt.Sprintf("l%d", l)), Port: gwv1.PortNumber(f.pick("80", "80", "443", "8080")[0]),
				Protocol: gwv1.ProtocolType(f.pick("HTTP", "HTTP", "HTTPS", "TCP"))}
			switch f.n(3) {
			case 0:
				ls.Port = 80
			case 1:
				ls.Port = 443
			default:
				ls.Port = 8080
			}
			if h := fuzzHosts[f.n(len(fuzzHosts))]; h != "" {
				hn := gwv1.Hostname(h)
				ls.Hostname = &hn
			}
			from := gwv1.FromNamespaces(f.pick("Same", "All", "Selector", "Bogus"))
			ls.AllowedRoutes = &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &from}}
			if from == gwv1.NamespacesFromSelector && f.n(2) == 0 {
				ls.AllowedRoutes.Namespaces.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": f.pick("a", "b")}}
			}
			if f.n(3) == 0 {
				ls.AllowedRoutes.Kinds = []gwv1.RouteGroupKind{{Kind: gwv1.Kind(f.pick("HTTPRoute", "FooRoute"))}}
			}
			if ls.Protocol == gwv1.HTTPSProtocolType && f.n(4) != 0 {
				ns := gwv1.Namespace(f.pick("", "app"))
				ls.TLS = &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: "cert", Namespace: &ns}}}
			}
			gw.Spec.Listeners = append(gw.Spec.Listeners, ls)
		}
		if f.n(2) == 0 {
			gw.Status.Addresses = []gwv1.GatewayStatusAddress{{Value: f.pick("127.10.0.1", "127.10.0.3", "nonsense")}}
		}
		s.Gateways = append(s.Gateways, gw)
	}
	for i := range f.n(6) {
		ns := nss[f.n(len(nss))]
		hr := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("r%d", i), Generation: int64(f.n(9)),
			CreationTimestamp: metav1.NewTime(goldenNow.Add(time.Duration(f.n(3)) * time.Minute))}}
		for range f.n(3) + 1 {
			pr := gwv1.ParentReference{Name: gwv1.ObjectName(fmt.Sprintf("gw%d", f.n(5)))}
			if f.n(2) == 0 {
				pns := gwv1.Namespace(nss[f.n(2)])
				pr.Namespace = &pns
			}
			if f.n(3) == 0 {
				sn := gwv1.SectionName(fmt.Sprintf("l%d", f.n(4)))
				pr.SectionName = &sn
			}
			if f.n(4) == 0 {
				p := gwv1.PortNumber(f.pick("80", "443")[0])
				pr.Port = &p
			}
			if f.n(8) == 0 {
				k := gwv1.Kind("Service")
				pr.Kind = &k
			}
			hr.Spec.ParentRefs = append(hr.Spec.ParentRefs, pr)
		}
		for range f.n(3) {
			hr.Spec.Hostnames = append(hr.Spec.Hostnames, gwv1.Hostname(fuzzHosts[f.n(len(fuzzHosts))]))
		}
		for range f.n(3) + 1 {
			var rule gwv1.HTTPRouteRule
			for range f.n(3) {
				typ := gwv1.PathMatchType(f.pick("Exact", "PathPrefix", "RegularExpression", "Bogus"))
				v := f.pick("/", "/a", "/a/", "/a/b", "(", "/v[0-9]+")
				m := gwv1.HTTPRouteMatch{Path: &gwv1.HTTPPathMatch{Type: &typ, Value: &v}}
				for range f.n(3) {
					ht := gwv1.HeaderMatchType(f.pick("Exact", "RegularExpression"))
					m.Headers = append(m.Headers, gwv1.HTTPHeaderMatch{Type: &ht, Name: gwv1.HTTPHeaderName(f.pick("x", "X", "y")), Value: f.pick("1", "(", ".*")})
				}
				if f.n(3) == 0 {
					meth := gwv1.HTTPMethod(f.pick("GET", "POST"))
					m.Method = &meth
				}
				rule.Matches = append(rule.Matches, m)
			}
			for range f.n(3) {
				port := gwv1.PortNumber(80 + f.n(3))
				br := gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{
					Name: gwv1.ObjectName(fmt.Sprintf("svc%d", f.n(5))), Port: &port}}}
				if f.n(3) == 0 {
					bns := gwv1.Namespace(nss[f.n(len(nss))])
					br.Namespace = &bns
				}
				if f.n(6) == 0 {
					k := gwv1.Kind("Bucket")
					br.Kind = &k
				}
				w := int32(f.n(4))
				br.Weight = &w
				rule.BackendRefs = append(rule.BackendRefs, br)
			}
			if f.n(4) == 0 {
				code := 301
				rule.Filters = append(rule.Filters, gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gwv1.HTTPRequestRedirectFilter{StatusCode: &code}})
			}
			hr.Spec.Rules = append(hr.Spec.Rules, rule)
		}
		s.HTTPRoutes = append(s.HTTPRoutes, hr)
	}
	s.ConfigMaps = map[types.NamespacedName]*corev1.ConfigMap{
		{Namespace: "app", Name: "empty"}: {ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "empty"}},
	}
	for i := range f.n(4) {
		p := &gwv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: nss[f.n(len(nss))], Name: fmt.Sprintf("p%d", i), Generation: int64(f.n(9)),
			CreationTimestamp: metav1.NewTime(goldenNow.Add(time.Duration(f.n(3)) * time.Minute))}}
		tr := gwv1.LocalPolicyTargetReferenceWithSectionName{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{
			Kind: gwv1.Kind(f.pick("Service", "Service", "Bucket")), Name: gwv1.ObjectName(fmt.Sprintf("svc%d", f.n(5)))}}
		if f.n(2) == 0 {
			sn := gwv1.SectionName(f.pick("http", "p81", "none"))
			tr.SectionName = &sn
		}
		p.Spec.TargetRefs = append([]gwv1.LocalPolicyTargetReferenceWithSectionName(nil), tr)
		p.Spec.Validation.Hostname = gwv1.PreciseHostname(f.pick("a.example.com", "b.example.com"))
		switch f.n(3) {
		case 0:
			wk := gwv1.WellKnownCACertificatesType(f.pick("System", "Other"))
			p.Spec.Validation.WellKnownCACertificates = &wk
		default:
			p.Spec.Validation.CACertificateRefs = []gwv1.LocalObjectReference{{Kind: gwv1.Kind(f.pick("ConfigMap", "Secret")), Name: gwv1.ObjectName(f.pick("empty", "absent"))}}
		}
		s.BackendTLSPolicies = append(s.BackendTLSPolicies, p)
	}
	return s
}

// FuzzTranslate checks invariants of any cluster's translation: no panic,
// a pure result, observedGeneration on every condition, only Programmed
// Gateways' listeners served, attachedRoutes bounded by the routes, and
// every served route's host covered by its listener's hostname.
func FuzzTranslate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte(strings.Repeat("\x01\x02\x03", 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{b: data}
		pool := in.pick("", "127.10.0.0/30", "127.10.0.0/24")
		s := in.snapshot()
		cfg := Config{ControllerName: "portico.dev/gateway-controller", Now: func() time.Time { return goldenNow }}
		if pool != "" {
			cfg.AddressPool = netip.MustParsePrefix(pool)
		}
		if in.n(2) == 0 {
			cfg.Published = []netip.Addr{netip.MustParseAddr("192.0.2.10")}
		}
		res := Translate(s, cfg)
		if string(render(t, res)) != string(render(t, Translate(s, cfg))) {
			t.Fatal("not pure")
		}
		gens := map[types.NamespacedName]int64{}
		for _, g := range s.Gateways {
			gens[types.NamespacedName{Namespace: g.Namespace, Name: g.Name}] = g.Generation
		}
		programmed := map[types.NamespacedName]bool{}
		for k, st := range res.Status.Gateways {
			for _, c := range st.Conditions {
				if c.ObservedGeneration != gens[k] {
					t.Fatalf("Gateway %s condition %s: observedGeneration %d, generation %d", k, c.Type, c.ObservedGeneration, gens[k])
				}
				if c.Type == "Programmed" && c.Status == metav1.ConditionTrue {
					programmed[k] = true
				}
			}
			for _, l := range st.Listeners {
				if int(l.AttachedRoutes) > len(s.HTTPRoutes) {
					t.Fatalf("listener %s: %d attached routes, %d routes exist", l.Name, l.AttachedRoutes, len(s.HTTPRoutes))
				}
			}
		}
		for k, entries := range res.Status.HTTPRoutes {
			var gen int64 = -1
			for _, hr := range s.HTTPRoutes {
				if hr.Namespace == k.Namespace && hr.Name == k.Name {
					gen = hr.Generation
				}
			}
			for _, e := range entries {
				if string(e.ControllerName) != cfg.ControllerName {
					t.Fatalf("route %s: entry of controller %q", k, e.ControllerName)
				}
				for _, c := range e.Conditions {
					if c.ObservedGeneration != gen {
						t.Fatalf("route %s: observedGeneration %d, generation %d", k, c.ObservedGeneration, gen)
					}
				}
			}
		}
		for _, p := range s.BackendTLSPolicies {
			entries := res.Status.BackendTLSPolicies[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}]
			if len(entries) > 16 {
				t.Fatalf("policy %s/%s: %d ancestors", p.Namespace, p.Name, len(entries))
			}
			for _, e := range entries {
				for _, c := range e.Conditions {
					if c.ObservedGeneration != p.Generation {
						t.Fatalf("policy %s/%s: observedGeneration %d, generation %d", p.Namespace, p.Name, c.ObservedGeneration, p.Generation)
					}
				}
			}
		}
		for _, p := range res.Ports {
			for i, l := range p.Listeners {
				if !programmed[l.Gateway] {
					t.Fatalf("port %s serves listener %s of Gateway %s, which is not Programmed", p.Addr, l.Name, l.Gateway)
				}
				if i > 0 && compareSpecificity(p.Listeners[i-1].Hostname, l.Hostname) > 0 {
					t.Fatalf("port %s: listeners not most specific first", p.Addr)
				}
				for _, r := range l.Table.Routes() {
					for _, wb := range r.Backends {
						if b := wb.Backend; b != nil && b.TLS != nil && (b.TLS.Invalid == "") == (b.TLS.Key == "") {
							t.Fatalf("backend %s: TLS configuration with key %q, invalid %q", b.ID, b.TLS.Key, b.TLS.Invalid)
						}
					}
					if l.Hostname != "" && r.Host != l.Hostname {
						if _, ok := intersect(l.Hostname, r.Host); !ok || !covers(l.Hostname, r.Host) {
							t.Fatalf("listener %q serves host %q", l.Hostname, r.Host)
						}
					}
				}
			}
		}
	})
}
