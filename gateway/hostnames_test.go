package gateway

import (
	"slices"
	"testing"
)

func TestHostnames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		listener string
		route    []string
		want     []string
		ok       bool
	}{
		{"neither sets hostnames: any host", "", nil, []string{""}, true},
		{"listener only", "foo.example.com", nil, []string{"foo.example.com"}, true},
		{"route only", "", []string{"a.com", "b.com"}, []string{"a.com", "b.com"}, true},
		{"exact match", "foo.example.com", []string{"foo.example.com"}, []string{"foo.example.com"}, true},
		{"case-insensitive", "Foo.Example.com", []string{"FOO.example.COM"}, []string{"foo.example.com"}, true},
		{"non-matching route names are ignored", "foo.example.com", []string{"bar.example.com", "foo.example.com"}, []string{"foo.example.com"}, true},
		{"no match: not accepted", "foo.example.com", []string{"bar.example.com"}, nil, false},
		{"listener wildcard covers a name", "*.example.com", []string{"test.example.com"}, []string{"test.example.com"}, true},
		{"listener wildcard covers deeper names", "*.example.com", []string{"foo.test.example.com"}, []string{"foo.test.example.com"}, true},
		{"listener wildcard does not cover its domain", "*.example.com", []string{"example.com"}, nil, false},
		{"listener wildcard does not cover another domain", "*.example.com", []string{"test.example.net"}, nil, false},
		{"same wildcard", "*.example.com", []string{"*.example.com"}, []string{"*.example.com"}, true},
		{"narrower route wildcard", "*.example.com", []string{"*.foo.example.com"}, []string{"*.foo.example.com"}, true},
		{"route wildcard covers listener name", "foo.example.com", []string{"*.example.com"}, []string{"foo.example.com"}, true},
		{"route wildcard wider than listener wildcard", "*.foo.example.com", []string{"*.example.com"}, []string{"*.foo.example.com"}, true},
		{"route wildcard does not cover listener domain", "example.com", []string{"*.example.com"}, nil, false},
		{"suffix is label-wise", "*.example.com", []string{"badexample.com"}, nil, false},
		{"duplicates after intersection", "foo.example.com", []string{"*.example.com", "foo.example.com"}, []string{"foo.example.com"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Hostnames(tt.listener, tt.route)
			if ok != tt.ok || !slices.Equal(got, tt.want) {
				t.Errorf("Hostnames(%q, %q) = %q, %v; want %q, %v", tt.listener, tt.route, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzHostnames checks that every hostname served is covered by both the
// listener and one of the route's hostnames, and that the function never
// panics.
func FuzzHostnames(f *testing.F) {
	f.Add("*.example.com", "a.example.com", "*.b.example.com")
	f.Add("", "x", "")
	f.Fuzz(func(t *testing.T, listener, r1, r2 string) {
		hosts, ok := Hostnames(listener, []string{r1, r2})
		if ok != (len(hosts) > 0) {
			t.Fatalf("ok %v with %q", ok, hosts)
		}
		for _, h := range hosts {
			if !within(h, lower(listener)) || !(within(h, lower(r1)) || within(h, lower(r2))) {
				t.Fatalf("Hostnames(%q, %q, %q) serves %q, outside one of them", listener, r1, r2, h)
			}
		}
	})
}

// within: every name h matches is matched by pattern p ("" is any).
func within(h, p string) bool {
	return p == "" || h == p || covers(p, h)
}
