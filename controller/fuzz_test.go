package controller

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

// fuzzSpec hands out choices from the fuzzer's bytes; once they run out
// every choice is 0, so any input is a valid (if small) cluster.
type fuzzSpec struct {
	b    []byte
	free string // a free-form string the fuzzer mutates, used wherever a pool offers it
}

func (f *fuzzSpec) next() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func (f *fuzzSpec) n(max int) int { return int(f.next()) % max }

// pick chooses from pool, or the free string when the choice is past its end.
func (f *fuzzSpec) pick(pool ...string) string {
	i := f.n(len(pool) + 1)
	if i == len(pool) {
		return f.free
	}
	return pool[i]
}

// The pools hold what breaks compilers: hosts and paths the API server
// should refuse, names that resolve and names that do not, and every
// annotation with good and bad values. The free string reaches each slot.
var (
	fuzzHostPool = []string{"", "a.test", "*.a.test", "B.Test", "a.test.", "b.a.test", "bad_host", "*.*.x", "a..b",
		"*", "-.test", strings.Repeat("x", 64) + ".test", strings.Repeat("a.", 130) + "test", "xn--bcher-kva.test"}
	fuzzPathPool = []string{"", "/", "/a", "/a/", "/a/b", "/a/../b", "//x", "a", "/a*", "/[0-9]+", "/%2e", "/A",
		"/a/./b", "/" + strings.Repeat("p", 5000), "/a(/|$)(.*)", "/(?=x)", "/(.*)"}
	fuzzPathTypes = []*networkingv1.PathType{nil, ptr.To(networkingv1.PathTypeExact), ptr.To(networkingv1.PathTypePrefix),
		ptr.To(networkingv1.PathTypeImplementationSpecific), ptr.To(networkingv1.PathType("Bogus"))}
	fuzzServices = []string{"web", "api", "missing", "ext"}
	fuzzPortName = []string{"http", "grpc", "", "nope"}
	fuzzPortNums = []int32{80, 81, 0, -1, 8443, 70000}
	// fuzzAnnKeys: every annotation Portico reads, under each prefix it
	// is read with, and some it does not.
	fuzzAnnKeys = func() []string {
		keys := []string{"portico.dev/unknown", nginxPrefix + "unknown", nginxPrefix + "enable-modsecurity",
			legacyClassAnnotation, "example.com/other"}
		for _, g := range annotationGroups {
			for _, n := range g.names {
				keys = append(keys, porticoPrefix+n)
				if g.nginx {
					keys = append(keys, nginxPrefix+n)
				}
			}
		}
		return keys
	}()
	fuzzAnnValues = []string{"", "1s", "-5s", "banana", "0", "10", "11", "1g", "2000g", "true", "false", "max-age=1; preload",
		"h2c", "grpc", "round-robin", "least-request", "portico", "up.test:8080", "evil\r\nX-Injected: 1", "24h1s",
		"/", "/$1", "/new/$2", "$1", "/$uri", "https://x.test/$1", "basic", "auth-map", "opaque"}
	fuzzSecrets = []string{"", "good", "bad", "mismatch", "opaque", "other/good", "absent"}
	fuzzAddrs   = []string{"10.0.0.1", "10.0.0.2", "fd00::1", "", "not-an-ip"}
)

var (
	fuzzCertOnce sync.Once
	fuzzCert     [2][]byte // a valid pair for a.test, *.a.test
	fuzzOther    []byte    // a key that belongs to no certificate above
)

func fuzzPEM() {
	fuzzCertOnce.Do(func() {
		now := time.Now()
		c, k, err := tlsstore.SelfSigned([]string{"a.test", "*.a.test"}, now.Add(-time.Hour), now.Add(24*time.Hour))
		if err != nil {
			panic(err)
		}
		_, k2, err := tlsstore.SelfSigned([]string{"x.test"}, now.Add(-time.Hour), now.Add(24*time.Hour))
		if err != nil {
			panic(err)
		}
		fuzzCert, fuzzOther = [2][]byte{c, k}, k2
	})
}

