package tlsstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestStore returns a store with a cheap fake default, sourced "default".
func newTestStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Default == nil {
		cfg.Default = fakeCert("default")
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSelection(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, Config{})
	s.Replace([]*Certificate{
		fakeCert("wild-foo", "*.foo.com"),
		fakeCert("www-foo", "www.foo.com"),
		fakeCert("mixed-case", "Shop.Example.COM"),
		fakeCert("dup-first", "dup.com", "*.dup.com"),
		fakeCert("dup-second", "dup.com", "*.dup.com", "only-second.com"),
		fakeCert("apex-and-wild", "bar.com", "*.bar.com"),
		fakeCert("ip", "10.0.0.1"),
		nil,                                                // skipped, not a panic
		{Source: "no-pair", Names: []string{"nopair.com"}}, // skipped: nothing to serve
	})

	tests := []struct {
		name, sni, want string
	}{
		{"exact", "www.foo.com", "www-foo"},
		{"exact beats earlier wildcard", "www.foo.com", "www-foo"},
		{"wildcard covers one label", "a.foo.com", "wild-foo"},
		{"wildcard does not cover two labels", "b.a.foo.com", "default"},
		{"wildcard does not cover the apex", "foo.com", "default"},
		{"wildcard needs a non-empty label", ".foo.com", "default"},
		{"apex listed separately", "bar.com", "apex-and-wild"},
		{"upper-case SNI", "WWW.FOO.COM", "www-foo"},
		{"upper-case SNI on wildcard", "A.Foo.Com", "wild-foo"},
		{"upper-case SAN", "shop.example.com", "mixed-case"},
		{"trailing dot", "www.foo.com.", "www-foo"},
		{"trailing dot on wildcard", "a.foo.com.", "wild-foo"},
		{"only one trailing dot ignored", "www.foo.com..", "default"},
		{"no SNI", "", "default"},
		{"lone dot", ".", "default"},
		{"unknown host", "example.org", "default"},
		{"earlier certificate wins exact", "dup.com", "dup-first"},
		{"earlier certificate wins wildcard", "x.dup.com", "dup-first"},
		{"later certificate keeps its other names", "only-second.com", "dup-second"},
		{"IP SAN", "10.0.0.1", "ip"},
		{"entry without key pair skipped", "nopair.com", "default"},
		{"long mixed-case SNI", strings.Repeat("A", 300) + ".foo.com", "wild-foo"},
		{"long mixed-case SNI with two trailing dots", strings.Repeat("A", 300) + ".foo.com..", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: tt.sni})
			if err != nil {
				t.Fatal(err)
			}
			want := s.Lookup(tt.sni)
			if want.Source != tt.want {
				t.Errorf("Lookup(%q) = %s, want %s", tt.sni, want.Source, tt.want)
			}
			if got != want.Cert {
				t.Errorf("GetCertificate(%q) disagrees with Lookup", tt.sni)
			}
			if tt.want != "default" && !want.Covers(tt.sni) {
				t.Errorf("%s does not claim to cover %q", want.Source, tt.sni)
			}
		})
	}
}

func TestGetCertificateNilHello(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, Config{})
	got, err := s.GetCertificate(nil)
	if err != nil || got != s.Default().Cert {
		t.Errorf("GetCertificate(nil) = %v, %v; want the default", got, err)
	}
	var zero Store
	if _, err := zero.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.com"}); err == nil {
		t.Error("zero Store served a certificate")
	}
}

