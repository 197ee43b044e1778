package controller

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

// ingress-nginx's configuration-snippet and server-snippet are raw nginx
// configuration. Portico never copies them into any configuration: a
// snippet is tokenised with nginx's syntax and only a few directives are
// understood, each becoming a typed header edit or fixed answer. A snippet
// with anything else is refused as a whole (an InvalidAnnotation problem
// naming the directive); the Ingress's routes work without it.

// Limits that keep a snippet small enough to read at every build.
const (
	maxSnippetBytes      = 16 << 10
	maxSnippetDirectives = 100
)

// snippetDirectives lists the directives Portico runs, for messages.
const snippetDirectives = "add_header, more_set_headers, more_clear_headers, more_set_input_headers, more_clear_input_headers, proxy_set_header, return"

// directive is one nginx directive: its name and arguments, quotes and
// escapes resolved, and the line it starts on (from 1).
type directive struct {
	Name string
	Args []string
	Line int
}

// tokenizeSnippet splits nginx configuration into directives with
// ngx_conf_read_token's rules: a directive is words up to ";"; words are
// separated by whitespace; a word starting with a single or double quote
// runs to the matching quote; a backslash escapes the next character
// (\t, \r and \n stand for tab, CR and LF; \", \' and \\ for the
// character; other pairs are kept as they are: unquoted a\ b is the one
// word a\ b); "#" at the start of a word comments out the rest of the
// line. A quote inside an unquoted word is refused (nginx takes it
// literally). Blocks ("{") are refused with the directive that
// opens them named: Portico has no locations or conditions of its own.
func tokenizeSnippet(s string) ([]directive, error) {
	var out []directive
	var cur directive
	line := 1
	i := 0
	for i < len(s) {
		c := s[i]
		switch c {
		case '\n':
			line++
			i++
			continue
		case ' ', '\t', '\r', '\f', '\v':
			i++
			continue
		case '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		case ';':
			if cur.Name == "" {
				return nil, fmt.Errorf(`line %d: unexpected ";"`, line)
			}
			out = append(out, cur)
			if len(out) > maxSnippetDirectives {
				return nil, fmt.Errorf("more than %d directives", maxSnippetDirectives)
			}
			cur = directive{}
			i++
			continue
		case '{':
			if cur.Name == "" {
				return nil, fmt.Errorf(`line %d: unexpected "{"`, line)
			}
			return nil, fmt.Errorf("line %d: block directive %q is not supported (no blocks: location, if, ... are nginx's own)",
				line, truncate(cur.Name, 32))
		case '}':
			return nil, fmt.Errorf(`line %d: unexpected "}"`, line)
		}
		start := line
		word, n, nl, err := readWord(s[i:])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", start, err)
		}
		i += n
		line += nl
		if cur.Name == "" {
			cur = directive{Name: word, Line: start}
		} else {
			cur.Args = append(cur.Args, word)
		}
	}
	if cur.Name != "" {
		return nil, fmt.Errorf(`line %d: directive %q does not end with ";"`, cur.Line, truncate(cur.Name, 32))
	}
	return out, nil
}

