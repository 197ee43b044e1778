package proxy

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"portico.dev/portico/router"
)

// Vectors made with `openssl passwd -apr1 -salt SALT PASSWORD` (and -1).
func TestMD5Crypt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ pw, stored string }{
		{"password", "$apr1$Zc3uFq/.$mhewtCcM8YEozTuCNZ.5c."},
		{"password", "$1$Zc3uFq/.$96//Y8G9OjDBBWbGFCIWn0"},
		{"a", "$apr1$Zc3uFq/.$ZtNuSX/xqXsBssjIxexU3/"},
		{"a", "$1$Zc3uFq/.$tmC6OV6r342f083i6p7g6/"},
		{"longer password with spaces and more than sixteen bytes", "$apr1$Zc3uFq/.$TmDM.Q.suBCZr0BlXDd.x."},
		{"longer password with spaces and more than sixteen bytes", "$1$Zc3uFq/.$QBv6GZuK1sE6yGxk7jWLa."},
		{"", "$apr1$abc$BfqKdn9xFDWJPa3kcp/PH0"},
		{"pässwörd", "$apr1$xyz$L9NqCAHT3AatJtVhf/ISl."},
	} {
		h, err := router.ParsePasswordHash(tc.stored)
		if err != nil {
			t.Fatalf("%s: %v", tc.stored, err)
		}
		if !checkPassword(context.Background(), &h, "u", tc.pw) {
			t.Errorf("%q does not match %s", tc.pw, tc.stored)
		}
		if checkPassword(context.Background(), &h, "u", tc.pw+"x") {
			t.Errorf("%q matches %s", tc.pw+"x", tc.stored)
		}
	}
}

func TestCheckPasswordSchemes(t *testing.T) {
	t.Parallel()
	bc, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	y := "$2y$" + string(bc[4:]) // htpasswd -B writes $2y$
	sha := sha1.Sum([]byte("s3cret"))
	ssha := sha1.Sum([]byte("s3cretSALT"))
	for _, stored := range []string{
		string(bc), y,
		"{SHA}" + base64.StdEncoding.EncodeToString(sha[:]),
		"{SSHA}" + base64.StdEncoding.EncodeToString(append(ssha[:], "SALT"...)),
		"{PLAIN}s3cret",
	} {
		h, err := router.ParsePasswordHash(stored)
		if err != nil {
			t.Fatalf("%s: %v", stored, err)
		}
		for pw, want := range map[string]bool{"s3cret": true, "s3cre": false, "s3cretx": false, "": false} {
			if got := checkPassword(context.Background(), &h, "u", pw); got != want {
				t.Errorf("%s with %q: %v, want %v", stored, pw, got, want)
			}
		}
	}
}

func TestCredCache(t *testing.T) {
	t.Parallel()
	c := newCredCache()
	a, b := c.key("h", "u", "p"), c.key("h", "up", "")
	if a == b || a == c.key("hu", "", "p") || a != c.key("h", "u", "p") {
		t.Fatal("keys collide or are not stable")
	}
	if newCredCache().key("h", "u", "p") == a {
		t.Fatal("the key does not depend on the process secret")
	}
	c.add(a)
	for i := 0; i < 2*credCacheGen-1; i++ { // a stays in use: it survives turnovers
		c.add(c.key("h", "u", string(rune(i))))
		if i%1000 == 0 && !c.has(a) {
			t.Fatalf("entry lost after %d adds", i)
		}
	}
	if n := len(c.cur) + len(c.old); n > 2*credCacheGen {
		t.Fatalf("%d entries, bound %d", n, 2*credCacheGen)
	}
}

func TestBasicAuthProxy(t *testing.T) {
	t.Parallel()
	var gotAuth []string
	_, ep := backend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header["Authorization"]
		_, _ = w.Write([]byte("backend"))
	})
	bc, _ := bcrypt.GenerateFromPassword([]byte("bar"), bcrypt.MinCost)
	h, _ := router.ParsePasswordHash(string(bc))
	ba := &router.BasicAuth{Challenge: `Basic realm="test auth"`, Users: map[string]router.PasswordHash{"foo": h}}
	f := newFixture(t, &router.Options{BasicAuth: ba}, Config{Scheme: "http"}, ep)
	cred := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }

	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"none", "", 401},
		{"wrong password", cred("foo", "baz"), 401},
		{"unknown user", cred("bob", "bar"), 401},
		{"not basic", "Bearer abc", 401},
		{"bad base64", "Basic !!!", 401},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("foobar")), 401},
		{"ok", cred("foo", "bar"), 200},
		{"ok, cached", cred("foo", "bar"), 200},
		{"scheme case", "basic " + base64.StdEncoding.EncodeToString([]byte("foo:bar")), 200},
	} {
		gotAuth = nil
		var hdr []string
		if tc.auth != "" {
			hdr = []string{"Authorization", tc.auth}
		}
		resp, body := f.do(t, "GET", "/", nil, hdr...)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
			continue
		}
		if tc.want == 401 {
			if resp.Header.Get("Www-Authenticate") != `Basic realm="test auth"` || body != "401 Authorization Required\n" {
				t.Errorf("%s: challenge %q body %q", tc.name, resp.Header.Get("Www-Authenticate"), body)
			}
			if strings.Contains(body, "foo") {
				t.Errorf("%s: body reflects the request", tc.name)
			}
		} else if body != "backend" || gotAuth != nil {
			t.Errorf("%s: body %q, upstream Authorization %q (ingress-nginx clears it)", tc.name, body, gotAuth)
		}
	}
}

