package router

import (
	"net/http"
	"reflect"
	"testing"
)

func TestPathRewrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, prefix, path string
		rw                 PathRewrite
		want               string
	}{
		{"prefix replaced", "/prefix/one", "/prefix/one/two", PathRewrite{ReplacePrefixMatch, "/one"}, "/one/two"},
		{"prefix replaced, nothing after", "/prefix/one", "/prefix/one", PathRewrite{ReplacePrefixMatch, "/one"}, "/one"},
		{"prefix replaced, trailing slash kept", "/prefix/one", "/prefix/one/", PathRewrite{ReplacePrefixMatch, "/one"}, "/one/"},
		{"strip prefix", "/strip-prefix", "/strip-prefix/three", PathRewrite{ReplacePrefixMatch, "/"}, "/three"},
		{"strip prefix, nothing after", "/strip-prefix", "/strip-prefix", PathRewrite{ReplacePrefixMatch, "/"}, "/"},
		{"strip prefix, slash after", "/strip-prefix", "/strip-prefix/", PathRewrite{ReplacePrefixMatch, "/"}, "/"},
		{"rule prefix with trailing slash", "/foo/", "/foo/bar", PathRewrite{ReplacePrefixMatch, "/xyz"}, "/xyz/bar"},
		{"replacement with trailing slash", "/foo", "/foo/bar", PathRewrite{ReplacePrefixMatch, "/xyz/"}, "/xyz/bar"},
		{"root prefix", "/", "/a/b", PathRewrite{ReplacePrefixMatch, "/api"}, "/api/a/b"},
		{"full path", "/full/one", "/full/one/two", PathRewrite{ReplaceFullPath, "/one"}, "/one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rw.Apply(tt.path, tt.prefix); got != tt.want {
				t.Errorf("Apply(%q, prefix %q) = %q, want %q", tt.path, tt.prefix, got, tt.want)
			}
		})
	}
}

// TestRedirectLocation follows HTTPRequestRedirectFilter's port rules: "If
// redirect scheme is not-empty, the redirect port MUST be the well-known
// port associated with the redirect scheme ... If redirect scheme is empty,
// the redirect port MUST be the Gateway Listener port", and the port is
// left out of Location when it is the scheme's well-known one.
func TestRedirectLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		r      Redirect
		scheme string
		host   string
		port   int
		path   string
		query  string
		want   string
	}{
		{"scheme to https drops port", Redirect{Scheme: "https"}, "http", "ex.com", 80, "/a", "", "https://ex.com/a"},
		{"scheme to https from odd listener port", Redirect{Scheme: "https"}, "http", "ex.com:8080", 8080, "/a", "", "https://ex.com/a"},
		{"scheme and port", Redirect{Scheme: "https", Port: 8443}, "http", "ex.com", 80, "/a", "", "https://ex.com:8443/a"},
		{"no scheme: listener port", Redirect{Hostname: "other.com"}, "http", "ex.com:8080", 8080, "/a", "", "http://other.com:8080/a"},
		{"no scheme, listener 80 omitted", Redirect{Hostname: "other.com"}, "http", "ex.com", 80, "/a", "", "http://other.com/a"},
		{"port only", Redirect{Port: 8083}, "http", "ex.com", 80, "/", "", "http://ex.com:8083/"},
		{"https to port 443 omitted", Redirect{Port: 443}, "https", "ex.com", 443, "/", "", "https://ex.com/"},
		{"scheme http well-known", Redirect{Scheme: "http"}, "https", "ex.com", 443, "/", "", "http://ex.com/"},
		{"query kept", Redirect{Scheme: "https"}, "http", "ex.com", 80, "/s", "q=1&r=2", "https://ex.com/s?q=1&r=2"},
		{"full path", Redirect{Path: &PathRewrite{ReplaceFullPath, "/new"}}, "http", "ex.com", 80, "/old/x", "", "http://ex.com/new"},
		{"prefix path", Redirect{Path: &PathRewrite{ReplacePrefixMatch, "/new"}}, "http", "ex.com", 80, "/old/x", "", "http://ex.com/new/x"},
		{"IPv6 host", Redirect{Scheme: "https"}, "http", "[2001:db8::1]:80", 80, "/", "", "https://[2001:db8::1]/"},
		{"IPv6 host without port", Redirect{Port: 81}, "http", "[2001:db8::1]", 80, "/", "", "http://[2001:db8::1]:81/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Location(tt.scheme, tt.host, tt.port, tt.path, tt.query, "/old"); got != tt.want {
				t.Errorf("Location = %q, want %q", got, tt.want)
			}
		})
	}
	if (&Redirect{}).StatusCode() != http.StatusFound {
		t.Error("default status must be 302")
	}
}

