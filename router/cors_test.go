package router

import (
	"net/http"
	"reflect"
	"testing"
)

// TestOriginMatches reads HTTPCORSFilter.AllowOrigins: "`*` is a greedy
// match to the _left_, including any number of DNS labels to the left of
// its position", "A wildcard by itself matches all hosts", and "if not
// included, port `80` is assumed for `http` scheme origins, and port `443`
// is assumed for `https` origins".
func TestOriginMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, origin string
		want            bool
	}{
		{"https://www.foo.com", "https://www.foo.com", true},
		{"https://www.foo.com", "https://WWW.Foo.com", true},
		{"https://www.foo.com", "http://www.foo.com", false},
		{"https://www.foo.com", "https://www.foo.com:443", true},
		{"https://www.foo.com:443", "https://www.foo.com", true},
		{"https://www.foo.com", "https://www.foo.com:8443", false},
		{"http://www.foo.com", "http://www.foo.com:80", true},
		{"https://*.bar.com", "https://www.bar.com", true},
		{"https://*.bar.com", "https://xpto.www.bar.com", true},
		{"https://*.bar.com", "https://bar.com", false},
		{"https://*.bar.com", "https://foobar.com", false},
		{"https://*.bar.com", "http://www.bar.com", false},
		{"https://*", "https://anything.example:8443", false}, // port still compared
		{"https://*", "https://anything.example", true},
		{"*", "https://foobar.com:12345", true},
		{"*", "null", true},
		{"https://www.foo.com", "null", false},
		{"https://www.foo.com", "https://www.foo.com/path", false},
		{"https://www.foo.com", "", false},
	}
	for _, tt := range tests {
		if got := originMatches(tt.pattern, tt.origin); got != tt.want {
			t.Errorf("originMatches(%q, %q) = %v, want %v", tt.pattern, tt.origin, got, tt.want)
		}
	}
}

// TestCORSPreflight checks the answer headers against the HTTPCORSFilter
// text, with the conformance suite's (HTTPRouteCORS) configurations.
func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	listed := &CORS{
		AllowOrigins:  []string{"https://www.foo.com", "https://*.bar.com"},
		AllowMethods:  []string{"GET", "OPTIONS"},
		AllowHeaders:  []string{"x-header-1", "x-header-2"},
		ExposeHeaders: []string{"x-header-3", "x-header-4"},
		MaxAge:        3600, AllowCredentials: true,
	}
	wild := &CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}, ExposeHeaders: []string{"*"}}
	wildCreds := &CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}, ExposeHeaders: []string{"*"}, AllowCredentials: true}
	vary := "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	tests := []struct {
		name                    string
		c                       *CORS
		origin, method, headers string
		want                    http.Header
	}{
		{"listed values are returned as configured", listed, "https://www.bar.com", "GET", "x-header-1, x-header-2", http.Header{
			"Access-Control-Allow-Origin":      {"https://www.bar.com"},
			"Access-Control-Allow-Credentials": {"true"},
			"Access-Control-Allow-Methods":     {"GET, OPTIONS"},
			"Access-Control-Allow-Headers":     {"x-header-1, x-header-2"},
			"Access-Control-Expose-Headers":    {"x-header-3, x-header-4"},
			"Access-Control-Max-Age":           {"3600"},
			"Vary":                             {vary},
		}},
		{"an origin not allowed gets no CORS header", listed, "https://foobar.com", "GET", "", http.Header{}},
		{"wildcards echo the request, max age defaults to 5", wild, "https://foobar.com:12345", "PUT", "x-a, x-b", http.Header{
			"Access-Control-Allow-Origin":   {"https://foobar.com:12345"},
			"Access-Control-Allow-Methods":  {"PUT"},
			"Access-Control-Allow-Headers":  {"x-a, x-b"},
			"Access-Control-Expose-Headers": {"*"},
			"Access-Control-Max-Age":        {"5"},
			"Vary":                          {vary},
		}},
		{"with credentials no * at all, absent request headers omit the answer", wildCreds, "https://other.foo.com", "PUT", "", http.Header{
			"Access-Control-Allow-Origin":      {"https://other.foo.com"},
			"Access-Control-Allow-Credentials": {"true"},
			"Access-Control-Allow-Methods":     {"PUT"},
			"Access-Control-Max-Age":           {"5"},
			"Vary":                             {vary},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			tt.c.Preflight(h, tt.origin, tt.method, tt.headers)
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("got %v\nwant %v", h, tt.want)
			}
		})
	}
}

func TestCORSActual(t *testing.T) {
	t.Parallel()
	c := &CORS{AllowOrigins: []string{"https://www.foo.com"}, ExposeHeaders: []string{"x-a"}}
	h := http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Credentials": {"true"}}
	c.Actual(h, "https://www.foo.com")
	want := http.Header{"Access-Control-Allow-Origin": {"https://www.foo.com"}, "Access-Control-Expose-Headers": {"x-a"}, "Vary": {"Origin"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %v, want %v (the backend's CORS headers are replaced)", h, want)
	}
	h = http.Header{}
	c.Actual(h, "https://evil.example")
	if len(h) != 0 {
		t.Errorf("origin not allowed: got %v, want nothing", h)
	}
	for _, tc := range []struct {
		method string
		hdr    http.Header
		want   bool
	}{
		{"OPTIONS", http.Header{"Origin": {"https://a"}, "Access-Control-Request-Method": {"GET"}}, true},
		{"OPTIONS", http.Header{"Origin": {"https://a"}}, false},
		{"GET", http.Header{"Origin": {"https://a"}, "Access-Control-Request-Method": {"GET"}}, false},
	} {
		if got := IsPreflight(&http.Request{Method: tc.method, Header: tc.hdr}); got != tc.want {
			t.Errorf("IsPreflight(%s %v) = %v, want %v", tc.method, tc.hdr, got, tc.want)
		}
	}
}
