package router

import (
	"net/http"
	"slices"
	"testing"
)

func TestResponseRewrite(t *testing.T) {
	t.Parallel()
	rw := &ResponseRewrite{
		RedirectFrom: "http://backend.internal:8080/", RedirectTo: "https://shop.example.com/",
		CookieDomainFrom: "backend.internal", CookieDomainTo: "shop.example.com",
		CookiePathFrom: "/app", CookiePathTo: "/shop",
	}
	tests := []struct {
		name      string
		in, want  http.Header
		untouched bool
	}{
		{"location prefix", http.Header{"Location": {"http://backend.internal:8080/login?next=/"}},
			http.Header{"Location": {"https://shop.example.com/login?next=/"}}, false},
		{"location other", http.Header{"Location": {"http://elsewhere/login"}}, http.Header{"Location": {"http://elsewhere/login"}}, true},
		{"location is case-sensitive", http.Header{"Location": {"HTTP://BACKEND.INTERNAL:8080/x"}}, http.Header{"Location": {"HTTP://BACKEND.INTERNAL:8080/x"}}, true},
		{"refresh", http.Header{"Refresh": {"5; URL=http://backend.internal:8080/done"}},
			http.Header{"Refresh": {"5; URL=https://shop.example.com/done"}}, false},
		{"cookie domain and path", http.Header{"Set-Cookie": {"a=1; Domain=.Backend.Internal; Path=/app/cart; HttpOnly", "b=2; Path=/other"}},
			http.Header{"Set-Cookie": {"a=1; Domain=shop.example.com; Path=/shop/cart; HttpOnly", "b=2; Path=/other"}}, false},
		{"cookie value that looks like an attribute", http.Header{"Set-Cookie": {"domain=backend.internal; Path=/x"}},
			http.Header{"Set-Cookie": {"domain=backend.internal; Path=/x"}}, true},
		{"cookie subdomain is not the domain", http.Header{"Set-Cookie": {"a=1; Domain=api.backend.internal"}},
			http.Header{"Set-Cookie": {"a=1; Domain=api.backend.internal"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shared := slices.Clone(tt.in["Set-Cookie"])
			orig := tt.in["Set-Cookie"]
			rw.Apply(tt.in)
			for k, v := range tt.want {
				if !slices.Equal(tt.in[k], v) {
					t.Errorf("%s = %q, want %q", k, tt.in[k], v)
				}
			}
			if !slices.Equal(orig, shared) {
				t.Errorf("the original Set-Cookie slice was edited in place: %q", orig)
			}
		})
	}
}

func FuzzResponseRewrite(f *testing.F) {
	f.Add("a=1; Domain=.x.test; Path=/app/b", "http://x.test/a", "1;url=http://x.test/")
	rw := &ResponseRewrite{RedirectFrom: "http://x.test/", RedirectTo: "/", CookieDomainFrom: "x.test", CookieDomainTo: "y.test",
		CookiePathFrom: "/app", CookiePathTo: "/"}
	f.Fuzz(func(t *testing.T, cookie, loc, refresh string) {
		h := http.Header{"Set-Cookie": {cookie}, "Location": {loc}, "Refresh": {refresh}}
		rw.Apply(h)
		if len(h["Set-Cookie"]) != 1 || len(h["Location"]) != 1 || len(h["Refresh"]) != 1 {
			t.Fatalf("header count changed: %v", h)
		}
	})
}
