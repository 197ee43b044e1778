package acmecache

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// objectName turns a cache key or host ("example.com", "acme_account+key",
// "<token>+http-01") into a valid object name (RFC 1123 subdomain): a
// readable part, with anything else than [a-z0-9-] made "-", and a hash of
// the exact key, because keys are case-sensitive (HTTP-01 tokens) and the
// readable part is not unique.
func objectName(prefix, key string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; i < len(key) && b.Len() < 200; i++ {
		switch c := key[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b.WriteByte(c)
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + ('a' - 'A'))
		default:
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(key))
	b.WriteByte('-')
	b.WriteString(hex.EncodeToString(sum[:6]))
	return b.String()
}
