package router

import (
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"", "/"},
		{"/foo", "/foo"},
		{"/foo/", "/foo/"},
		{"foo", "/foo"},
		{"//foo//bar", "/foo/bar"},
		{"/public/../admin", "/admin"},
		{"/public/./admin", "/public/admin"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/a/b/..", "/a/"},
		{"/a/b/.", "/a/b/"},
		{"/a/..", "/"},
		{"/..", "/"},
		{"/.hidden/..x/...", "/.hidden/..x/..."},
		{"/a/./b/../../c/", "/c/"},
	}
	for _, tc := range tests {
		if got := CleanPath(tc.in); got != tc.want {
			t.Errorf("CleanPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCleanPathCleanInputDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { CleanPath("/api/v1/users/42/.well-known") }); n != 0 {
		t.Errorf("allocs = %.0f, want 0", n)
	}
}

// FuzzCleanPath checks the invariants the router relies on: the result is
// clean (a fixed point), has no dot segments or empty segments, and keeps a
// trailing slash exactly when the input named a directory.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "//x/./y/", "/..", "a/b/..", "/%2e%2e/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := CleanPath(in)
		if CleanPath(out) != out {
			t.Fatalf("not a fixed point: %q -> %q -> %q", in, out, CleanPath(out))
		}
		if !strings.HasPrefix(out, "/") || strings.Contains(out, "//") {
			t.Fatalf("CleanPath(%q) = %q", in, out)
		}
		for _, seg := range strings.Split(out[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("CleanPath(%q) = %q keeps a dot segment", in, out)
			}
		}
	})
}