// fuzzSnapshot builds a whole cluster from the fuzzer's bytes.
func fuzzSnapshot(f *fuzzSpec) *Snapshot {
	s := &Snapshot{
		Classes: []*networkingv1.IngressClass{
			{ObjectMeta: metav1.ObjectMeta{Name: "portico"}, Spec: networkingv1.IngressClassSpec{Controller: testClass.ControllerName}},
			{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: networkingv1.IngressClassSpec{Controller: "example.com/other"}},
		},
		Services: map[types.NamespacedName]*corev1.Service{},
		Slices:   map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		Secrets:  map[types.NamespacedName]*corev1.Secret{},
	}
	if f.next()&1 == 0 { // sometimes Portico's class is the default one
		s.Classes[0].Annotations = map[string]string{defaultClassAnnotation: "true"}
	}
	for _, name := range fuzzServices[:3] {
		k := types.NamespacedName{Namespace: "ns", Name: name}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
		for range f.n(3) + 1 {
			svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: f.pick(fuzzPortName...), Port: fuzzPortNums[f.n(len(fuzzPortNums))]})
		}
		s.Services[k] = svc
		for i := range f.n(3) {
			sl := &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("%s-%d", name, i)},
				AddressType: []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN}[f.n(3)],
				Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(f.pick(fuzzPortName...)), Port: ptr.To(fuzzPortNums[f.n(len(fuzzPortNums))])}},
			}
			if f.next()&1 == 0 {
				sl.Ports[0].Name = nil
			}
			for range f.n(4) {
				ep := discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{
					Ready: fuzzBool(f), Serving: fuzzBool(f), Terminating: fuzzBool(f)}}
				for range f.n(3) {
					ep.Addresses = append(ep.Addresses, f.pick(fuzzAddrs...))
				}
				sl.Endpoints = append(sl.Endpoints, ep)
			}
			s.Slices[k] = append(s.Slices[k], sl)
		}
	}
	s.Services[types.NamespacedName{Namespace: "ns", Name: "ext"}] = &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ext"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "x.example", Ports: []corev1.ServicePort{{Port: 80}}}}

	secret := func(name string, typ corev1.SecretType, crt, key []byte) {
		s.Secrets[types.NamespacedName{Namespace: "ns", Name: name}] = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), ResourceVersion: "1"},
			Type:       typ, Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
	}
	secret("good", corev1.SecretTypeTLS, fuzzCert[0], fuzzCert[1])
	secret("bad", corev1.SecretTypeTLS, []byte(f.free), []byte(f.free))
	secret("mismatch", corev1.SecretTypeTLS, fuzzCert[0], fuzzOther)
	secret("opaque", corev1.SecretTypeOpaque, fuzzCert[0], fuzzCert[1])
	s.AuthSecrets = map[types.NamespacedName]*corev1.Secret{{Namespace: "ns", Name: "opaque"}: {
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "opaque"}, Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"auth": []byte(f.free), "u": []byte(f.free)}}}

	for i := range f.n(6) + 1 {
		s.Ingresses = append(s.Ingresses, fuzzIngress(f, i))
	}
	return s
}

func fuzzBool(f *fuzzSpec) *bool {
	switch f.n(3) {
	case 0:
		return nil
	case 1:
		return ptr.To(true)
	}
	return ptr.To(false)
}

func fuzzIngress(f *fuzzSpec, i int) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{
		Namespace: []string{"ns", "other"}[f.n(2)], Name: fmt.Sprintf("ing-%d", i), UID: types.UID(fmt.Sprint("uid-", i)),
		// Few distinct ages, so ties (broken by namespace/name) are common.
		CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(f.n(3)) * time.Second)),
	}}
	switch f.n(4) {
	case 0, 1:
		ing.Spec.IngressClassName = ptr.To("portico")
	case 2:
		ing.Spec.IngressClassName = ptr.To(f.pick("other", "nope"))
	}
	for range f.n(4) {
		if ing.Annotations == nil {
			ing.Annotations = map[string]string{}
		}
		ing.Annotations[f.pick(fuzzAnnKeys...)] = f.pick(fuzzAnnValues...)
	}
	if f.next()%4 == 0 {
		ing.Spec.DefaultBackend = fuzzBackend(f)
	}
	for range f.n(3) {
		t := networkingv1.IngressTLS{SecretName: f.pick(fuzzSecrets...)}
		for range f.n(3) {
			t.Hosts = append(t.Hosts, f.pick(fuzzHostPool...))
		}
		ing.Spec.TLS = append(ing.Spec.TLS, t)
	}
	for range f.n(4) {
		r := networkingv1.IngressRule{Host: f.pick(fuzzHostPool...)}
		if f.next()%5 != 0 { // a rule without http is legal
			r.HTTP = &networkingv1.HTTPIngressRuleValue{}
			for range f.n(5) {
				r.HTTP.Paths = append(r.HTTP.Paths, networkingv1.HTTPIngressPath{
					Path: f.pick(fuzzPathPool...), PathType: fuzzPathTypes[f.n(len(fuzzPathTypes))], Backend: *fuzzBackend(f)})
			}
		}
		ing.Spec.Rules = append(ing.Spec.Rules, r)
	}
	return ing
}

