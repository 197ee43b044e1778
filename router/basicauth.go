package router

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// BasicAuth is HTTP Basic authentication (ingress-nginx auth-type: basic):
// a request passes when its Authorization header names a user of Users
// with that user's password; otherwise it is answered 401 with Challenge
// as WWW-Authenticate. The Authorization header is not sent upstream.
type BasicAuth struct {
	// Challenge is the whole WWW-Authenticate value, built from a
	// validated realm: `Basic realm="..."`.
	Challenge string
	// Users by name. A user whose hash Portico cannot check is left out
	// (that user gets 401), as nginx refuses a hash it cannot verify.
	Users map[string]PasswordHash `json:"-"`
}

// PasswordScheme is how a PasswordHash is checked.
type PasswordScheme uint8

const (
	HashBcrypt PasswordScheme = iota + 1 // $2a$, $2b$, $2y$
	HashAPR1                             // $apr1$: Apache's MD5
	HashMD5                              // $1$: MD5-crypt (the same algorithm, another magic)
	HashSHA                              // {SHA}: base64(SHA-1(password))
	HashSSHA                             // {SSHA}: base64(SHA-1(password+salt)+salt)
	HashPlain                            // {PLAIN}: the password itself
)

// PasswordHash is one user's stored password, parsed once.
type PasswordHash struct {
	Scheme PasswordScheme
	// Raw is the stored string as written in the htpasswd line.
	Raw string
	// Salt and Digest: for $apr1$/$1$ the salt and the 22-character
	// digest; for {SHA}/{SSHA} the decoded digest (Salt for {SSHA}); for
	// {PLAIN} Digest is the password.
	Salt, Digest string
}

// MaxBcryptCost is the highest bcrypt cost accepted, the highest
// htpasswd -C makes; each step doubles the time of a check, and a Secret's
// author must not be able to tie up the proxy's CPUs.
const MaxBcryptCost = 17

// ParsePasswordHash reads the hash part of an htpasswd line in the forms
// nginx's auth_basic checks itself or with crypt(3): bcrypt, $apr1$,
// $1$, {SHA}, {SSHA} and {PLAIN}. Other crypt(3) forms (DES, $5$, $6$)
// are refused.
func ParsePasswordHash(s string) (PasswordHash, error) {
	h := PasswordHash{Raw: s}
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil || len(s) != 60 {
			return h, errors.New("malformed bcrypt hash")
		}
		if cost > MaxBcryptCost {
			return h, errors.New("bcrypt cost above 17 (htpasswd's highest): one check would hold a CPU for many seconds")
		}
		h.Scheme = HashBcrypt
	case strings.HasPrefix(s, "$apr1$"), strings.HasPrefix(s, "$1$"):
		h.Scheme = HashAPR1
		rest, ok := strings.CutPrefix(s, "$apr1$")
		if !ok {
			h.Scheme, rest = HashMD5, s[len("$1$"):]
		}
		salt, digest, ok := strings.Cut(rest, "$")
		if !ok || len(salt) > 8 || len(digest) != 22 || !cryptAlphabet(digest) {
			return h, errors.New("malformed MD5 hash")
		}
		h.Salt, h.Digest = salt, digest
	case strings.HasPrefix(s, "{SHA}"):
		d, err := base64.StdEncoding.DecodeString(s[len("{SHA}"):])
		if err != nil || len(d) != sha1.Size {
			return h, errors.New("malformed {SHA} hash")
		}
		h.Scheme, h.Digest = HashSHA, string(d)
	case strings.HasPrefix(s, "{SSHA}"):
		d, err := base64.StdEncoding.DecodeString(s[len("{SSHA}"):])
		if err != nil || len(d) < sha1.Size {
			return h, errors.New("malformed {SSHA} hash")
		}
		h.Scheme, h.Digest, h.Salt = HashSSHA, string(d[:sha1.Size]), string(d[sha1.Size:])
	case strings.HasPrefix(s, "{PLAIN}"):
		h.Scheme, h.Digest = HashPlain, s[len("{PLAIN}"):]
	case s == "":
		return h, errors.New("empty password hash")
	default:
		return h, errors.New("unsupported hash (use bcrypt, $apr1$, $1$, {SHA}, {SSHA} or {PLAIN})")
	}
	return h, nil
}

// cryptAlphabet: the characters of crypt's base64 ("./0-9A-Za-z").
func cryptAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '/' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
