package proxy

import (
	"encoding/base64"
	"net/http"
	"net/netip"
	"testing"

	"portico.dev/portico/router"
)

// satisfy any with a denylist only: nginx's access module returns
// NGX_DECLINED for an address no allow rule matches, which does not
// satisfy "any", so the client must still authenticate (found in review:
// it used to skip basic and external auth).
func TestSatisfyAnyDenylistOnlyBypassesBasicAuth(t *testing.T) {
	_, ep := backend(t, "b", nil)
	ba := &router.BasicAuth{Challenge: `Basic realm="r"`, Users: map[string]router.PasswordHash{"u": {Scheme: router.HashPlain, Digest: "p"}}}
	acl := &router.AccessList{Deny: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}} // client 127.0.0.1 is not on it
	f := newFixture(t, &router.Options{SatisfyAny: true, Access: acl, BasicAuth: ba}, Config{Scheme: "http"}, ep)
	if resp, _ := f.do(t, "GET", "/", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credentials, denylist-only + satisfy any: %d, want 401 (nginx asks for credentials)", resp.StatusCode)
	}
}

func TestSatisfyAnyDenylistOnlyBypassesExternalAuth(t *testing.T) {
	_, ep := backend(t, "b", nil)
	ext := &router.ExternalAuth{URL: router.URLTemplate{{Lit: "http://" + refusedAddr(t) + "/auth"}}}
	acl := &router.AccessList{Deny: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	f := newFixture(t, &router.Options{SatisfyAny: true, Access: acl, Auth: &router.Auth{External: ext}}, Config{Scheme: "http"}, ep)
	if resp, _ := f.do(t, "GET", "/", nil); resp.StatusCode == http.StatusOK {
		t.Fatalf("external auth skipped for a client that no allow rule matched: %d", resp.StatusCode)
	}
}

// When satisfy any lets a request in without running the
// external auth, the client's own copy of an auth-response-headers header
// reaches the backend (nginx: proxy_set_header X-User $authHeader0, empty
// when auth_request did not run, so the header is dropped).
func TestSatisfyAnySpoofedAuthResponseHeader(t *testing.T) {
	var got string
	_, ep := backend(t, "b", func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("X-User") })
	ext := &router.ExternalAuth{URL: router.URLTemplate{{Lit: "http://" + refusedAddr(t) + "/auth"}}, ResponseHeaders: []string{"X-User"}}
	acl := &router.AccessList{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	f := newFixture(t, &router.Options{SatisfyAny: true, Access: acl, Auth: &router.Auth{External: ext}}, Config{Scheme: "http"}, ep)
	resp, _ := f.do(t, "GET", "/", nil, "X-User", "admin@corp.example")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got != "" {
		t.Fatalf("backend saw client-supplied X-User %q as if vouched for by the auth service", got)
	}
}

// The Authorization header must not reach the backend when satisfy any
// skips basic auth (ingress-nginx: proxy_set_header Authorization "" on
// every basic-auth location).
func TestSatisfyAnyForwardsAuthorization(t *testing.T) {
	var got []string
	_, ep := backend(t, "b", func(w http.ResponseWriter, r *http.Request) { got = r.Header["Authorization"] })
	ba := &router.BasicAuth{Challenge: `Basic realm="r"`, Users: map[string]router.PasswordHash{"u": {Scheme: router.HashPlain, Digest: "p"}}}
	acl := &router.AccessList{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	f := newFixture(t, &router.Options{SatisfyAny: true, Access: acl, BasicAuth: ba}, Config{Scheme: "http"}, ep)
	resp, _ := f.do(t, "GET", "/", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:p")))
	if resp.StatusCode != 200 || got != nil {
		t.Fatalf("status %d, upstream Authorization %q (want none)", resp.StatusCode, got)
	}
}
