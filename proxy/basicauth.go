package proxy

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"net/http"
	"runtime"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"portico.dev/portico/router"
)

// basicAuth enforces HTTP Basic authentication (ingress-nginx auth-type:
// basic); false means the request was answered 401. As ingress-nginx
// does (proxy_set_header Authorization ""), the credentials are not sent
// upstream.
func (c *call) basicAuth(b *router.BasicAuth) bool {
	if c.basicAuthOK(b) {
		return true
	}
	h := c.w.Header()
	h.Set("WWW-Authenticate", b.Challenge)
	c.corsHeaders(h)
	c.fail(http.StatusUnauthorized, "401 Authorization Required") // a fixed body: nothing of the request
	return false
}

// basicAuthOK reports whether the request's credentials are a user's of
// b, taking the Authorization header off the request when they are.
func (c *call) basicAuthOK(b *router.BasicAuth) bool {
	r := c.in
	if user, pass, ok := r.BasicAuth(); ok && len(pass) <= maxPasswordLen {
		if h, found := b.Users[user]; found && checkPassword(r.Context(), &h, user, pass) {
			delete(r.Header, "Authorization")
			return true
		}
	}
	return false
}

// slowChecks bounds the bcrypt and MD5-crypt checks running at once to
// half the CPUs: a password guesser (or a high bcrypt cost) must not
// starve every other route of CPU. A check waits for a turn while its
// request lasts.
var slowChecks = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

// slowCheckWait bounds the wait for a turn (the HTTP/1 server does not
// cancel a request's context when its client leaves); maxPasswordLen
// refuses passwords no one types before any hashing: MD5-crypt's cost
// grows with the password's length (bcrypt reads 72 bytes).
const (
	slowCheckWait  = 2 * time.Second
	maxPasswordLen = 1024
)

// checkPassword compares pass with the stored hash in constant time (for
// the slow schemes, bcrypt and MD5-crypt, a recent success is remembered:
// see verified).
func checkPassword(ctx context.Context, h *router.PasswordHash, user, pass string) bool {
	switch h.Scheme {
	case router.HashBcrypt, router.HashAPR1, router.HashMD5:
		k := verified.key(h.Raw, user, pass)
		if verified.has(k) {
			return true
		}
		wait := time.NewTimer(slowCheckWait)
		select {
		case slowChecks <- struct{}{}:
			wait.Stop()
			defer func() { <-slowChecks }()
		case <-ctx.Done():
			wait.Stop()
			return false
		case <-wait.C:
			return false // busy: a 401, never a queue that grows without bound
		}
		var ok bool
		if h.Scheme == router.HashBcrypt {
			ok = bcrypt.CompareHashAndPassword([]byte(h.Raw), []byte(pass)) == nil
		} else {
			magic := "$apr1$"
			if h.Scheme == router.HashMD5 {
				magic = "$1$"
			}
			ok = subtle.ConstantTimeCompare(md5Crypt([]byte(pass), []byte(h.Salt), magic), []byte(h.Digest)) == 1
		}
		if ok {
			verified.add(k)
		}
		return ok
	case router.HashSHA:
		d := sha1.Sum([]byte(pass))
		return subtle.ConstantTimeCompare(d[:], []byte(h.Digest)) == 1
	case router.HashSSHA:
		s := sha1.New()
		s.Write([]byte(pass))
		s.Write([]byte(h.Salt))
		return subtle.ConstantTimeCompare(s.Sum(nil), []byte(h.Digest)) == 1
	case router.HashPlain:
		// Comparing digests keeps the time independent of the lengths.
		a, b := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(h.Digest))
		return subtle.ConstantTimeCompare(a[:], b[:]) == 1
	}
	return false
}

// credCacheGen bounds the verified-credentials cache: two generations of
// at most this many entries each.
const credCacheGen = 4096

// verified remembers credentials that passed a slow hash check, so that a
// client sending the same Authorization header on every request does not
// cost a bcrypt run (tens of milliseconds) each time. An entry is an
// HMAC, under a key made at start, of (stored hash, user, password): a
// changed or removed password (a new Secret version) never matches an old
// entry, and memory holds no fast, unkeyed hash of a password. Failures
// are not remembered: a guesser must not fill the cache.
var verified = newCredCache()

type credCache struct {
	secret   [32]byte
	mu       sync.Mutex
	cur, old map[[32]byte]struct{}
}

func newCredCache() *credCache {
	c := &credCache{cur: make(map[[32]byte]struct{})}
	_, _ = rand.Read(c.secret[:]) // never fails (crypto/rand)
	return c
}

func (c *credCache) key(stored, user, pass string) [32]byte {
	m := hmac.New(sha256.New, c.secret[:])
	var n [8]byte
	for _, s := range []string{stored, user} { // length-prefixed: no two triples collide
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	m.Write([]byte(pass))
	var k [32]byte
	m.Sum(k[:0])
	return k
}

func (c *credCache) has(k [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		return true
	}
	if _, ok := c.old[k]; ok {
		c.addLocked(k) // still in use: keep it past the next turnover
		return true
	}
	return false
}

func (c *credCache) add(k [32]byte) {
	c.mu.Lock()
	c.addLocked(k)
	c.mu.Unlock()
}

func (c *credCache) addLocked(k [32]byte) {
	if len(c.cur) >= credCacheGen {
		c.old, c.cur = c.cur, make(map[[32]byte]struct{}, credCacheGen/4)
	}
	c.cur[k] = struct{}{}
}

// md5Crypt is the MD5-based crypt of FreeBSD ($1$) and Apache ($apr1$,
// the same algorithm with another magic string); it returns the 22
// characters after the salt.
func md5Crypt(pw, salt []byte, magic string) []byte {
	if len(salt) > 8 {
		salt = salt[:8]
	}
	alt := md5.New()
	alt.Write(pw)
	alt.Write(salt)
	alt.Write(pw)
	altSum := alt.Sum(nil)

	ctx := md5.New()
	ctx.Write(pw)
	ctx.Write([]byte(magic))
	ctx.Write(salt)
	for n := len(pw); n > 0; n -= 16 {
		ctx.Write(altSum[:min(n, 16)])
	}
	for i := len(pw); i != 0; i >>= 1 {
		if i&1 != 0 {
			ctx.Write([]byte{0})
		} else {
			ctx.Write(pw[:1])
		}
	}
	final := ctx.Sum(nil)
	for i := 0; i < 1000; i++ {
		r := md5.New()
		if i&1 != 0 {
			r.Write(pw)
		} else {
			r.Write(final)
		}
		if i%3 != 0 {
			r.Write(salt)
		}
		if i%7 != 0 {
			r.Write(pw)
		}
		if i&1 != 0 {
			r.Write(final)
		} else {
			r.Write(pw)
		}
		final = r.Sum(final[:0])
	}
	const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	out := make([]byte, 0, 22)
	enc := func(v uint32, n int) {
		for ; n > 0; n-- {
			out = append(out, itoa64[v&0x3f])
			v >>= 6
		}
	}
	for _, t := range [][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		enc(uint32(final[t[0]])<<16|uint32(final[t[1]])<<8|uint32(final[t[2]]), 4)
	}
	enc(uint32(final[11]), 2)
	return out
}