func fuzzBackend(f *fuzzSpec) *networkingv1.IngressBackend {
	switch f.n(8) {
	case 0:
		return &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: f.free}}
	case 1:
		return &networkingv1.IngressBackend{} // names nothing
	}
	b := &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: f.pick(fuzzServices...)}}
	if f.next()&1 == 0 {
		b.Service.Port.Name = f.pick(fuzzPortName...)
	} else {
		b.Service.Port.Number = fuzzPortNums[f.n(len(fuzzPortNums))]
	}
	return b
}

// FuzzCompile builds random clusters (Ingresses with any host, path, path
// type, backend, TLS section and annotations; Services, EndpointSlices and
// Secrets good and bad) and checks that Compile never panics, that every
// route it lets through is one the proxy can serve (a valid lower-case host,
// a clean path starting with "/", a resolved backend of the Ingress's own
// namespace and never an ExternalName Service, options set), that
// every problem names an Ingress of the snapshot, and that it is pure (the
// same snapshot compiles to the same table).
func FuzzCompile(f *testing.F) {
	fuzzPEM()
	f.Add([]byte{}, "")
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}, "/x")
	f.Add([]byte("\x00\x01\x02\x00\x01\x01\x00\x03\x02\x01\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"), "Evil.Test")
	f.Add([]byte(strings.Repeat("\x05\x03\x07\x01\x02", 40)), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	f.Fuzz(func(t *testing.T, spec []byte, free string) {
		snap := fuzzSnapshot(&fuzzSpec{b: spec, free: free})
		res := Compile(snap, CompileConfig{Class: testClass,
			DefaultBackend: &ServiceRef{Namespace: "ns", Name: "web", Port: "http"}})
		checkCompiled(t, snap, res)
		again := Compile(snap, CompileConfig{Class: testClass,
			DefaultBackend: &ServiceRef{Namespace: "ns", Name: "web", Port: "http"}})
		if a, b := routeList(res.Table), routeList(again.Table); a != b {
			t.Fatalf("Compile is not deterministic:\n%s\n---\n%s", a, b)
		}
	})
}