func TestHeaderEdits(t *testing.T) {
	t.Parallel()
	h := http.Header{"X-Keep": {"k"}, "X-Set": {"old", "older"}, "X-Add": {"a"}, "X-Gone": {"g"}}
	e := HeaderEdits{
		Set:    []HeaderField{{"x-set", "new"}, {"X-New", "n"}},
		Add:    []HeaderField{{"x-add", "b"}},
		Remove: []string{"x-gone", "X-Absent"},
	}
	e.Apply(h)
	want := http.Header{"X-Keep": {"k"}, "X-Set": {"new"}, "X-New": {"n"}, "X-Add": {"a", "b"}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got %v, want %v", h, want)
	}
	if e.Empty() || !(&HeaderEdits{}).Empty() {
		t.Fatal("Empty is wrong")
	}
}

// TestNginxLocation: the Locations of ingress-nginx's redirects.
func TestNginxLocation(t *testing.T) {
	t.Parallel()
	root := &PathRewrite{Type: ReplaceFullPath, Value: "/login"}
	tests := []struct {
		name   string
		r      Redirect
		scheme string
		host   string
		port   int
		uri    string
		want   string
	}{
		{"URL as written", Redirect{Form: FormURL, URL: "https://example.com/new"}, "http", "a.test", 80, "/x?y=1", "https://example.com/new"},
		{"app-root drops the query", Redirect{Form: FormAppRoot, Path: root}, "http", "a.test", 80, "/?foo=bar", "http://a.test/login"},
		{"app-root keeps the Host as sent", Redirect{Form: FormAppRoot, Path: root}, "https", "a.test:8443", 8443, "/", "https://a.test:8443/login"},
		{"app-root $is_args$args, no query", Redirect{Form: FormAppRootArgs, Path: root}, "http", "a.test", 80, "/", "http://a.test/login"},
		{"app-root $is_args$args, empty query", Redirect{Form: FormAppRootArgs, Path: root}, "http", "a.test", 80, "/?", "http://a.test/login"},
		{"app-root $is_args$args, query", Redirect{Form: FormAppRootArgs, Path: root}, "http", "a.test", 80, "/?foo=bar&baz=qux",
			"http://a.test/login?foo=bar&baz=qux"},
		{"path made absolute, Host's port dropped", Redirect{Form: FormPath, URL: "/new"}, "http", "a.test:8080", 8080, "/x", "http://a.test/new"},
		{"path made absolute, IPv6 Host", Redirect{Form: FormPath, URL: "/new"}, "https", "[2001:db8::1]:8443", 8443, "/x", "https://[2001:db8::1]/new"},
		{"path, relative", Redirect{Form: FormPath, URL: "/new", Relative: true}, "http", "a.test", 80, "/x", "/new"},
		{"www: port always, one trailing slash dropped", Redirect{Form: FormWWW, Hostname: "b.test"}, "http", "www.b.test", 80, "/", "http://b.test:80"},
		{"www: path kept", Redirect{Form: FormWWW, Hostname: "b.test"}, "https", "www.b.test", 443, "/some/path", "https://b.test:443/some/path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.NginxLocation(tc.scheme, tc.host, tc.port, tc.uri); got != tc.want {
				t.Errorf("NginxLocation(%q, %q, %d, %q) = %q, want %q", tc.scheme, tc.host, tc.port, tc.uri, got, tc.want)
			}
		})
	}
}