func TestCovers(t *testing.T) {
	t.Parallel()
	c := &Certificate{Names: []string{"*.Foo.com", "exact.org", "10.0.0.1"}}
	tests := []struct {
		host string
		want bool
	}{
		{"a.foo.com", true},
		{"A.FOO.COM.", true},
		{"b.a.foo.com", false},
		{"foo.com", false},
		{".foo.com", false},
		{"exact.org", true},
		{"EXACT.ORG", true},
		{"x.exact.org", false},
		{"10.0.0.1", true},
		{"", false},
		{"\u212aexact.org", false}, // Kelvin sign must not fold to "k"
	}
	for _, tt := range tests {
		if got := c.Covers(tt.host); got != tt.want {
			t.Errorf("Covers(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
	var nilCert *Certificate
	if nilCert.Covers("a.com") {
		t.Error("nil certificate covers a.com")
	}
}

func TestGeneratedDefault(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	newStore := func() *Store {
		s, err := New(Config{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := newStore(), newStore()
	def := a.Default()
	if !slices.Equal(def.Names, []string{"portico-default"}) || def.Cert.Leaf.Subject.CommonName != "portico-default" {
		t.Errorf("default names %q, CN %q", def.Names, def.Cert.Leaf.Subject.CommonName)
	}
	if want := now.Add(365 * 24 * time.Hour); !def.NotAfter.Equal(want) {
		t.Errorf("default NotAfter = %v, want %v", def.NotAfter, want)
	}
	key, ok := def.Cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Errorf("default key is %T, want ECDSA P-256", def.Cert.PrivateKey)
	}
	if key.Equal(b.Default().Cert.PrivateKey) {
		t.Error("two stores generated the same default key")
	}
	if got, _ := a.GetCertificate(&tls.ClientHelloInfo{}); got != def.Cert {
		t.Error("no-SNI handshake did not get the generated default")
	}
}

func TestNewRejectsDefaultWithoutKeyPair(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Default: &Certificate{Source: "broken"}}); err == nil {
		t.Error("New accepted a default certificate without a key pair")
	}
}

func TestSetDefault(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, Config{})
	initial := s.Default()
	other := fakeCert("other")
	s.SetDefault(other)
	if s.Lookup("unknown.com") != other {
		t.Error("SetDefault did not take effect")
	}
	s.SetDefault(nil)
	if s.Lookup("unknown.com") != initial {
		t.Error("SetDefault(nil) did not restore the initial default")
	}
}

func TestOnMissing(t *testing.T) {
	t.Parallel()
	acme := &tls.Certificate{}
	errRefused := errors.New("refused")
	s := newTestStore(t, Config{OnMissing: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		switch hello.ServerName {
		case "acme.test", "stored.test":
			return acme, nil
		case "fail.test":
			return nil, errRefused
		}
		return nil, nil
	}})
	stored := fakeCert("stored", "stored.test")
	s.Replace([]*Certificate{stored})

	tests := []struct {
		sni     string
		want    *tls.Certificate
		wantErr error
	}{
		{"stored.test", stored.Cert, nil}, // stored certificates come first
		{"acme.test", acme, nil},
		{"fail.test", nil, errRefused},
		{"other.test", s.Default().Cert, nil},
	}
	for _, tt := range tests {
		got, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: tt.sni})
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("GetCertificate(%q) = %p, %v; want %p, %v", tt.sni, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCertificatesListsReplacedSet(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, Config{})
	a, b := fakeCert("a", "a.com"), fakeCert("b", "b.com")
	s.Replace([]*Certificate{a, nil, b})
	if got := s.Certificates(); !slices.Equal(got, []*Certificate{a, b}) {
		t.Errorf("Certificates() = %v", got)
	}
}

// TestReplaceIsAtomic hammers GetCertificate while the set flips between two
// generations; every handshake must see one whole generation, never the
// default and never nil.
func TestReplaceIsAtomic(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, Config{})
	hosts := []string{"a.com", "b.com", "x.wild.com"}
	gen := func(source string) []*Certificate {
		return []*Certificate{fakeCert(source, "a.com", "b.com"), fakeCert(source+"-wild", "*.wild.com")}
	}
	old, next := gen("old"), gen("new")
	s.Replace(old)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				host := hosts[i%len(hosts)]
				got, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: host})
				want := 0
				if host == "x.wild.com" {
					want = 1
				}
				if err != nil || (got != old[want].Cert && got != next[want].Cert) {
					t.Errorf("GetCertificate(%q) = %p, %v during Replace", host, got, err)
					return
				}
			}
		})
	}
	for i := range 2000 {
		if i%2 == 0 {
			s.Replace(next)
		} else {
			s.Replace(old)
		}
	}
	close(stop)
	wg.Wait()
}

func TestGetCertificateDoesNotAllocate(t *testing.T) {
	s := newTestStore(t, Config{})
	s.Replace([]*Certificate{fakeCert("a", "www.example.com", "*.apps.example.com")})
	for _, sni := range []string{"www.example.com", "WWW.Example.com", "x.apps.example.com", "X.APPS.example.com.", "miss.example.org", "MISS.example.org", ""} {
		hello := &tls.ClientHelloInfo{ServerName: sni}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := s.GetCertificate(hello); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("GetCertificate(%q) allocates %v times per call", sni, allocs)
		}
	}
}
