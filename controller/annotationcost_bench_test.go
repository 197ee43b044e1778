package controller

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"portico.dev/portico/proxy"
	"portico.dev/portico/router"
)

// discardWriter keeps nothing, so the benchmark counts the proxy's
// allocations, not a recorder's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkAnnotationCost is the cost per request of each ingress-nginx
// feature as a user turns it on: an Ingress with the annotations is
// compiled as the controller compiles it, and a GET goes through the proxy
// to a loopback backend (pooled keep-alive connection, small body). "none"
// is the same Ingress without annotations; each case's cost is its ns/op
// less that one (docs/benchmarks.md).
func BenchmarkAnnotationCost(b *testing.B) {
	body := []byte("hello, world\n")
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain"}
		_, _ = w.Write(body)
	}))
	defer be.Close()
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Auth-Request-User", "bench")
	}))
	defer auth.Close()
	const n = nginxPrefix
	for _, bc := range []struct {
		name   string
		ann    map[string]string
		path   string            // the Ingress path, "/" by default
		canary map[string]string // a canary Ingress for the host, with these annotations
		hdr    []string          // request header pairs
	}{
		{name: "none"},
		{name: "proxy-timeouts", ann: map[string]string{n + "proxy-read-timeout": "30", n + "proxy-connect-timeout": "3"}},
		{name: "rewrite-target", ann: map[string]string{n + "use-regex": "true", n + "rewrite-target": "/$1"}, path: "/api/(.*)"},
		{name: "rewrite+x-forwarded-prefix", ann: map[string]string{n + "rewrite-target": "/$1", n + "x-forwarded-prefix": "/api"}, path: "/api/(.*)"},
		{name: "enable-cors", ann: map[string]string{n + "enable-cors": "true", n + "cors-allow-origin": "https://*.example.com"},
			hdr: []string{"Origin", "https://app.example.com"}},
		{name: "allowlist-source-range", ann: map[string]string{n + "whitelist-source-range": "10.0.0.0/8, 192.0.2.0/24"}},
		{name: "limit-rps", ann: map[string]string{n + "limit-rps": "1000000"}},
		{name: "limit-connections", ann: map[string]string{n + "limit-connections": "1000"}},
		{name: "affinity-cookie", ann: map[string]string{n + "affinity": "cookie"}},
		{name: "upstream-hash-by", ann: map[string]string{n + "upstream-hash-by": "$request_uri"}},
		{name: "canary-by-header", canary: map[string]string{n + "canary": "true", n + "canary-by-header": "X-Canary"}},
		{name: "canary-weight", canary: map[string]string{n + "canary": "true", n + "canary-weight": "50"}},
		{name: "auth-url", ann: map[string]string{n + "auth-url": auth.URL + "/auth", n + "auth-response-headers": "X-Auth-Request-User"}},
		// The first request runs bcrypt; the measured ones hit the verified-credentials cache.
		{name: "auth-type-basic", ann: map[string]string{n + "auth-type": "basic", n + "auth-secret": "htpasswd", n + "auth-realm": "bench"},
			hdr: []string{"Authorization", "Basic Zm9vOmJhcg=="}}, // foo:bar
		{name: "configuration-snippet", ann: map[string]string{n + "configuration-snippet": "more_set_headers \"X-Frame-Options: DENY\";\nproxy_set_header X-Team web;"}},
		{name: "proxy-cookie-path+redirect", ann: map[string]string{n + "proxy-cookie-path": "/internal /", n + "proxy-redirect-from": "http://internal/",
			n + "proxy-redirect-to": "https://bench.test/"}},
		{name: "permanent-redirect", ann: map[string]string{n + "permanent-redirect": "https://elsewhere.example.com/"}},
		// The answer (200) is not one of the codes: the cost of looking.
		{name: "custom-http-errors", ann: map[string]string{n + "custom-http-errors": "404,503"}},
		{name: "proxy-next-upstream", ann: map[string]string{n + "proxy-next-upstream": "error timeout http_503"}},
		// Every request is copied to the mirror (a second local server).
		{name: "mirror-target", ann: map[string]string{n + "mirror-target": auth.URL + "$request_uri"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			snap := costSnapshot(be.Listener.Addr().String(), bc.path, bc.ann, bc.canary)
			res := Compile(snap, CompileConfig{Class: testClass})
			if len(res.Problems) != 0 {
				b.Fatalf("problems: %v", res.Problems)
			}
			live := &router.Live{}
			live.Store(res.Table)
			tr := proxy.NewTransports(proxy.TransportConfig{})
			defer tr.CloseIdleConnections()
			p := proxy.New(proxy.Config{Table: live, Transports: tr, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Forwarded: &proxy.Forwarded{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
			req := httptest.NewRequest(http.MethodGet, "http://bench.test/api/v1/items", nil)
			req.RemoteAddr = net.JoinHostPort("192.0.2.10", "41234")
			for i := 0; i+1 < len(bc.hdr); i += 2 {
				req.Header.Set(bc.hdr[i], bc.hdr[i+1])
			}
			w := &discardWriter{h: make(http.Header)}
			p.ServeHTTP(w, req)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.h)
				for i := 0; i+1 < len(bc.hdr); i += 2 { // basic auth takes Authorization off the request
					req.Header[http.CanonicalHeaderKey(bc.hdr[i])] = []string{bc.hdr[i+1]}
				}
				p.ServeHTTP(w, req)
			}
		})
	}
}

// costSnapshot is one Ingress for bench.test (path, annotations) to a
// Service with one endpoint at addr, and, with canary set, a canary
// Ingress for the same host and path to a second Service at the same
// endpoint.
func costSnapshot(addr, path string, ann, canary map[string]string) *Snapshot {
	host, port, _ := net.SplitHostPort(addr)
	var portN int32
	for _, c := range port {
		portN = portN*10 + int32(c-'0')
	}
	if path == "" {
		path = "/"
	}
	s := &Snapshot{
		Classes: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "portico"},
			Spec: networkingv1.IngressClassSpec{Controller: testClass.ControllerName}}},
		Services: map[types.NamespacedName]*corev1.Service{},
		Slices:   map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		AuthSecrets: map[types.NamespacedName]*corev1.Secret{{Namespace: "ns", Name: "htpasswd"}: {
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "htpasswd"}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{"auth": []byte("foo:" + testBcrypt + "\n")}}},
	}
	add := func(name string, ann map[string]string) {
		k := types.NamespacedName{Namespace: "ns", Name: name}
		s.Services[k] = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
		s.Slices[k] = []*discoveryv1.EndpointSlice{{AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(portN)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{host}}}}}
		s.Ingresses = append(s.Ingresses, &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Annotations: ann,
				CreationTimestamp: metav1.NewTime(t0)},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("portico"), Rules: []networkingv1.IngressRule{{
				Host: "bench.test",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: path, PathType: ptr.To(networkingv1.PathTypeImplementationSpecific), Backend: svcBackend(name, 80)}}}},
			}}},
		})
	}
	add("main", ann)
	if canary != nil {
		add("canary", canary)
	}
	return s
}
