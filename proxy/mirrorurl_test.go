package proxy

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"portico.dev/portico/router"
)

// TestMirrorURL: ingress-nginx mirror-target. The copy goes to the target
// URL (with the client's request URI for $request_uri, before rewrites),
// with mirror-host or the target's host as Host, with or without the body;
// the client gets the backend's answer at once whatever the mirror does.
func TestMirrorURL(t *testing.T) {
	t.Parallel()
	primary, mirror, slow := &recorder{}, &recorder{}, &recorder{hold: 2 * time.Second}
	_, pAddr := backend(t, "v1", primary.ServeHTTP)
	_, mAddr := backend(t, "mirror", mirror.ServeHTTP)
	_, slowAddr := backend(t, "slow", slow.ServeHTTP)
	m := NewMetrics(prometheus.NewRegistry())
	route := func(path string, u router.MirrorURL, rw *router.Rewrite) router.Route {
		return router.Route{Path: path, Type: router.Prefix, Source: "ns/m", Backend: testBackend("v1", pAddr),
			Filters: &router.Filters{Rewrite: rw, Mirrors: []router.Mirror{{URL: &u}}}}
	}
	f := newRouteFixture(t, Config{Metrics: m},
		route("/uri", router.MirrorURL{Scheme: "http", Addr: mAddr, Path: "/copy", RequestURI: true, Host: "test.env.com"},
			&router.Rewrite{Path: &router.PathRewrite{Type: router.ReplaceFullPath, Value: "/rewritten"}}),
		route("/fixed", router.MirrorURL{Scheme: "http", Addr: mAddr, Path: "/mirror", Host: "mirror.example"}, nil),
		route("/nobody", router.MirrorURL{Scheme: "http", Addr: mAddr, Path: "", RequestURI: true, Host: "h", NoBody: true}, nil),
		route("/slow", router.MirrorURL{Scheme: "http", Addr: slowAddr, Path: "/", Host: "h"}, nil),
		route("/refused", router.MirrorURL{Scheme: "http", Addr: refusedAddr(t), Path: "/", Host: "h"}, nil),
		route("/nxdomain", router.MirrorURL{Scheme: "https", Addr: "no-such-host.invalid:443", Path: "/", Host: "h"}, nil),
	)
	check := func(method, path, body, wantURI, wantHost, wantBody string) {
		t.Helper()
		n := len(mirror.requests())
		start := time.Now()
		resp, _ := f.do(t, method, path, strings.NewReader(body))
		if resp.StatusCode != 200 || time.Since(start) > time.Second {
			t.Fatalf("%s %s: %d after %s", method, path, resp.StatusCode, time.Since(start))
		}
		got := mirror.await(t, n+1)
		last := got[len(got)-1]
		if last.method != method || last.uri != wantURI || last.host != wantHost || last.body != wantBody {
			t.Errorf("%s %s: the mirror got %s %s host %q body %q; want %s %s host %q body %q",
				method, path, last.method, last.uri, last.host, last.body, method, wantURI, wantHost, wantBody)
		}
	}
	check("POST", "/uri/a%2Fb?x=1", "payload", "/copy/uri/a%2Fb?x=1", "test.env.com", "payload")
	if p := primary.requests(); p[len(p)-1].uri != "/rewritten?x=1" || p[len(p)-1].body != "payload" {
		t.Errorf("the backend got %+v", p[len(p)-1])
	}
	check("GET", "/fixed/z?q=2", "", "/mirror?q=2", "mirror.example", "")
	check("PUT", "/nobody/n", "dropped", "/nobody/n", "h", "")
	if cl := mirror.requests()[2].header.Get("Content-Length"); cl != "" && cl != "0" {
		t.Errorf("a body-less copy says Content-Length %s", cl)
	}
	for _, p := range []string{"/slow", "/refused", "/nxdomain"} {
		start := time.Now()
		if resp, _ := f.do(t, "GET", p, nil); resp.StatusCode != 200 || time.Since(start) > time.Second {
			t.Errorf("%s: %d after %s", p, resp.StatusCode, time.Since(start))
		}
	}
	slow.await(t, 1)
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(m.mirrors.WithLabelValues("", "no-such-host.invalid:443", mirrorFailed)) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for addr, want := range map[string]float64{mAddr: 3, "no-such-host.invalid:443": 0} {
		if v := testutil.ToFloat64(m.mirrors.WithLabelValues("", addr, mirrorAnswered)); v != want {
			t.Errorf("%s answered = %v, want %v", addr, v, want)
		}
	}
	if v := testutil.ToFloat64(m.mirrors.WithLabelValues("", "no-such-host.invalid:443", mirrorFailed)); v != 1 {
		t.Errorf("unresolvable target failed = %v, want 1", v)
	}
}

// A mirror-request-body "off" mirror needs no copy of the body, so the
// request streams to the backend unbuffered; any other mirror buffers it.
func TestMirrorWithoutBodyDoesNotBuffer(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("POST", "/", strings.NewReader("body"))
	for _, tt := range []struct {
		m    router.Mirror
		want bool
	}{
		{router.Mirror{URL: &router.MirrorURL{NoBody: true}}, false},
		{router.Mirror{URL: &router.MirrorURL{}}, true},
		{router.Mirror{Backend: testBackend("m")}, true},
	} {
		c := &call{route: &router.Route{Filters: &router.Filters{Mirrors: []router.Mirror{tt.m}}}}
		if got := c.replayable(req); got != tt.want {
			t.Errorf("mirror %+v: buffered %v, want %v", tt.m, got, tt.want)
		}
	}
}