func checkCompiled(t *testing.T, snap *Snapshot, res Result) {
	t.Helper()
	if res.Table == nil {
		t.Fatal("nil table")
	}
	sources := map[string]*networkingv1.Ingress{}
	for _, ing := range snap.Ingresses {
		sources[ing.Namespace+"/"+ing.Name] = ing
	}
	for _, r := range res.Table.Routes() {
		if msg := checkHost(r.Host); msg != "" || r.Host != strings.ToLower(r.Host) {
			t.Errorf("route with invalid host %q: %s", r.Host, msg)
		}
		p := networkingv1.HTTPIngressPath{Path: r.Path}
		if r.Type == router.Exact {
			p.PathType = ptr.To(networkingv1.PathTypeExact)
		}
		if _, msg := checkPath(&p); msg != "" || !strings.HasPrefix(r.Path, "/") {
			t.Errorf("route with invalid path %q: %s", r.Path, msg)
		}
		switch {
		case r.Type == router.RegexPrefix && r.PathRegex == nil:
			t.Errorf("regex route %q without its expression", r.Path)
		case r.Type != router.Exact && r.Type != router.Prefix && r.Type != router.RegexPrefix:
			t.Errorf("route %q with path type %d", r.Path, r.Type)
		}
		// Redirect routes (from-to-www-redirect) answer by themselves: no
		// backend, the host they redirect to.
		if f := r.Filters; f != nil && f.Redirect != nil && f.Redirect.Form == router.FormWWW {
			if r.Backend != nil || checkHost(f.Redirect.Hostname) != "" || r.Options == nil {
				t.Errorf("www redirect route %s%s: backend %v, to %q", r.Host, r.Path, r.Backend, f.Redirect.Hostname)
			}
			continue
		}
		if f := r.Filters; f != nil && (f.Rewrite == nil || f.Rewrite.Captures == nil || f.Rewrite.Captures.Regexp == nil) {
			t.Errorf("route %q with filters other than a rewrite: %+v", r.Path, f)
		}
		if r.Backend == nil || r.Backend.ID == "" || r.Options == nil {
			t.Errorf("route %s%s: backend %v options %v", r.Host, r.Path, r.Backend, r.Options)
		}
		if ing := sources[r.Source]; ing == nil {
			t.Errorf("route %s%s from unknown source %q", r.Host, r.Path, r.Source)
		} else if r.Backend != nil && r.Backend.Namespace != ing.Namespace {
			t.Errorf("route of %s reaches a Service of namespace %q", r.Source, r.Backend.Namespace)
		}
		if r.Backend != nil && r.Backend.Service == "ext" {
			t.Errorf("route %s%s goes to an ExternalName Service", r.Host, r.Path)
		}
		checkOptions(t, r.Options)
	}
	if d := res.Table.Default(); d != nil && (d.Path != "/" || d.Type != router.Prefix || d.Backend == nil) {
		t.Errorf("default route %+v", d)
	}
	for _, p := range res.Problems {
		if p.Reason == "" || p.Message == "" {
			t.Errorf("problem without reason or message: %+v", p)
		}
		if p.Ingress != nil && sources[p.Ingress.Namespace+"/"+p.Ingress.Name] != p.Ingress {
			t.Errorf("problem %s names an Ingress not in the snapshot", p.Reason)
		}
	}
	seen := map[*networkingv1.Ingress]bool{}
	for _, ing := range append(append([]*networkingv1.Ingress(nil), res.Admitted...), res.Rejected...) {
		if seen[ing] {
			t.Errorf("Ingress %s/%s both admitted and rejected (or listed twice)", ing.Namespace, ing.Name)
		}
		seen[ing] = true
	}
	for _, c := range res.Certificates {
		if c == nil || !strings.HasPrefix(c.Source, "ns/") {
			t.Errorf("certificate from %v: only Secrets of the Ingress's own namespace (ns) may be used", c)
		}
	}
}

func routeList(t *router.Table) string {
	var b strings.Builder
	for _, r := range t.Routes() {
		if r.Backend == nil { // a redirect route (from-to-www-redirect) has none
			fmt.Fprintf(&b, "%s %s %s %s redirect\n", r.Host, r.Path, r.Type, r.Source)
			continue
		}
		fmt.Fprintf(&b, "%s %s %s %s %s %v\n", r.Host, r.Path, r.Type, r.Source, r.Backend.ID, r.Backend.Endpoints)
	}
	if d := t.Default(); d != nil {
		fmt.Fprintf(&b, "default %s %s\n", d.Source, d.Backend.ID)
	}
	return b.String()
}

var hstsValue = regexp.MustCompile(`^max-age=[0-9]+(; includeSubDomains)?(; preload)?$`)

// checkOptions holds for any options an annotation parse produced: every
// value within its limits, and nothing a user typed reaches a header
// unchecked.
func checkOptions(t *testing.T, o *router.Options) {
	t.Helper()
	for _, d := range []time.Duration{o.ConnectTimeout, o.ReadTimeout, o.SendTimeout} {
		if d < 0 || d > maxTimeout {
			t.Errorf("timeout %v outside [0, %v]", d, maxTimeout)
		}
	}
	if o.NextUpstreamTries < 0 || o.NextUpstreamTries > maxTries {
		t.Errorf("tries %d outside [0, %d]", o.NextUpstreamTries, maxTries)
	}
	if o.MaxBodyBytes < 0 || o.MaxBodyBytes > 1<<40 {
		t.Errorf("body size %d outside [0, 1 TiB]", o.MaxBodyBytes)
	}
	if o.Protocol.String() == "unknown" {
		t.Errorf("protocol %d", o.Protocol)
	}
	if o.UpstreamHost != "" && (!validHost(o.UpstreamHost) || strings.ContainsAny(o.UpstreamHost, "\r\n \t")) {
		t.Errorf("upstream host %q", o.UpstreamHost)
	}
	if o.HSTS != "" && !hstsValue.MatchString(o.HSTS) {
		t.Errorf("HSTS header %q is not canonical", o.HSTS)
	}
}