// BenchmarkBasicAuthBcrypt: the cost of one check of a cost-10 bcrypt
// password, uncached and once remembered.
func BenchmarkBasicAuthBcrypt(b *testing.B) {
	bc, _ := bcrypt.GenerateFromPassword([]byte("bar"), 10)
	h, _ := router.ParsePasswordHash(string(bc))
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			if bcrypt.CompareHashAndPassword(bc, []byte("bar")) != nil {
				b.Fatal("no match")
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		checkPassword(context.Background(), &h, "foo", "bar")
		for b.Loop() {
			if !checkPassword(context.Background(), &h, "foo", "bar") {
				b.Fatal("no match")
			}
		}
	})
}

func BenchmarkBasicAuthAPR1(b *testing.B) {
	for b.Loop() {
		md5Crypt([]byte("password"), []byte("Zc3uFq/."), "$apr1$")
	}
}

// TestBasicAuthOrder: as in nginx, the SSL redirect (rewrite phase) and
// the source-range check (access module, before auth_basic) come first: a
// browser is not asked for a password over plain HTTP, and a refused
// address costs no hash check.
func TestBasicAuthOrder(t *testing.T) {
	t.Parallel()
	_, ep := backend(t, "b", nil)
	ba := &router.BasicAuth{Challenge: `Basic realm="r"`, Users: map[string]router.PasswordHash{}}
	f := newFixture(t, &router.Options{BasicAuth: ba, SSLRedirect: true}, Config{Scheme: "http"}, ep)
	if resp, _ := noRedirect(t, f, "/"); resp.StatusCode != http.StatusPermanentRedirect {
		t.Errorf("ssl-redirect: %d, want 308 before 401", resp.StatusCode)
	}
	deny := &router.AccessList{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	f = newFixture(t, &router.Options{BasicAuth: ba, Access: deny}, Config{Scheme: "http"}, ep)
	if resp, _ := f.do(t, "GET", "/", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("refused address: %d, want 403 before 401", resp.StatusCode)
	}
}

func TestSlowCheckGivesUpWithTheRequest(t *testing.T) {
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	h, _ := router.ParsePasswordHash(string(bc))
	for range cap(slowChecks) { // every turn taken
		slowChecks <- struct{}{}
	}
	defer func() {
		for range cap(slowChecks) {
			<-slowChecks
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if checkPassword(ctx, &h, "u", "pw") {
		t.Error("a check ran without a turn")
	}
}

// A check waiting for a hashing turn gives up after slowCheckWait (the
// HTTP/1 server never cancels the request's context when its client
// leaves), and a password too long to be typed is refused unhashed
// (found in review).
func TestSlowCheckBounded(t *testing.T) {
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	h, _ := router.ParsePasswordHash(string(bc))
	_, ep := backend(t, "b", nil)
	ba := &router.BasicAuth{Challenge: `Basic realm="r"`, Users: map[string]router.PasswordHash{"u": h}}
	f := newFixture(t, &router.Options{BasicAuth: ba}, Config{Scheme: "http"}, ep)
	for range cap(slowChecks) {
		slowChecks <- struct{}{} // every turn taken
	}
	start := time.Now()
	resp, _ := f.do(t, "GET", "/", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:pw")))
	waited := time.Since(start)
	for range cap(slowChecks) {
		<-slowChecks
	}
	if resp.StatusCode != http.StatusUnauthorized || waited > slowCheckWait+2*time.Second {
		t.Errorf("all turns busy: %d after %v; want 401 after about %v", resp.StatusCode, waited, slowCheckWait)
	}
	long := "u:" + strings.Repeat("x", maxPasswordLen+1)
	if resp, _ := f.do(t, "GET", "/", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(long))); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a %d-byte password: %d, want 401", maxPasswordLen+1, resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:pw"))); resp.StatusCode != http.StatusOK {
		t.Errorf("with turns free again: %d, want 200", resp.StatusCode)
	}
}
