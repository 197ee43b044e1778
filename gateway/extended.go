package gateway

import (
	"fmt"
	"regexp"
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"portico.dev/portico/router"
)

// requestMirror compiles a RequestMirror filter. Its backendRef resolves
// like a rule's (kind, ReferenceGrant, Service and port): "If the referent
// cannot be found, this BackendRef is invalid and must be dropped from the
// Gateway. The controller must ensure the "ResolvedRefs" condition on the
// Route status is set to `status: False`". A dropped mirror leaves the
// rule serving.
func (t *translator) requestMirror(m *gwv1.HTTPRequestMirrorFilter, ns string) (router.Mirror, bool, issue) {
	b, bad := t.backend(m.BackendRef, "HTTPRoute", ns)
	if b == nil {
		return router.Mirror{}, false, bad
	}
	mirror := router.Mirror{Backend: b}
	// "If neither field is specified, 100% of requests will be mirrored."
	switch {
	case m.Percent != nil:
		mirror.Numerator, mirror.Denominator = uint32(min(max(*m.Percent, 0), 100)), 100
	case m.Fraction != nil:
		den := int32(100) // the CRD's default
		if m.Fraction.Denominator != nil && *m.Fraction.Denominator > 0 {
			den = *m.Fraction.Denominator
		}
		mirror.Numerator, mirror.Denominator = uint32(min(max(m.Fraction.Numerator, 0), den)), uint32(den)
	}
	return mirror, true, bad
}

// corsFilter compiles a CORS filter; the values are kept as written (the
// CRD validates them) and interpreted by router.CORS.
func corsFilter(c *gwv1.HTTPCORSFilter) *router.CORS {
	out := &router.CORS{MaxAge: int(c.MaxAge), AllowCredentials: c.AllowCredentials != nil && *c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		out.AllowOrigins = append(out.AllowOrigins, string(o))
	}
	for _, m := range c.AllowMethods {
		out.AllowMethods = append(out.AllowMethods, string(m))
	}
	for _, h := range c.AllowHeaders {
		out.AllowHeaders = append(out.AllowHeaders, string(h))
	}
	for _, h := range c.ExposeHeaders {
		out.ExposeHeaders = append(out.ExposeHeaders, string(h))
	}
	return out
}

// timeouts sets a rule's request and backendRequest timeouts on a copy of
// opts. "Setting a timeout to the zero duration (e.g. "0s") SHOULD disable
// the timeout completely": that is router.NoTimeout. An invalid duration
// (which the CRD's pattern should have refused) is reported.
func timeouts(tm *gwv1.HTTPRouteTimeouts, opts *router.Options) (*router.Options, issue) {
	var bad issue
	o := *opts
	set := func(field string, d *gwv1.Duration, to *time.Duration) {
		if d == nil {
			return
		}
		v, err := parseDuration(*d)
		if err != nil {
			bad.set(string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("timeouts.%s %q: %v", field, *d, err))
			return
		}
		if v == 0 {
			v = router.NoTimeout
		}
		*to = v
	}
	set("request", tm.Request, &o.RequestTimeout)
	set("backendRequest", tm.BackendRequest, &o.BackendTimeout)
	return &o, bad
}

// defaultRetryAttempts is a retry policy's attempts when it names none
// ("implementation-specific"): one retry, as Portico's default of two tries.
const defaultRetryAttempts = 1

// retry sets a rule's retry policy on a copy of opts.
func retry(r *gwv1.HTTPRouteRetry, opts *router.Options) (*router.Options, issue) {
	var bad issue
	o := *opts
	p := &router.RetryPolicy{Attempts: defaultRetryAttempts}
	for _, c := range r.Codes {
		p.Codes = append(p.Codes, int(c))
	}
	if r.Attempts != nil {
		p.Attempts = max(*r.Attempts, 0)
	}
	if r.Backoff != nil {
		d, err := parseDuration(*r.Backoff)
		if err != nil {
			bad.set(string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("retry.backoff %q: %v", *r.Backoff, err))
		} else {
			p.Backoff = d
		}
	}
	o.Retry = p
	return &o, bad
}

// gep2257 is the Gateway API Duration format (GEP-2257), "a strict subset
// of the syntax parsed by Golang time.ParseDuration".
var gep2257 = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

func parseDuration(d gwv1.Duration) (time.Duration, error) {
	if !gep2257.MatchString(string(d)) {
		return 0, fmt.Errorf("not a Gateway API duration (GEP-2257)")
	}
	return time.ParseDuration(string(d))
}
