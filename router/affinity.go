package router

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Affinity is ingress-nginx cookie session affinity: the first response
// sets a cookie naming the endpoint that served it (by a hash, never its
// address), and later requests carrying it go to that endpoint while it is
// in the backend and not failing.
type Affinity struct {
	Cookie   string // cookie name
	Path     string // "" for the route's path
	Domain   string
	MaxAge   int           // seconds; 0 for none
	Expires  time.Duration // added to the time of the response; 0 for none
	Secure   *bool         // nil: Secure when the request came over TLS
	SameSite http.SameSite // 0 for none
	// ConditionalSameSiteNone leaves SameSite=None out for the browsers
	// known to reject such cookies (SameSiteNoneIncompatible).
	ConditionalSameSiteNone bool `json:",omitempty"`
	// CanaryLegacy (affinity-canary-behavior: legacy) lets the canary
	// rules decide even for a request whose cookie names one of the two
	// backends; by default such a request stays with that backend.
	CanaryLegacy bool
	// ChangeOnFailure: a retry after a failed attempt replaces the cookie
	// with one naming the endpoint of the retry.
	ChangeOnFailure bool
}

// AffinityKey is what a cookie says of an endpoint of backend b: a hash of
// the backend's ID and the address, in hex.
func AffinityKey(backendID, addr string) string {
	h := sha256.Sum256([]byte(backendID + "\x00" + addr))
	return hex.EncodeToString(h[:12])
}

// AffinityBackendKey is what a cookie says of the backend it was set for
// (ingress-nginx's backend_key, after the "|").
func AffinityBackendKey(backendID string) string {
	h := sha256.Sum256([]byte(backendID))
	return hex.EncodeToString(h[:8])
}

// SameSiteNoneIncompatible reports whether a browser with this User-Agent
// rejects cookies with SameSite=None: Chrome 51 to 66 and Safari on iOS 12
// and macOS 10.14, by the same tests as ingress-nginx's same_site.lua
// (after https://www.chromium.org/updates/same-site/incompatible-clients).
func SameSiteNoneIncompatible(ua string) bool {
	switch {
	case strings.Contains(ua, "Chrome/4"), strings.Contains(ua, "Chrome/5"), strings.Contains(ua, "Chrome/6"):
		return true
	case strings.Contains(ua, "CPU iPhone OS 12"), strings.Contains(ua, "iPad; CPU OS 12"):
		return true
	}
	return strings.Contains(ua, "Macintosh") && strings.Contains(ua, "Intel Mac OS X 10_14") &&
		strings.Contains(ua, "Safari") && !strings.Contains(ua, "Chrome")
}
