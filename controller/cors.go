package controller

import (
	"regexp"
	"strconv"
	"strings"

	"portico.dev/portico/router"
)

// ingress-nginx's CORS defaults and value checks
// (internal/ingress/annotations/cors): a value that fails its check falls
// back to the default, reported.
const (
	defaultCORSMethods = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
	defaultCORSHeaders = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
	defaultCORSMaxAge  = 1728000
)

var (
	corsOriginRE        = regexp.MustCompile(`^([a-z]+://(\*\.)?[A-Za-z0-9\-.]*(:\d+)?|\*|null)?$`)
	corsMethodsRE       = regexp.MustCompile(`^([A-Za-z]+,?\s?)+$`)
	corsHeadersRE       = regexp.MustCompile(`^[A-Za-z0-9-_, ]*$`)
	corsExposeHeadersRE = regexp.MustCompile(`^(([A-Za-z0-9\-\_]+|\*),?\s?)+$`)
)

// corsAnnotations: enable-cors and its cors-* settings, answered as
// ingress-nginx answers them (router.CORS.Static). Without enable-cors
// "true" the others do nothing.
var corsAnnotations = []annotationGroup{{
	names: []string{"enable-cors", "cors-allow-origin", "cors-allow-methods", "cors-allow-headers",
		"cors-expose-headers", "cors-allow-credentials", "cors-max-age"},
	nginx: true,
	parse: parseCORS,
}}

func parseCORS(a annotations, o *ingressOptions, bad badFunc) {
	on, _ := boolAnnotation(a, "enable-cors", bad)
	if !on {
		return
	}
	c := &router.CORS{Static: true, AllowCredentials: true, MaxAge: defaultCORSMaxAge,
		AllowMethods: []string{defaultCORSMethods}, AllowHeaders: []string{defaultCORSHeaders}}
	// A value of only blanks is no value: ingress-nginx trims it to ""
	// and falls back to "*" (parser.GetStringAnnotation).
	if v, ok := a.get("cors-allow-origin"); ok && strings.TrimSpace(v) != "" {
		for origin := range strings.SplitSeq(v, ",") {
			origin = strings.TrimSpace(origin)
			switch {
			case origin == "":
			case origin == "*":
				c.AllowOrigins = []string{"*"}
			case !corsOriginRE.MatchString(origin):
				bad("cors-allow-origin", "origin "+strconv.Quote(truncate(origin, 64))+" is not scheme://host[:port], *.host, * or null; it is skipped")
				continue
			default:
				c.AllowOrigins = append(c.AllowOrigins, origin)
			}
			if len(c.AllowOrigins) == 1 && c.AllowOrigins[0] == "*" {
				break
			}
		}
	} else {
		c.AllowOrigins = []string{"*"}
	}
	if v, ok := a.get("cors-allow-methods"); ok {
		if corsMethodsRE.MatchString(v) {
			c.AllowMethods = []string{v}
		} else {
			bad("cors-allow-methods", "want method names separated by commas")
		}
	}
	if v, ok := a.get("cors-allow-headers"); ok {
		if corsHeadersRE.MatchString(v) {
			c.AllowHeaders = []string{v}
		} else {
			bad("cors-allow-headers", "want header names separated by commas")
		}
	}
	if v, ok := a.get("cors-expose-headers"); ok {
		if corsExposeHeadersRE.MatchString(v) {
			c.ExposeHeaders = []string{v}
		} else {
			bad("cors-expose-headers", "want header names separated by commas")
		}
	}
	if _, ok := a.get("cors-allow-credentials"); ok {
		if b, ok := boolAnnotation(a, "cors-allow-credentials", bad); ok {
			c.AllowCredentials = b
		}
	}
	if v, ok := a.get("cors-max-age"); ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			c.MaxAge = n
		} else {
			bad("cors-max-age", "want a whole number of seconds")
		}
	}
	o.filters.CORS = c
}
