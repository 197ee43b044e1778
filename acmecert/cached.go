package acmecert

import (
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"portico.dev/portico/tlsstore"
)

// parseCached reads a certificate as autocert stores it: the private key's
// PEM block first, then the chain. It is validated like a Secret's (key
// matches, within its validity) and must cover host.
func parseCached(data []byte, host string, now time.Time) (*tlsstore.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, errors.New("cache entry does not start with a private key")
	}
	c, err := tlsstore.Parse(rest, pem.EncodeToMemory(block), now)
	if err != nil {
		return nil, err
	}
	if !c.Covers(host) {
		return nil, fmt.Errorf("cached certificate covers %s, not %s", strings.Join(c.Names, ", "), host)
	}
	c.Source = "acme:" + host
	return c, nil
}
