package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"portico.dev/portico/router"
)

func debugTable(t *testing.T) *router.Live {
	t.Helper()
	web := &router.Backend{ID: "ns/web:80", Endpoints: []string{"10.0.0.1:8080", "10.0.0.2:8080"}}
	admin := &router.Backend{ID: "ns/admin:http", Endpoints: []string{"10.0.0.3:8080"}}
	tbl, conflicts := router.New([]router.Route{
		{Host: "site.com", Path: "/", Type: router.Prefix, Backend: web, Source: "ns/site"},
		{Host: "site.com", Path: "/admin", Type: router.Exact, Backend: admin, Source: "ns/admin"},
		{Host: "*.site.com", Path: "/", Type: router.Prefix, Backend: web, Source: "ns/wild"},
	}, &router.Route{Path: "/", Backend: admin, Source: "flag"})
	if len(conflicts) != 0 {
		t.Fatal(conflicts)
	}
	var live router.Live
	live.Store(tbl)
	return &live
}

func TestDebugRoutesTable(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	debugRoutes(debugTable(t))(rec, httptest.NewRequest("GET", "/debug/routes", nil))
	var got tableJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("%d %v: %s", rec.Code, err, rec.Body)
	}
	want := []routeJSON{
		{Host: "*.site.com", Path: "/", Type: "Prefix", Backend: "ns/web:80", Endpoints: 2, Source: "ns/wild"},
		{Host: "site.com", Path: "/", Type: "Prefix", Backend: "ns/web:80", Endpoints: 2, Source: "ns/site"},
		{Host: "site.com", Path: "/admin", Type: "Exact", Backend: "ns/admin:http", Endpoints: 1, Source: "ns/admin"},
	}
	if len(got.Routes) != len(want) {
		t.Fatalf("routes = %+v", got.Routes)
	}
	for i := range want {
		if got.Routes[i] != want[i] {
			t.Errorf("route %d = %+v, want %+v", i, got.Routes[i], want[i])
		}
	}
	if d := got.DefaultBackend; d == nil || d.Backend != "ns/admin:http" || d.Source != "flag" {
		t.Errorf("default = %+v", d)
	}
}

func TestDebugRoutesExplain(t *testing.T) {
	t.Parallel()
	h := debugRoutes(debugTable(t))
	tests := []struct {
		url, level, backend, path, reason string
		isDefault                         bool
	}{
		{"http://site.com/public/%2e%2e/admin", "exact", "ns/admin:http", "/admin", "Exact path /admin", false},
		{"http://Site.Com:8080/x", "exact", "ns/web:80", "/x", "Prefix path /", false},
		{"a.site.com/x", "wildcard", "ns/web:80", "/x", "wildcard *.site.com", false},
		{"http://b.a.site.com/", "none", "ns/admin:http", "/", "default backend", true},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h(rec, httptest.NewRequest("GET", "/debug/routes?url="+url.QueryEscape(tc.url), nil))
			var e explainJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != 200 {
				t.Fatalf("%d %v: %s", rec.Code, err, rec.Body)
			}
			if e.HostLevel != tc.level || e.Route == nil || e.Route.Backend != tc.backend || e.Path != tc.path ||
				e.Default != tc.isDefault || !strings.Contains(e.Reason, tc.reason) {
				t.Errorf("got %+v route %+v", e, e.Route)
			}
		})
	}
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("GET", "/debug/routes?url="+url.QueryEscape("http://[bad/"), nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("bad url: %d %s", rec.Code, rec.Body)
	}
}

func TestRoutesCommand(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/routes", debugRoutes(debugTable(t)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	var out, errOut bytes.Buffer
	if code := routesCommand([]string{"--metrics-addr", addr}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"HOST", "site.com    /admin  Exact   ns/admin:http  1          ns/admin",
		"*.site.com", "(default)", "flag",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if code := routesCommand([]string{"--metrics-addr", addr, "--url", "http://site.com/public/../admin"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"PATH       /admin", "ns/admin:http", "(exact site.com)", "REASON", "SOURCE     ns/admin"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explanation lacks %q:\n%s", want, out.String())
		}
	}

	if code := routesCommand([]string{"--metrics-addr", "127.0.0.1:1"}, &out, &errOut); code != 1 {
		t.Errorf("unreachable instance: exit %d, want 1", code)
	}
}
