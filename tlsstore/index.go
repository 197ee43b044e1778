package tlsstore

import (
	"bytes"
	"strings"
)

// index is an immutable name → certificate lookup built by [Store.Replace].
// It is never modified after publication, so handshakes read it without
// locks.
type index struct {
	certs []*Certificate          // as given to Replace, for /debug
	exact map[string]*Certificate // "www.example.com"
	wild  map[string]*Certificate // "example.com" for SAN "*.example.com"
}

// buildIndex indexes certs in priority order: the first certificate to claim
// a name keeps it. Exact and wildcard names live in separate maps because an
// exact SAN beats a wildcard one regardless of slice order.
func buildIndex(certs []*Certificate) *index {
	ix := &index{
		certs: make([]*Certificate, 0, len(certs)),
		exact: make(map[string]*Certificate, len(certs)),
		wild:  make(map[string]*Certificate),
	}
	for _, c := range certs {
		if c == nil || c.Cert == nil {
			continue // nothing to serve; skipping beats a nil handshake later
		}
		ix.certs = append(ix.certs, c)
		for _, name := range c.Names {
			name = normalizeName(name)
			if name == "" {
				continue
			}
			m, key := ix.exact, name
			if rest, ok := strings.CutPrefix(name, "*."); ok {
				m, key = ix.wild, rest
			}
			if _, taken := m[key]; !taken {
				m[key] = c
			}
		}
	}
	return ix
}

// maxStackName bounds the SNI lengths lower-cased in a stack buffer. DNS
// names are at most 253 bytes, so only junk SNI values take the allocating
// fallback.
const maxStackName = 256

// match returns the certificate covering host, or nil. host may be in any
// case and may carry one trailing dot.
func (ix *index) match(host string) *Certificate {
	host = strings.TrimSuffix(host, ".")
	switch {
	case host == "" || ix == nil:
		return nil
	case !hasUpperASCII(host):
		return ix.matchLower(host)
	case len(host) > maxStackName:
		return ix.matchLower(lowerString(host)) // host is already trimmed
	}
	// Lower-case into a stack buffer: the map lookups below convert it with
	// string(b), which the compiler does without allocating.
	var buf [maxStackName]byte
	b := buf[:copy(buf[:], host)]
	lowerASCII(b)
	if c := ix.exact[string(b)]; c != nil {
		return c
	}
	if i := bytes.IndexByte(b, '.'); i > 0 {
		return ix.wild[string(b[i+1:])]
	}
	return nil
}

// matchLower is match for an already normalized host; it must stay in step
// with the byte-slice branch of match.
func (ix *index) matchLower(host string) *Certificate {
	if c := ix.exact[host]; c != nil {
		return c
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		return ix.wild[host[i+1:]]
	}
	return nil
}