// readWord reads one word from the start of s; it returns the word, the
// bytes it took and the newlines in them.
func readWord(s string) (word string, n, lines int, err error) {
	var b strings.Builder
	quote := byte(0)
	if s[0] == '"' || s[0] == '\'' {
		quote = s[0]
		n = 1
	}
	for n < len(s) {
		c := s[n]
		switch {
		case c == '\\' && n+1 < len(s):
			switch e := s[n+1]; e {
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case '"', '\'', '\\':
				b.WriteByte(e)
			default:
				// Kept as written, backslash included; escaped, a
				// separator is part of the word.
				if e == '\n' {
					lines++
				}
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			n += 2
			continue
		case quote != 0 && c == quote:
			n++
			if n < len(s) {
				switch s[n] {
				case ' ', '\t', '\r', '\n', '\f', '\v', ';', '{', '}':
				default:
					return "", 0, 0, fmt.Errorf("unexpected %q after a quoted string", s[n])
				}
			}
			return b.String(), n, lines, nil
		case quote == 0:
			switch c {
			case ' ', '\t', '\r', '\n', '\f', '\v', ';', '{', '}':
				return b.String(), n, lines, nil
			case '"', '\'':
				return "", 0, 0, fmt.Errorf("unexpected quote inside a word")
			}
		}
		if c == '\n' {
			lines++
		}
		b.WriteByte(c)
		n++
	}
	if quote != 0 {
		return "", 0, 0, fmt.Errorf("unterminated %c-quoted string", quote)
	}
	return b.String(), n, lines, nil
}

// quoteArg writes an argument so that tokenizeSnippet reads it back as it is.
func quoteArg(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// snippetOpKind is what one understood directive does.
type snippetOpKind uint8

const (
	opSetResponse   snippetOpKind = iota // more_set_headers "Name: Value"
	opClearResponse                      // more_clear_headers Name, or more_set_headers "Name:"; Name may end in "*"
	opAddResponse                        // add_header Name Value [always]
	opSetRequest                         // proxy_set_header Name Value, more_set_input_headers "Name: Value" ("" removes)
	opClearRequest                       // more_clear_input_headers Name; Name may end in "*"
	opReturn                             // return code [text|URL]
)

// snippetOp is one directive of a snippet, checked and typed.
type snippetOp struct {
	kind   snippetOpKind
	name   string // header name, canonical; for opReturn the body or URL
	value  string
	always bool // add_header ... always
	status int  // opReturn
}

// snippet is a parsed snippet: its operations in order.
type snippet struct{ ops []snippetOp }

// parseSnippet parses a snippet's text; an error names the first directive
// that cannot be run.
func parseSnippet(s string) (*snippet, error) {
	if len(s) > maxSnippetBytes {
		return nil, fmt.Errorf("longer than %d bytes", maxSnippetBytes)
	}
	ds, err := tokenizeSnippet(s)
	if err != nil {
		return nil, err
	}
	sn := &snippet{}
	for _, d := range ds {
		ops, err := snippetOps(d)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %v", d.Line, truncate(d.Name, 32), err)
		}
		sn.ops = append(sn.ops, ops...)
	}
	return sn, nil
}

// snippetOps checks one directive.
func snippetOps(d directive) ([]snippetOp, error) {
	for _, a := range d.Args {
		if strings.IndexByte(a, '$') >= 0 {
			return nil, fmt.Errorf("nginx variables ($host, $request_uri, ...) are not supported: Portico does not template values")
		}
	}
	switch d.Name {
	case "add_header":
		if len(d.Args) < 2 || len(d.Args) > 3 || len(d.Args) == 3 && d.Args[2] != "always" {
			return nil, fmt.Errorf(`want add_header NAME VALUE [always]`)
		}
		if err := checkHeader(d.Args[0], d.Args[1], true); err != nil {
			return nil, err
		}
		if d.Args[1] == "" {
			return nil, nil // nginx adds nothing for an empty value
		}
		return []snippetOp{{kind: opAddResponse, name: http.CanonicalHeaderKey(d.Args[0]), value: d.Args[1], always: len(d.Args) == 3}}, nil
	case "more_set_headers", "more_set_input_headers":
		if len(d.Args) == 0 {
			return nil, fmt.Errorf(`want %s "NAME: VALUE" ...`, d.Name)
		}
		response := d.Name == "more_set_headers"
		set, clear := opSetResponse, opClearResponse
		if !response {
			set, clear = opSetRequest, opClearRequest
		}
		var ops []snippetOp
		for _, a := range d.Args {
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("option %q is not supported (no -s, -t, -a or -r)", truncate(a, 16))
			}
			name, value, _ := strings.Cut(a, ":")
			name, value = strings.TrimSpace(name), strings.TrimSpace(value)
			if err := checkHeader(name, value, response); err != nil {
				return nil, err
			}
			if value == "" { // "Name:" and "Name" clear the header (headers-more)
				ops = append(ops, snippetOp{kind: clear, name: http.CanonicalHeaderKey(name)})
				continue
			}
			ops = append(ops, snippetOp{kind: set, name: http.CanonicalHeaderKey(name), value: value})
		}
		return ops, nil
	case "more_clear_headers", "more_clear_input_headers":
		if len(d.Args) == 0 {
			return nil, fmt.Errorf(`want %s NAME ...`, d.Name)
		}
		response := d.Name == "more_clear_headers"
		kind := opClearResponse
		if !response {
			kind = opClearRequest
		}
		var ops []snippetOp
		for _, a := range d.Args {
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("option %q is not supported (no -s or -t)", truncate(a, 16))
			}
			name, wild := strings.CutSuffix(a, "*")
			if err := checkHeader(name, "", response); err != nil {
				return nil, err
			}
			if wild {
				if h := wildcardFraming(name); h != "" {
					return nil, fmt.Errorf("%q would clear %s, which a snippet cannot touch", truncate(a, 32), h)
				}
			}
			if name != a {
				name = http.CanonicalHeaderKey(name) + "*"
			} else {
				name = http.CanonicalHeaderKey(name)
			}
			ops = append(ops, snippetOp{kind: kind, name: name})
		}
		return ops, nil
	case "proxy_set_header":
		if len(d.Args) != 2 {
			return nil, fmt.Errorf(`want proxy_set_header NAME VALUE`)
		}
		if err := checkHeader(d.Args[0], d.Args[1], false); err != nil {
			return nil, err
		}
		return []snippetOp{{kind: opSetRequest, name: http.CanonicalHeaderKey(d.Args[0]), value: d.Args[1]}}, nil
	case "return":
		return returnOp(d.Args)
	}
	return nil, fmt.Errorf("directive %q is not supported (Portico runs only %s)", truncate(d.Name, 32), snippetDirectives)
}

