package router

import (
	"net/http"
	"slices"
	"strings"
)

// ResponseRewrite changes what a backend's response says about the
// backend's own names, as nginx's proxy_redirect, proxy_cookie_domain and
// proxy_cookie_path do (ingress-nginx proxy-redirect-from/-to,
// proxy-cookie-domain, proxy-cookie-path). An empty From is off.
type ResponseRewrite struct {
	// RedirectFrom/To: a Location header starting with RedirectFrom, or
	// the URL of a Refresh header ("5; url=..."), gets RedirectTo instead
	// of that prefix.
	RedirectFrom, RedirectTo string `json:",omitempty"`
	// CookieDomainFrom/To: a Set-Cookie Domain attribute equal to
	// CookieDomainFrom (case-insensitively, a leading dot ignored)
	// becomes CookieDomainTo.
	CookieDomainFrom, CookieDomainTo string `json:",omitempty"`
	// CookiePathFrom/To: a Set-Cookie Path attribute starting with
	// CookiePathFrom gets CookiePathTo instead of that prefix.
	CookiePathFrom, CookiePathTo string `json:",omitempty"`
}

// Apply rewrites h in place.
func (rw *ResponseRewrite) Apply(h http.Header) {
	if rw.RedirectFrom != "" {
		if v := h["Location"]; len(v) == 1 {
			if rest, ok := strings.CutPrefix(v[0], rw.RedirectFrom); ok {
				h["Location"] = []string{rw.RedirectTo + rest}
			}
		}
		if v := h["Refresh"]; len(v) == 1 {
			if i := indexFold(v[0], "url="); i >= 0 {
				if rest, ok := strings.CutPrefix(v[0][i+4:], rw.RedirectFrom); ok {
					h["Refresh"] = []string{v[0][:i+4] + rw.RedirectTo + rest}
				}
			}
		}
	}
	if rw.CookieDomainFrom == "" && rw.CookiePathFrom == "" {
		return
	}
	var out []string // a copy, never an edit of a slice the backend's response may share
	for i, c := range h["Set-Cookie"] {
		if n := rw.cookie(c); n != c {
			if out == nil {
				out = slices.Clone(h["Set-Cookie"])
			}
			out[i] = n
		}
	}
	if out != nil {
		h["Set-Cookie"] = out
	}
}

// cookie rewrites the Domain and Path attributes of one Set-Cookie value.
func (rw *ResponseRewrite) cookie(c string) string {
	var b strings.Builder
	changed := false
	for i, attr := range strings.Split(c, ";") {
		out := attr
		if i > 0 {
			k, v, _ := strings.Cut(attr, "=")
			name := strings.TrimSpace(k)
			val := strings.TrimSpace(v)
			switch {
			case rw.CookieDomainFrom != "" && strings.EqualFold(name, "domain") &&
				strings.EqualFold(strings.TrimPrefix(val, "."), strings.TrimPrefix(rw.CookieDomainFrom, ".")):
				out, changed = k+"="+rw.CookieDomainTo, true
			case rw.CookiePathFrom != "" && strings.EqualFold(name, "path") && strings.HasPrefix(val, rw.CookiePathFrom):
				out, changed = k+"="+rw.CookiePathTo+val[len(rw.CookiePathFrom):], true
			}
			b.WriteByte(';')
		}
		b.WriteString(out)
	}
	if !changed {
		return c
	}
	return b.String()
}

// indexFold is strings.Index for an ASCII lower-case needle, ignoring
// the case of s.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(needle)], needle) {
			return i
		}
	}
	return -1
}
