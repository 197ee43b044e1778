package controller

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"portico.dev/portico/router"
)

// Annotation names are a contract with users: never rename one.
const (
	annLoadBalance       = "portico.dev/load-balance"
	annNextUpstreamTries = "portico.dev/proxy-next-upstream-tries"
	annConnectTimeout    = "portico.dev/proxy-connect-timeout"
	annReadTimeout       = "portico.dev/proxy-read-timeout"
	annSendTimeout       = "portico.dev/proxy-send-timeout"
	annBodySize          = "portico.dev/proxy-body-size"
	annBackendProtocol   = "portico.dev/backend-protocol"
	annUpstreamHost      = "portico.dev/upstream-host"
	annSSLRedirect       = "portico.dev/ssl-redirect"
	annForceSSLRedirect  = "portico.dev/force-ssl-redirect"
	annHSTS              = "portico.dev/hsts"
	annACME              = "portico.dev/acme"
)

// Limits that keep an annotation from turning into a denial of service.
const (
	maxTimeout = 24 * time.Hour
	maxTries   = 10
)

// ingressOptions is what an Ingress's annotations say, parsed once per build.
type ingressOptions struct {
	route         router.Options
	forceRedirect bool // redirect even hosts without a TLS section
	redirectSet   bool // ssl-redirect was given explicitly
	acme          bool
}

// parseAnnotations never fails as a whole: an invalid value is reported and
// that one setting keeps its default, so a typo cannot take a route down.
func parseAnnotations(ann map[string]string) (ingressOptions, []string) {
	var o ingressOptions
	o.route.SSLRedirect = true // applied only to hosts with TLS, see compile
	var errs []string
	bad := func(key, val, why string) {
		errs = append(errs, fmt.Sprintf("annotation %s: invalid value %q: %s; using the default", key, truncate(val, 64), why))
	}
	for key, val := range ann {
		if !strings.HasPrefix(key, "portico.dev/") {
			continue
		}
		switch key {
		case annLoadBalance:
			switch val {
			case "round-robin":
				o.route.Balance = router.RoundRobin
			case "least-request":
				o.route.Balance = router.LeastRequest
			default:
				bad(key, val, `want "round-robin" or "least-request"`)
			}
		case annNextUpstreamTries:
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > maxTries {
				bad(key, val, fmt.Sprintf("want a whole number from 1 to %d", maxTries))
				continue
			}
			o.route.NextUpstreamTries = n
		case annConnectTimeout, annReadTimeout, annSendTimeout:
			d, err := parseTimeout(val)
			if err != nil {
				bad(key, val, err.Error())
				continue
			}
			switch key {
			case annConnectTimeout:
				o.route.ConnectTimeout = d
			case annReadTimeout:
				o.route.ReadTimeout = d
			default:
				o.route.SendTimeout = d
			}
		case annBodySize:
			n, err := parseSize(val)
			if err != nil {
				bad(key, val, err.Error())
				continue
			}
			o.route.MaxBodyBytes = n
		case annBackendProtocol:
			p, ok := parseProtocol(val)
			if !ok {
				bad(key, val, "want one of http, https, h2c, grpc, grpcs")
				continue
			}
			o.route.Protocol = p
		case annUpstreamHost:
			if !validHost(val) {
				bad(key, val, "want a DNS name, optionally with :port")
				continue
			}
			o.route.UpstreamHost = val
		case annSSLRedirect, annForceSSLRedirect, annACME:
			b, err := strconv.ParseBool(val)
			if err != nil {
				bad(key, val, `want "true" or "false"`)
				continue
			}
			switch key {
			case annSSLRedirect:
				o.route.SSLRedirect, o.redirectSet = b, true
			case annForceSSLRedirect:
				o.forceRedirect = b
			default:
				o.acme = b
			}
		case annHSTS:
			h, err := parseHSTS(val)
			if err != nil {
				bad(key, val, err.Error())
				continue
			}
			o.route.HSTS = h
		default:
			errs = append(errs, fmt.Sprintf("unknown annotation %s is ignored", truncate(key, 80)))
		}
	}
	return o, errs
}

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		// Bare numbers are seconds, as in other controllers' annotations.
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, fmt.Errorf(`want a duration such as "30s" or "2m"`)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 || d > maxTimeout {
		return 0, fmt.Errorf("want a duration above 0 and at most %s", maxTimeout)
	}
	return d, nil
}

// parseSize reads "0" (unlimited), "1024", "8k", "10m", "1g" (binary units).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.ToLower(s)
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'k':
			mult, num = 1<<10, num[:n-1]
		case 'm':
			mult, num = 1<<20, num[:n-1]
		case 'g':
			mult, num = 1<<30, num[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > (1<<40)/mult {
		return 0, fmt.Errorf(`want a size such as "0" (unlimited), "512k", "8m" or "1g"`)
	}
	return v * mult, nil
}

func parseProtocol(s string) (router.Protocol, bool) {
	for p := router.HTTP; p <= router.GRPCS; p++ {
		if p.String() == strings.ToLower(s) {
			return p, true
		}
	}
	return 0, false
}

// parseHSTS takes "max-age=31536000; includeSubDomains; preload" (or just a
// number of seconds) and returns a canonical header value. User text is never
// copied into the header: only the parsed parts are written back.
func parseHSTS(s string) (string, error) {
	var maxAge int64 = -1
	var sub, preload bool
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.EqualFold(part, "includeSubDomains"):
			sub = true
		case strings.EqualFold(part, "preload"):
			preload = true
		case strings.HasPrefix(strings.ToLower(part), "max-age="):
			v, err := strconv.ParseInt(part[len("max-age="):], 10, 64)
			if err != nil || v < 0 {
				return "", fmt.Errorf("max-age must be a whole number of seconds")
			}
			maxAge = v
		default:
			if v, err := strconv.ParseInt(part, 10, 64); err == nil && v >= 0 && maxAge < 0 {
				maxAge = v
				continue
			}
			return "", fmt.Errorf(`want "max-age=SECONDS[; includeSubDomains][; preload]"`)
		}
	}
	if maxAge < 0 {
		return "", fmt.Errorf("max-age is required")
	}
	h := "max-age=" + strconv.FormatInt(maxAge, 10)
	if sub {
		h += "; includeSubDomains"
	}
	if preload {
		h += "; preload"
	}
	return h, nil
}

// validHost accepts a DNS name with an optional port; it guards the Host
// header Portico sends upstream against header injection.
func validHost(s string) bool {
	host, port, found := strings.Cut(s, ":")
	if found {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
