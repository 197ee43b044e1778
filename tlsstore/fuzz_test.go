package tlsstore

import (
	"crypto/tls"
	"strings"
	"testing"
)

// fuzzCerts overlap on purpose: shared exact and wildcard names, upper-case
// and trailing-dot SANs, and degenerate wildcards.
func fuzzCerts() []*Certificate {
	return []*Certificate{
		fakeCert("c0", "*.example.com", "www.example.com"),
		fakeCert("c1", "WWW.example.com", "api.example.com.", "*.api.example.com"),
		fakeCert("c2", "*.example.com", "example.com", "a.b.example.com"),
		fakeCert("c3", "*.", "*", "*.*.example.com", "", "."),
		fakeCert("c4", "xn--bcher-kva.example", "*.Xn--Bcher-Kva.Example", "10.0.0.1", "::1"),
	}
}

// naiveSelect is the reference: scan every certificate in order for an
// exact SAN, then again for a wildcard SAN, comparing in ASCII lower case.
// Nil means the default.
func naiveSelect(certs []*Certificate, sni string) *Certificate {
	host := naiveLower(strings.TrimSuffix(sni, "."))
	if host == "" {
		return nil
	}
	for _, c := range certs {
		for _, name := range c.Names {
			name = naiveLower(strings.TrimSuffix(name, "."))
			if !strings.HasPrefix(name, "*.") && name == host {
				return c
			}
		}
	}
	label, rest, ok := strings.Cut(host, ".")
	for _, c := range certs {
		for _, name := range c.Names {
			name = naiveLower(strings.TrimSuffix(name, "."))
			if ok && label != "" && strings.HasPrefix(name, "*.") && name[2:] == rest {
				return c
			}
		}
	}
	return nil
}

// naiveLower works byte by byte: strings.ToLower would fold Unicode and
// rewrite invalid UTF-8, which SNI comparison must not do.
func naiveLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func FuzzGetCertificate(f *testing.F) {
	for _, seed := range []string{
		"", ".", "..", "www.example.com", "WWW.EXAMPLE.COM.", "x.example.com", "x.y.example.com",
		"example.com", "a.b.example.com", "API.example.com", "q.api.example.com", "a.", "a..",
		"*.example.com", "x.*.example.com", "*", "B\u00fccher.example", "x.XN--BCHER-KVA.example",
		"10.0.0.1", "::1", strings.Repeat("A", 300) + ".example.com", strings.Repeat("A", 300) + ".example.com..", "\xff.example.com",
	} {
		f.Add(seed)
	}
	certs := fuzzCerts()
	s, err := New(Config{Default: fakeCert("default")})
	if err != nil {
		f.Fatal(err)
	}
	s.Replace(certs)
	def := s.Default()

	f.Fuzz(func(t *testing.T, sni string) {
		want := naiveSelect(certs, sni)
		if want == nil {
			want = def
		}
		got, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
		if err != nil {
			t.Fatal(err)
		}
		if got != want.Cert {
			t.Fatalf("GetCertificate(%q) = %s, reference picks %s", sni, sourceOf(certs, def, got), want.Source)
		}
		if lookup := s.Lookup(sni); lookup != want {
			t.Fatalf("Lookup(%q) = %s, reference picks %s", sni, lookup.Source, want.Source)
		}
		if want != def && !want.Covers(sni) {
			t.Fatalf("%s is selected for %q but does not Cover it", want.Source, sni)
		}
	})
}

func sourceOf(certs []*Certificate, def *Certificate, cert *tls.Certificate) string {
	if def.Cert == cert {
		return def.Source
	}
	for _, c := range certs {
		if c.Cert == cert {
			return c.Source
		}
	}
	return "unknown"
}
