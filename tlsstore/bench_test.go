package tlsstore

import (
	"crypto/tls"
	"fmt"
	"testing"
)

// BenchmarkGetCertificate measures the handshake lookup against sets of 10
// and 10,000 certificates, one in ten of them a wildcard, for each kind of
// outcome. All must report 0 allocs/op.
func BenchmarkGetCertificate(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		s := newTestStore(b, Config{})
		certs := make([]*Certificate, n)
		for i := range certs {
			name := fmt.Sprintf("host%d.example.com", i)
			if i%10 == 0 {
				name = fmt.Sprintf("*.zone%d.example.com", i)
			}
			certs[i] = fakeCert(name, name)
		}
		s.Replace(certs)
		kinds := []struct{ name, sni string }{
			{"exact", fmt.Sprintf("host%d.example.com", n-1)},
			{"wildcard", fmt.Sprintf("app.zone%d.example.com", n/10*10-10)},
			{"mixedcase", fmt.Sprintf("Host%d.Example.COM", n-1)},
			{"miss", "unknown.example.org"},
		}
		for _, k := range kinds {
			b.Run(fmt.Sprintf("hosts=%d/%s", n, k.name), func(b *testing.B) {
				hello := &tls.ClientHelloInfo{ServerName: k.sni}
				if got, _ := s.GetCertificate(hello); (got == s.Default().Cert) != (k.name == "miss") {
					b.Fatalf("%s: unexpected selection for %q", k.name, k.sni)
				}
				b.ReportAllocs()
				for b.Loop() {
					s.GetCertificate(hello)
				}
			})
		}
	}
}