// FuzzParseAnnotations: any value for any annotation (and any unknown
// key) parses without panic into options within their limits; a value that
// is reported invalid leaves that setting at its default; nothing else
// than portico.dev/ and nginx.ingress.kubernetes.io/ keys is looked at.
func FuzzParseAnnotations(f *testing.F) {
	f.Add(uint8(3), "-5s", uint8(5), "banana", "portico.dev/x")
	f.Add(uint8(10), "max-age=31536000; includeSubDomains; preload", uint8(7), "up.test:8080", "")
	f.Add(uint8(7), "evil.test\r\nX-Injected: 1", uint8(1), "99", "kubernetes.io/ingress.class")
	f.Add(uint8(5), "9223372036854775807g", uint8(0), "least-request", "portico.dev/")
	f.Add(uint8(4), "86401", uint8(10), "1; max-age=2", "portico.dev/hsts ")
	f.Fuzz(func(t *testing.T, k1 uint8, v1 string, k2 uint8, v2, rawKey string) {
		keys := append(fuzzAnnKeys[:len(fuzzAnnKeys):len(fuzzAnnKeys)], rawKey)
		ann := map[string]string{keys[int(k1)%len(keys)]: v1, keys[int(k2)%len(keys)]: v2}
		o, errs := parseAnnotations(ann)
		checkOptions(t, &o.route)
		ours := 0
		for k := range ann {
			if strings.HasPrefix(k, porticoPrefix) || strings.HasPrefix(k, nginxPrefix) {
				ours++
			}
		}
		if len(errs) > ours {
			t.Errorf("%d errors for %d portico.dev/ and nginx.ingress.kubernetes.io/ annotations: %q", len(errs), ours, errs)
		}
		def, _ := parseAnnotations(nil)
		for _, e := range errs {
			key, ok := strings.CutPrefix(e.msg, "annotation ")
			if !ok {
				continue // "unknown annotation ... is ignored"
			}
			key, _, _ = strings.Cut(key, ":")
			// An invalid value leaves its setting as it would be without
			// it: the default, or what another annotation of the same
			// setting says (upstream-vhost under upstream-host).
			without := map[string]string{}
			for k, v := range ann {
				if k != key {
					without[k] = v
				}
			}
			alone, _ := parseAnnotations(without)
			if get := optionOf[key]; get != nil && get(o) != get(def) && get(o) != get(alone) {
				t.Errorf("%s reported invalid but set to %v (default %v, %v without it)", key, get(o), get(def), get(alone))
			}
		}
		o2, errs2 := parseAnnotations(ann)
		if !reflect.DeepEqual(o, o2) || !reflect.DeepEqual(errs, errs2) {
			t.Errorf("parse is not deterministic: %+v vs %+v", o, o2)
		}
	})
}

// optionOf reads the setting each annotation controls.
var optionOf = map[string]func(ingressOptions) any{
	annLoadBalance:       func(o ingressOptions) any { return o.route.Balance },
	annNextUpstreamTries: func(o ingressOptions) any { return o.route.NextUpstreamTries },
	annConnectTimeout:    func(o ingressOptions) any { return o.route.ConnectTimeout },
	annReadTimeout:       func(o ingressOptions) any { return o.route.ReadTimeout },
	annSendTimeout:       func(o ingressOptions) any { return o.route.SendTimeout },
	annBodySize:          func(o ingressOptions) any { return o.route.MaxBodyBytes },
	annBackendProtocol:   func(o ingressOptions) any { return o.route.Protocol },
	annUpstreamHost:      func(o ingressOptions) any { return o.route.UpstreamHost },
	annSSLRedirect:       func(o ingressOptions) any { return o.redirectSet },
	annForceSSLRedirect:  func(o ingressOptions) any { return o.forceRedirect },
	annHSTS:              func(o ingressOptions) any { return o.route.HSTS },
	annACME:              func(o ingressOptions) any { return o.acme },
}

func init() {
	for _, pre := range []string{porticoPrefix, nginxPrefix} {
		optionOf[pre+"use-regex"] = func(o ingressOptions) any { return o.rewrite.useRegex }
		optionOf[pre+"rewrite-target"] = func(o ingressOptions) any { return o.rewrite.target != nil }
		optionOf[pre+"x-forwarded-prefix"] = func(o ingressOptions) any { return o.rewrite.prefix != nil }
	}
}