// returnOp reads "return code [text|URL]" and "return URL", as nginx does:
// 301, 302, 303, 307 and 308 with a URL redirect to it, a bare URL
// redirects with 302, other codes answer with the text as the body.
func returnOp(args []string) ([]snippetOp, error) {
	if len(args) == 1 && (strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://")) {
		args = []string{"302", args[0]}
	}
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("want return CODE [TEXT|URL] or return URL")
	}
	code, err := strconv.Atoi(args[0])
	if err != nil || code < 200 || code > 599 || code == 444 {
		return nil, fmt.Errorf("want a status code from 200 to 599 (444, nginx's close without an answer, is not one)")
	}
	op := snippetOp{kind: opReturn, status: code}
	if len(args) == 2 {
		op.name = args[1]
	}
	switch code {
	case 301, 302, 303, 307, 308:
		if op.name == "" || !httpguts.ValidHeaderFieldValue(op.name) {
			return nil, fmt.Errorf("a redirect needs a URL without control characters")
		}
	case 204, 304:
		if op.name != "" {
			return nil, fmt.Errorf("status %d has no body", code)
		}
	}
	return []snippetOp{op}, nil
}

// framingHeaders are headers a snippet may not touch: they frame the
// message or the connection, and a wrong value corrupts the stream.
var framingHeaders = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Upgrade": true, "Te": true, "Trailer": true, "Proxy-Connection": true}

// wildcardFraming is a framing header (or Content-Encoding, which says how
// the body is coded) that the wildcard clear prefix* would remove, "" if
// none: "Conn*" must not take Connection, nor "Content-*" Content-Encoding.
func wildcardFraming(prefix string) string {
	p := strings.ToLower(prefix)
	for _, h := range slices.Sorted(maps.Keys(framingHeaders)) { // the same message every build
		if strings.HasPrefix(strings.ToLower(h), p) {
			return h
		}
	}
	if strings.HasPrefix("content-encoding", p) {
		return "Content-Encoding"
	}
	return ""
}

func checkHeader(name, value string, response bool) error {
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("%q is not a header name", truncate(name, 32))
	}
	if framingHeaders[http.CanonicalHeaderKey(name)] {
		return fmt.Errorf("header %s cannot be set by a snippet", http.CanonicalHeaderKey(name))
	}
	if !response && strings.EqualFold(name, "Host") {
		return fmt.Errorf("the Host header is set with the upstream-vhost annotation")
	}
	if !response && strings.EqualFold(name, "X-Forwarded-For") {
		return fmt.Errorf("X-Forwarded-For is Portico's (--trusted-proxies)")
	}
	if !httpguts.ValidHeaderFieldValue(value) {
		return fmt.Errorf("header %s: the value has control characters", http.CanonicalHeaderKey(name))
	}
	return nil
}

