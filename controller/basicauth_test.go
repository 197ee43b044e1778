package controller

import (
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/router"
)

const (
	testBcrypt = "$2y$05$AVc/6AjtW3y8.DZpxOe4uOXE1oN.Scsf6aIMD5ZXQkG7Ax9Cw202a" // "bar", cost 5 ($2a$ written as htpasswd -B does)
	testAPR1   = "$apr1$Zc3uFq/.$mhewtCcM8YEozTuCNZ.5c."                        // "password"
)

func testSHA(pw string) string {
	s := sha1.Sum([]byte(pw))
	return "{SHA}" + base64.StdEncoding.EncodeToString(s[:])
}

func TestBasicAuthAnnotations(t *testing.T) {
	t.Parallel()
	const p = nginxPrefix
	for _, c := range []struct {
		name string
		ann  map[string]string
		want *basicAuthOptions // nil: no basic auth
		deny bool
		prob string // substring of the one problem, "" for none
	}{
		{"file", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-realm": "test auth"},
			&basicAuthOptions{name: "s", realm: "test auth"}, false, ""},
		{"namespace/name", map[string]string{p + "auth-type": "basic", p + "auth-secret": "ns/s.x-1"},
			&basicAuthOptions{namespace: "ns", name: "s.x-1"}, false, ""},
		{"map", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-secret-type": "auth-map"},
			&basicAuthOptions{name: "s", authMap: true}, false, ""},
		{"explicit auth-file", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-secret-type": "auth-file"},
			&basicAuthOptions{name: "s"}, false, ""},
		{"realm with every allowed byte", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-realm": "Az09 -._~/:"},
			&basicAuthOptions{name: "s", realm: "Az09 -._~/:"}, false, ""},
		{"portico prefix", map[string]string{"portico.dev/auth-type": "basic", "portico.dev/auth-secret": "s"},
			&basicAuthOptions{name: "s"}, false, ""},
		{"digest fails closed", map[string]string{p + "auth-type": "digest", p + "auth-secret": "s"}, nil, true, "digest authentication is not supported"},
		{"unknown type", map[string]string{p + "auth-type": "basic-ish", p + "auth-secret": "s"}, nil, true, `want "basic"`},
		{"no secret", map[string]string{p + "auth-type": "basic"}, nil, true, "needs auth-secret"},
		{"empty secret", map[string]string{p + "auth-type": "basic", p + "auth-secret": ""}, nil, true, "needs auth-secret"},
		{"bad secret name", map[string]string{p + "auth-type": "basic", p + "auth-secret": "../etc/passwd"}, nil, true, "want a Secret name"},
		{"two slashes", map[string]string{p + "auth-type": "basic", p + "auth-secret": "a/b/c"}, nil, true, "want a Secret name"},
		{"upper case", map[string]string{p + "auth-type": "basic", p + "auth-secret": "Secret"}, nil, true, "want a Secret name"},
		{"bad secret type", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-secret-type": "htpasswd"}, nil, true, "auth-file"},
		// A realm is quoted in a header: quotes, backslashes and line breaks never get there.
		{"realm quote", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-realm": `a" b`}, nil, true, "auth-realm"},
		{"realm crlf", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-realm": "a\r\nX-Evil: 1"}, nil, true, "auth-realm"},
		{"realm backslash", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-realm": `a\`}, nil, true, "auth-realm"},
		{"realm too long", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-realm": strings.Repeat("a", maxRealm+1)}, nil, true, "auth-realm"},
		{"secret without type", map[string]string{p + "auth-secret": "s"}, nil, false, "needs auth-type"},
		{"realm without type", map[string]string{p + "auth-realm": "r"}, nil, false, "needs auth-type"},
		{"external auth denied stays denied", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-url": "ftp://x/"}, nil, true, "auth-url"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, probs := parseAnnotations(c.ann)
			if (c.want == nil) != (o.basicAuth == nil) || c.want != nil && *c.want != *o.basicAuth {
				t.Errorf("basicAuth = %+v, want %+v", o.basicAuth, c.want)
			}
			if denied := o.route.Auth != nil && o.route.Auth.Deny; denied != c.deny {
				t.Errorf("deny = %v, want %v", denied, c.deny)
			}
			switch {
			case c.prob == "" && len(probs) > 0:
				t.Errorf("problems %v", probs)
			case c.prob != "" && (len(probs) != 1 || !strings.Contains(probs[0].msg, c.prob) || probs[0].reason != "InvalidAnnotation"):
				t.Errorf("problems %v, want one containing %q", probs, c.prob)
			}
		})
	}
}

func authSecret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name)},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestCompileBasicAuth(t *testing.T) {
	t.Parallel()
	const p = nginxPrefix
	for _, c := range []struct {
		name    string
		ann     map[string]string
		secrets []*corev1.Secret
		users   []string // nil with deny
		deny    bool
		reason  string // of the one problem, "" for none
		msg     string
	}{
		{"auth-file", map[string]string{p + "auth-type": "basic", p + "auth-secret": "htpasswd", p + "auth-realm": "test auth"},
			[]*corev1.Secret{authSecret("ns", "htpasswd", map[string]string{"auth": "foo:" + testBcrypt + "\n# comment\n\nbob:" + testAPR1 + "\r\n"})},
			[]string{"bob", "foo"}, false, "", ""},
		{"auth-map", map[string]string{p + "auth-type": "basic", p + "auth-secret": "ns/map", p + "auth-secret-type": "auth-map"},
			[]*corev1.Secret{authSecret("ns", "map", map[string]string{"foo": testBcrypt, "mapuser": testSHA("mappass") + "\n"})},
			[]string{"foo", "mapuser"}, false, "", ""},
		// ingress-nginx annotations/auth.go "should return status code 503 when authentication is configured with an invalid secret"
		{"missing Secret", map[string]string{p + "auth-type": "basic", p + "auth-secret": "something"},
			nil, nil, true, "SecretNotFound", "auth-secret ns/something: no such Secret"},
		{"no auth key", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s"},
			[]*corev1.Secret{authSecret("ns", "s", map[string]string{"users": "foo:" + testBcrypt})}, nil, true, "InvalidAuthSecret", "no key auth"},
		{"other namespace", map[string]string{p + "auth-type": "basic", p + "auth-secret": "other/s"},
			[]*corev1.Secret{authSecret("other", "s", map[string]string{"auth": "foo:" + testBcrypt})}, nil, true, "InvalidAnnotation", "another namespace"},
		{"own namespace spelled out", map[string]string{p + "auth-type": "basic", p + "auth-secret": "ns/s"},
			[]*corev1.Secret{authSecret("ns", "s", map[string]string{"auth": "foo:" + testBcrypt})}, []string{"foo"}, false, "", ""},
		// ingress-nginx annotations/auth.go "should return status code 401 when authentication is configured with invalid content ..."
		{"invalid content: 401 for all", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s"},
			[]*corev1.Secret{authSecret("ns", "s", map[string]string{"auth": "foo:"})}, []string{}, false, "InvalidAuthSecret", "line 1: empty password hash"},
		{"bad map value", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-secret-type": "auth-map"},
			[]*corev1.Secret{authSecret("ns", "s", map[string]string{"foo": testBcrypt, "bar": "plain-text"})}, []string{"foo"}, false, "InvalidAuthSecret", `user "bar": unsupported hash`},
		{"map value cannot add users", map[string]string{p + "auth-type": "basic", p + "auth-secret": "s", p + "auth-secret-type": "auth-map"},
			[]*corev1.Secret{authSecret("ns", "s", map[string]string{"foo": testBcrypt + "\nevil:{PLAIN}x"})}, []string{"foo"}, false, "InvalidAuthSecret", "text after the hash"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ing := ingress("ns", "web", 0, rule("auth.test", "/", networkingv1.PathTypePrefix, "app", 80))
			ing.Annotations = c.ann
			snap := cluster([]*networkingv1.Ingress{ing}, "app")
			snap.AuthSecrets = map[types.NamespacedName]*corev1.Secret{}
			for _, s := range c.secrets {
				snap.AuthSecrets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
			}
			res := Compile(snap, CompileConfig{Class: testClass})
			routes := res.Table.Routes()
			if len(routes) != 1 {
				t.Fatalf("%d routes", len(routes))
			}
			o := routes[0].Options
			if denied := o.Auth != nil && o.Auth.Deny; denied != c.deny {
				t.Errorf("deny = %v, want %v", denied, c.deny)
			}
			if c.deny && o.BasicAuth != nil {
				t.Errorf("denied route has BasicAuth")
			}
			if !c.deny {
				if o.BasicAuth == nil {
					t.Fatal("no BasicAuth")
				}
				var got []string
				for u := range o.BasicAuth.Users {
					got = append(got, u)
				}
				if strings.Join(slices.Sorted(slices.Values(got)), ",") != strings.Join(c.users, ",") {
					t.Errorf("users %v, want %v", got, c.users)
				}
				if want := `Basic realm="` + c.ann[p+"auth-realm"] + `"`; o.BasicAuth.Challenge != want {
					t.Errorf("challenge %q, want %q", o.BasicAuth.Challenge, want)
				}
			}
			var probs []Problem
			for _, pr := range res.Problems {
				if pr.Reason != "NoEndpoints" {
					probs = append(probs, pr)
				}
			}
			switch {
			case c.reason == "" && len(probs) > 0:
				t.Errorf("problems %v", probs)
			case c.reason != "" && (len(probs) == 0 || probs[0].Reason != c.reason || !strings.Contains(probs[0].Message, c.msg)):
				t.Errorf("problems %v, want %s %q", probs, c.reason, c.msg)
			}
			for _, pr := range probs {
				if strings.Contains(pr.Message, "$2y$") || strings.Contains(pr.Message, "{PLAIN}x") {
					t.Errorf("problem shows secret data: %q", pr.Message)
				}
			}
		})
	}
}

func TestParseHtpasswd(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, data string
		users      map[string]router.PasswordScheme
		probs      int
	}{
		{"empty", "", map[string]router.PasswordScheme{}, 0},
		{"schemes", "a:" + testBcrypt + "\nb:" + testAPR1 + "\nc:" + testSHA("x") + "\nd:{PLAIN}pw\ne:$1$Zc3uFq/.$96//Y8G9OjDBBWbGFCIWn0\n",
			map[string]router.PasswordScheme{"a": router.HashBcrypt, "b": router.HashAPR1, "c": router.HashSHA, "d": router.HashPlain, "e": router.HashMD5}, 0},
		{"extra fields ignored", "a:{PLAIN}pw:Alice Doe:admin\n", map[string]router.PasswordScheme{"a": router.HashPlain}, 0},
		{"first line of a user wins", "a:{PLAIN}one\na:{PLAIN}two\n", map[string]router.PasswordScheme{"a": router.HashPlain}, 0},
		{"comments and CRLF", "# users\r\n\r\na:{PLAIN}pw\r\n", map[string]router.PasswordScheme{"a": router.HashPlain}, 0},
		{"no colon", "justaname\n", map[string]router.PasswordScheme{}, 1},
		{"empty user", ":{PLAIN}pw\n", map[string]router.PasswordScheme{}, 1},
		{"DES crypt unsupported", "a:rl0uE5ncVTN6o\n", map[string]router.PasswordScheme{}, 1},
		{"sha512 crypt unsupported", "a:$6$salt$abc\n", map[string]router.PasswordScheme{}, 1},
		{"broken bcrypt", "a:$2y$10$short\n", map[string]router.PasswordScheme{}, 1},
		{"bcrypt cost 18 refused", "a:$2y$18$" + testBcrypt[7:] + "\n", map[string]router.PasswordScheme{}, 1},
		{"bcrypt cost 17 accepted", "a:$2y$17$" + testBcrypt[7:] + "\n", map[string]router.PasswordScheme{"a": router.HashBcrypt}, 0},
		{"broken apr1", "a:$apr1$salt$tooshort\n", map[string]router.PasswordScheme{}, 1},
		{"broken sha", "a:{SHA}!!!\n", map[string]router.PasswordScheme{}, 1},
		{"spaces are part of the user", " a:{PLAIN}pw\n", map[string]router.PasswordScheme{" a": router.HashPlain}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			users, probs := parseHtpasswd([]byte(c.data))
			if len(users) != len(c.users) {
				t.Errorf("users %v, want %v", users, c.users)
			}
			for u, s := range c.users {
				if users[u].Scheme != s {
					t.Errorf("user %q: scheme %d, want %d", u, users[u].Scheme, s)
				}
			}
			if len(probs) != c.probs {
				t.Errorf("problems %q, want %d", probs, c.probs)
			}
			for _, p := range probs {
				if strings.Contains(p, "rl0uE5") || strings.Contains(p, "short") {
					t.Errorf("problem shows the hash: %q", p)
				}
			}
		})
	}
}

func FuzzParseHtpasswd(f *testing.F) {
	f.Add([]byte("foo:" + testBcrypt + "\nbar:" + testAPR1 + "\n"))
	f.Add([]byte("# c\r\n:x\nfoo:{SSHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nbar:{PLAIN}\n"))
	f.Add([]byte("a:$apr1$$aaaaaaaaaaaaaaaaaaaaaa\nb:$2a$99$\nc:{SHA}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		users, probs := parseHtpasswd(data)
		if len(users) > maxHtpasswd {
			t.Fatalf("%d users", len(users))
		}
		for u, h := range users {
			if u == "" || strings.ContainsAny(u, ":\n") {
				t.Errorf("user %q", u)
			}
			if h.Scheme == 0 || strings.ContainsAny(h.Raw, ":\n") {
				t.Errorf("user %q: hash %+v", u, h)
			}
		}
		for _, p := range probs {
			if len(p) > 200 {
				t.Errorf("problem too long: %q", p)
			}
		}
		u2, p2 := parseHtpasswd(data)
		if len(u2) != len(users) || len(p2) != len(probs) {
			t.Error("not deterministic")
		}
	})
}

func TestStripAuthSecret(t *testing.T) {
	t.Parallel()
	s := authSecret("ns", "mixed", map[string]string{
		"auth": "anything", "alice": testBcrypt, "bob": testSHA("x") + "\n", "db-password": "hunter2", "token": "eyJhbGciOi",
	})
	out, err := stripAuthSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Secret).Data
	if len(got) != 3 || got["auth"] == nil || got["alice"] == nil || got["bob"] == nil {
		t.Errorf("kept %v", got)
	}
	tls := &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}}
	if out, _ := stripAuthSecret(tls); len(out.(*corev1.Secret).Data) != 2 {
		t.Error("a TLS Secret was stripped")
	}
}
