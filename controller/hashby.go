package controller

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"portico.dev/portico/router"
)

// hashByAnnotations is ingress-nginx upstream-hash-by.
var hashByAnnotations = []annotationGroup{
	{names: []string{"upstream-hash-by", "upstream-hash-by-subset", "upstream-hash-by-subset-size"}, nginx: true,
		parse: func(a annotations, o *ingressOptions, bad badFunc) {
			v, ok := a.get("upstream-hash-by")
			if !ok {
				return // the subset settings alone do nothing, as in ingress-nginx
			}
			h, err := parseHashBy(v)
			if err != nil {
				bad("upstream-hash-by", err.Error())
				return
			}
			if subset, _ := boolAnnotation(a, "upstream-hash-by-subset", bad); subset {
				h.SubsetSize = defaultSubsetSize
				if v, ok := a.get("upstream-hash-by-subset-size"); ok {
					// ingress-nginx: 0 means the default.
					if n, err := strconv.Atoi(v); err != nil || n < 0 || n > maxSubsetSize {
						bad("upstream-hash-by-subset-size", fmt.Sprintf("want a whole number from 1 to %d", maxSubsetSize))
					} else if n > 0 {
						h.SubsetSize = n
					}
				}
			}
			o.route.HashBy = h
		}},
}

// ingress-nginx's default subset size, and Portico's bound.
const defaultSubsetSize, maxSubsetSize = 3, 1000

// hashVars are the nginx variables upstream-hash-by may use.
var hashVars = map[string]router.HashKind{
	"request_uri": router.HashRequestURI, "uri": router.HashURI, "document_uri": router.HashURI,
	"host": router.HashHost, "remote_addr": router.HashRemoteAddr, "binary_remote_addr": router.HashRemoteAddr,
	"args": router.HashArgs, "query_string": router.HashArgs, "scheme": router.HashScheme,
	"request_method": router.HashMethod,
}

// parseHashBy reads nginx variables ($name or ${name}) and text into
// typed parts; nothing is ever evaluated. A variable outside hashVars and
// $http_, $cookie_, $arg_ is an error.
func parseHashBy(s string) (*router.HashBy, error) {
	if s == "" || len(s) > 256 {
		return nil, fmt.Errorf("want nginx variables such as $request_uri, $host, $remote_addr, $http_<name>, $cookie_<name>, $arg_<name>, with optional text")
	}
	var h router.HashBy
	text := func(t string) {
		if t != "" {
			h.Parts = append(h.Parts, router.HashPart{Kind: router.HashText, Name: t})
		}
	}
	for s != "" {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			text(s)
			break
		}
		text(s[:i])
		s = s[i+1:]
		var name string
		if strings.HasPrefix(s, "{") {
			j := strings.IndexByte(s, '}')
			if j < 0 {
				return nil, fmt.Errorf("unclosed ${")
			}
			name, s = s[1:j], s[j+1:]
		} else {
			j := 0
			for j < len(s) && (s[j] == '_' || 'a' <= s[j] && s[j] <= 'z' || 'A' <= s[j] && s[j] <= 'Z' || '0' <= s[j] && s[j] <= '9') {
				j++
			}
			name, s = s[:j], s[j:]
		}
		p, err := hashVar(name)
		if err != nil {
			return nil, err
		}
		h.Parts = append(h.Parts, p)
	}
	for _, p := range h.Parts {
		if p.Kind != router.HashText {
			return &h, nil
		}
	}
	return nil, fmt.Errorf("no variable: every request would go to one endpoint")
}

func hashVar(name string) (router.HashPart, error) {
	if k, ok := hashVars[name]; ok {
		return router.HashPart{Kind: k}, nil
	}
	for prefix, k := range map[string]router.HashKind{"http_": router.HashHeader, "cookie_": router.HashCookie, "arg_": router.HashArg} {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || rest == "" || !validToken(rest) {
			continue
		}
		if k == router.HashHeader {
			rest = http.CanonicalHeaderKey(strings.ReplaceAll(rest, "_", "-"))
		}
		return router.HashPart{Kind: k, Name: rest}, nil
	}
	return router.HashPart{}, fmt.Errorf("unsupported variable $%s (supported: $request_uri, $uri, $host, $remote_addr, $args, $scheme, $request_method, $http_<name>, $cookie_<name>, $arg_<name>)", truncate(name, 32))
}