// snippetOptions are an Ingress's snippets, parsed.
type snippetOptions struct {
	location *snippet // configuration-snippet
	server   *snippet // server-snippet, applied to every route of the Ingress's hosts (see hostSnippets)
}

var snippetAnnotations = []annotationGroup{{
	names: []string{"configuration-snippet", "server-snippet"},
	nginx: true,
	parse: func(a annotations, o *ingressOptions, bad badFunc) {
		for _, name := range []string{"configuration-snippet", "server-snippet"} {
			v, ok := a.get(name)
			if !ok {
				continue
			}
			sn, err := parseSnippet(v)
			if err != nil {
				bad(name, err.Error()+"; the whole snippet is ignored")
				continue
			}
			if o.snippets == nil {
				o.snippets = &snippetOptions{}
			}
			if name == "server-snippet" {
				o.snippets.server = sn
			} else {
				o.snippets.location = sn
			}
		}
	},
}}

// apply turns the operations of a server snippet (nil for none) and a
// location snippet (nil for none) into f, as nginx runs them: server
// first, then location. A location with add_header directives of its own
// does not inherit the server's (nginx's add_header inheritance); headers-
// more directives of both run. The first return wins, and a redirect the
// Ingress already answers with (permanent-redirect, ...) comes before any.
//
// after (custom-headers, nil for none) runs last.
func applySnippets(f *router.Filters, server, location, after *snippet) {
	var ops []snippetOp
	locAdds := false
	if location != nil {
		for _, op := range location.ops {
			locAdds = locAdds || op.kind == opAddResponse
		}
	}
	if server != nil {
		for _, op := range server.ops {
			if op.kind != opAddResponse || !locAdds {
				ops = append(ops, op)
			}
		}
	}
	if location != nil {
		ops = append(ops, location.ops...)
	}
	if after != nil {
		ops = append(ops, after.ops...)
	}
	if len(ops) == 0 {
		return
	}
	var sr router.SnippetRules
	req, resp := &f.RequestHeaders, &f.ResponseHeaders
	// The Ingress's own edits may be shared with its other routes.
	req.Set, req.Remove = slices.Clone(req.Set), slices.Clone(req.Remove)
	resp.Set, resp.Remove = slices.Clone(resp.Set), slices.Clone(resp.Remove)
	for _, op := range ops {
		switch op.kind {
		case opSetRequest:
			req.Set = dropField(req.Set, op.name)
			req.Remove = dropName(req.Remove, op.name)
			if op.value == "" { // nginx does not send a header whose value is empty
				req.Remove = append(req.Remove, op.name)
			} else {
				req.Set = append(req.Set, router.HeaderField{Name: op.name, Value: op.value})
			}
		case opClearRequest:
			if prefix, ok := strings.CutSuffix(op.name, "*"); ok {
				req.Set = dropPrefix(req.Set, prefix)
				sr.ClearRequestPrefixes = append(sr.ClearRequestPrefixes, prefix)
				continue
			}
			req.Set = dropField(req.Set, op.name)
			req.Remove = append(dropName(req.Remove, op.name), op.name)
		case opSetResponse:
			resp.Set = dropField(resp.Set, op.name)
			resp.Remove = dropName(resp.Remove, op.name)
			resp.Set = append(resp.Set, router.HeaderField{Name: op.name, Value: op.value})
		case opClearResponse:
			if prefix, ok := strings.CutSuffix(op.name, "*"); ok {
				// Clears what came before: the backend's headers
				// (ClearPrefixes runs first) and earlier sets.
				resp.Set = dropPrefix(resp.Set, prefix)
				sr.ClearPrefixes = append(sr.ClearPrefixes, prefix)
				continue
			}
			resp.Set = dropField(resp.Set, op.name)
			resp.Remove = append(dropName(resp.Remove, op.name), op.name)
		case opAddResponse:
			h := router.HeaderField{Name: op.name, Value: op.value}
			if op.always {
				sr.AddAlways = append(sr.AddAlways, h)
			} else {
				sr.Add = append(sr.Add, h)
			}
		case opReturn:
			if f.Redirect != nil || sr.Return != nil {
				continue
			}
			switch op.status {
			case 301, 302, 303, 307, 308:
				f.Redirect = &router.Redirect{Form: router.FormURL, URL: op.name, Status: op.status}
			default:
				sr.Return = &router.FixedResponse{Status: op.status, Body: op.name}
			}
		}
	}
	// Set even when empty: it marks the route's response edits as
	// nginx's, applied to Portico's own answers too (proxy/snippet.go).
	f.Snippet = &sr
}

