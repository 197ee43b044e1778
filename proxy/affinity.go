package proxy

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"portico.dev/portico/router"
)

// toCanary decides between a route's canary and main backend. With cookie
// affinity (not legacy), a cookie set for one of the two keeps the client
// there, as ingress-nginx balancer.lua is_affinitized does.
func (c *call) toCanary(cn *router.Canary) bool {
	if a := c.route.Options.Affinity; a != nil && !a.CanaryLegacy && !cn.AffinityLegacy {
		if ck, err := c.in.Cookie(a.Cookie); err == nil {
			_, bk, _ := strings.Cut(ck.Value, "|")
			if main := c.route.Backend; main != nil && bk == router.AffinityBackendKey(main.ID) {
				return false
			}
			if cn.Backend != nil && bk == router.AffinityBackendKey(cn.Backend.ID) {
				return true
			}
		}
	}
	return cn.Chooses(c.in, rand.Uint64())
}

// stickyPick is balancer.pick for a route with cookie affinity: the
// endpoint the request's cookie names, while it is in the backend and not
// in back-off; else a new pick, and a Set-Cookie naming it.
func (c *call) stickyPick(a *router.Affinity) *endpoint {
	b, be := c.p.balancer, c.backend
	bk := router.AffinityBackendKey(be.ID)
	if ck, err := c.in.Cookie(a.Cookie); err == nil && len(be.Endpoints) > 0 {
		if key, cbk, _ := strings.Cut(ck.Value, "|"); cbk == bk {
			now := monotime()
			for _, e := range b.list(b.stateFor(be), be) {
				if e.downUntil.Load() <= now && router.AffinityKey(be.ID, e.addr) == key {
					return e
				}
			}
		}
	}
	e := b.pick(be, c.route.Options.Balance, nil)
	if e == nil {
		return nil
	}
	c.setAffinity(a, e)
	return e
}

// setAffinity sets the cookie naming endpoint e of c.backend, replacing
// one set before for an earlier attempt; the attributes are those of
// ingress-nginx sticky.lua set_cookie.
func (c *call) setAffinity(a *router.Affinity, e *endpoint) {
	ck := http.Cookie{Name: a.Cookie, Value: router.AffinityKey(c.backend.ID, e.addr) + "|" + router.AffinityBackendKey(c.backend.ID),
		Path: a.Path, MaxAge: a.MaxAge, HttpOnly: true, SameSite: a.SameSite,
		Secure: c.p.cfg.Scheme == "https"}
	if ck.Path == "" {
		ck.Path = c.route.Path
	}
	if a.Secure != nil {
		ck.Secure = *a.Secure
	}
	if ck.SameSite == http.SameSiteNoneMode && a.ConditionalSameSiteNone && router.SameSiteNoneIncompatible(c.in.UserAgent()) {
		ck.SameSite = 0
	}
	if a.Expires > 0 {
		ck.Expires = time.Now().Add(a.Expires)
	}
	h := c.w.Header()
	h["Set-Cookie"] = slices.DeleteFunc(h["Set-Cookie"], func(v string) bool { return strings.HasPrefix(v, a.Cookie+"=") })
	v := ck.String()
	if a.Domain != "" {
		// As given (the compiler checked it), a leading dot kept, as
		// lua-resty-cookie writes it; Cookie.String would drop the dot.
		v += "; Domain=" + a.Domain
	}
	h.Add("Set-Cookie", v)
}