func dropField(fs []router.HeaderField, name string) []router.HeaderField {
	out := fs[:0]
	for _, f := range fs {
		if f.Name != name {
			out = append(out, f)
		}
	}
	return out
}

func dropName(ns []string, name string) []string {
	out := ns[:0]
	for _, n := range ns {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

func dropPrefix(fs []router.HeaderField, prefix string) []router.HeaderField {
	out := fs[:0]
	for _, f := range fs {
		if !router.HasPrefixFold(f.Name, prefix) {
			out = append(out, f)
		}
	}
	return out
}

// hostSnippet is the server-snippet in force for a host: the oldest
// Ingress's that sets a valid one (ingress-nginx keeps the first server
// snippet of a server and skips the others).
type hostSnippet struct {
	sn  *snippet
	src string
}

// hostSnippets finds each host's server-snippet (ings oldest first). Those
// that lose to an older Ingress's are reported on theirs; invalid ones are
// reported by parseAnnotations.
func (c *compiler) hostSnippets(ings []*networkingv1.Ingress) map[string]*hostSnippet {
	var m map[string]*hostSnippet
	for _, ing := range ings {
		v, ok := ing.Annotations[porticoPrefix+"server-snippet"]
		if !ok {
			if v, ok = ing.Annotations[nginxPrefix+"server-snippet"]; !ok {
				continue
			}
		}
		if isCanary(ing) {
			continue // a canary's other annotations are its main Ingress's (ingress-nginx)
		}
		sn, err := parseSnippet(v)
		if err != nil || len(sn.ops) == 0 {
			continue
		}
		src := ing.Namespace + "/" + ing.Name
		for _, rule := range ing.Spec.Rules {
			host := strings.ToLower(rule.Host)
			if rule.HTTP == nil || checkHost(host) != "" {
				continue
			}
			if m == nil {
				m = make(map[string]*hostSnippet)
			}
			switch hs := m[host]; {
			case hs == nil:
				m[host] = &hostSnippet{sn: sn, src: src}
			case hs.src != src:
				c.problem(ing, "SnippetConflict", fmt.Sprintf(
					"server-snippet for host %q is ignored: the older Ingress %s already sets the host's server-snippet", host, hs.src))
			}
		}
	}
	return m
}

// isCanary reports whether ing is annotated canary: "true".
func isCanary(ing *networkingv1.Ingress) bool {
	v, ok := ing.Annotations[porticoPrefix+"canary"]
	if !ok {
		v = ing.Annotations[nginxPrefix+"canary"]
	}
	b, _ := strconv.ParseBool(v)
	return b
}

// snippetFilters returns the filters of an Ingress's routes on host: base
// (the Ingress's own, nil for none) with the host's server-snippet and the
// Ingress's configuration-snippet. Built once per host of the Ingress
// (cache), so routes of a host share them.
//
// custom is the Ingress's custom-headers (nil for none). An Ingress denied
// for its custom-headers keeps base, which answers 503.
func (c *compiler) snippetFilters(base *router.Filters, host string, own *snippetOptions, custom *snippet,
	cache map[string]*router.Filters) *router.Filters {
	if base != nil && base.Snippet != nil && base.Snippet.Return == denied503 {
		return base
	}
	var server, location *snippet
	if hs := c.serverSnippets[host]; hs != nil && host != "" {
		server = hs.sn
	}
	if own != nil {
		location = own.location
	}
	if server == nil && (location == nil || len(location.ops) == 0) && custom == nil {
		return base
	}
	if f, ok := cache[host]; ok {
		return f
	}
	var f router.Filters
	if base != nil {
		f = *base
	}
	applySnippets(&f, server, location, custom)
	cache[host] = &f
	return &f
}
