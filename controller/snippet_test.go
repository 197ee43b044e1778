package controller

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

func TestTokenizeSnippet(t *testing.T) {
	tests := []struct {
		in   string
		want []directive
		err  string
	}{
		{in: "", want: nil},
		{in: "  # only a comment\n", want: nil},
		{in: `more_set_headers "Foo1: Bar1";`, want: []directive{{Name: "more_set_headers", Args: []string{"Foo1: Bar1"}, Line: 1}}},
		{in: "\n\t more_set_headers \"Foo: Bar\";\n more_set_headers 'Xpto: Lalala';",
			want: []directive{{Name: "more_set_headers", Args: []string{"Foo: Bar"}, Line: 2}, {Name: "more_set_headers", Args: []string{"Xpto: Lalala"}, Line: 3}}},
		{in: `add_header X-A "a \"quoted\" \\ value" always;`, want: []directive{{Name: "add_header", Args: []string{"X-A", `a "quoted" \ value`, "always"}, Line: 1}}},
		{in: `add_header X-A 'it\'s';`, want: []directive{{Name: "add_header", Args: []string{"X-A", "it's"}, Line: 1}}},
		{in: `add_header X-A "tab\tx\y";`, want: []directive{{Name: "add_header", Args: []string{"X-A", "tab\tx\\y"}, Line: 1}}},
		{in: `add_header X-A a\ b;`, want: []directive{{Name: "add_header", Args: []string{"X-A", `a\ b`}, Line: 1}}},
		{in: "add_header X-A v; # trailing comment\nreturn 200 ok;", want: []directive{
			{Name: "add_header", Args: []string{"X-A", "v"}, Line: 1}, {Name: "return", Args: []string{"200", "ok"}, Line: 2}}},
		{in: `add_header X-A a#b;`, want: []directive{{Name: "add_header", Args: []string{"X-A", "a#b"}, Line: 1}}},
		{in: "add_header X-A \"two\nlines\";\nreturn 204;", want: []directive{
			{Name: "add_header", Args: []string{"X-A", "two\nlines"}, Line: 1}, {Name: "return", Args: []string{"204"}, Line: 3}}},
		{in: `add_header X-A ""; add_header X-B b;`, want: []directive{
			{Name: "add_header", Args: []string{"X-A", ""}, Line: 1}, {Name: "add_header", Args: []string{"X-B", "b"}, Line: 1}}},
		{in: `add_header X-A v`, err: `line 1: directive "add_header" does not end with ";"`},
		{in: `add_header X-A "v;`, err: `line 1: unterminated "-quoted string`},
		{in: `add_header X-A "v"x;`, err: `unexpected 'x' after a quoted string`},
		{in: `add_header X-A v"x";`, err: `unexpected quote inside a word`},
		{in: `;`, err: `line 1: unexpected ";"`},
		{in: "\nlocation /x {\n return 200;\n}", err: `line 2: block directive "location" is not supported`},
		{in: `if ($request_method = POST) { return 405; }`, err: `block directive "if" is not supported`},
		{in: `}`, err: `unexpected "}"`},
		{in: strings.Repeat("return 200;", maxSnippetDirectives+1), err: "more than 100 directives"},
	}
	for _, tt := range tests {
		got, err := tokenizeSnippet(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("tokenizeSnippet(%q): err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tokenizeSnippet(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSnippet(t *testing.T) {
	tests := []struct {
		in   string
		want []snippetOp
		err  string // the refusal names the directive
	}{
		{in: `more_set_headers "Foo1: Bar1";`, want: []snippetOp{{kind: opSetResponse, name: "Foo1", value: "Bar1"}}},
		{in: `more_set_headers "X-Multi-A: a-val" "x-multi-b:b-val";`, want: []snippetOp{
			{kind: opSetResponse, name: "X-Multi-A", value: "a-val"}, {kind: opSetResponse, name: "X-Multi-B", value: "b-val"}}},
		{in: `more_set_headers "X-Colon-Clear:" X-NoColon-Clear;`, want: []snippetOp{
			{kind: opClearResponse, name: "X-Colon-Clear"}, {kind: opClearResponse, name: "X-Nocolon-Clear"}}},
		{in: `more_clear_headers X-A "x-wild-*";`, want: []snippetOp{{kind: opClearResponse, name: "X-A"}, {kind: opClearResponse, name: "X-Wild-*"}}},
		{in: `add_header X-Custom present always; add_header X-B b; add_header X-Empty "";`, want: []snippetOp{
			{kind: opAddResponse, name: "X-Custom", value: "present", always: true}, {kind: opAddResponse, name: "X-B", value: "b"}}},
		{in: `proxy_set_header X-Up v; proxy_set_header X-Gone "";`, want: []snippetOp{
			{kind: opSetRequest, name: "X-Up", value: "v"}, {kind: opSetRequest, name: "X-Gone"}}},
		{in: `more_set_input_headers "X-Input-Multi-A: ia-val" "X-Clear-Input"; more_clear_input_headers X-Secret "X-Prefix-*";`, want: []snippetOp{
			{kind: opSetRequest, name: "X-Input-Multi-A", value: "ia-val"}, {kind: opClearRequest, name: "X-Clear-Input"},
			{kind: opClearRequest, name: "X-Secret"}, {kind: opClearRequest, name: "X-Prefix-*"}}},
		{in: `more_set_input_headers -r "X-Restrict: v";`, err: `option "-r" is not supported`},
		{in: `more_set_input_headers "X-Forwarded-For: 1.2.3.4";`, err: "trusted-proxies"},
		{in: `return 403 "Forbidden";`, want: []snippetOp{{kind: opReturn, status: 403, name: "Forbidden"}}},
		{in: `return 301 https://example.com/new;`, want: []snippetOp{{kind: opReturn, status: 301, name: "https://example.com/new"}}},
		{in: `return https://example.com/;`, want: []snippetOp{{kind: opReturn, status: 302, name: "https://example.com/"}}},
		{in: `return 204;`, want: []snippetOp{{kind: opReturn, status: 204}}},

		{in: `proxy_pass http://evil;`, err: `line 1: proxy_pass: directive "proxy_pass" is not supported`},
		{in: "add_header X-A a;\ncontent_by_lua_block { ngx.say(1) }", err: `block directive "content_by_lua_block"`},
		{in: `access_by_lua 'ngx.exit(403)';`, err: `directive "access_by_lua" is not supported`},
		{in: `add_header X-Method $request_method;`, err: "add_header: nginx variables"},
		{in: `return 301 https://$host$request_uri;`, err: "return: nginx variables"},
		{in: `add_header X-A;`, err: "want add_header NAME VALUE [always]"},
		{in: `add_header X-A b sometimes;`, err: "want add_header NAME VALUE [always]"},
		{in: `add_header "X A" b;`, err: `"X A" is not a header name`},
		{in: `add_header X-A "a` + "\r\n" + `Set-Cookie: x";`, err: "control characters"},
		{in: `more_set_headers -s 404 "X-A: b";`, err: `option "-s" is not supported`},
		{in: `more_set_headers "Content-Length: 0";`, err: "Content-Length cannot be set"},
		{in: `more_clear_headers "*";`, err: "is not a header name"},
		{in: `more_clear_input_headers "Upg*";`, err: "would clear Upgrade"},
		{in: `more_clear_headers "Content-*";`, err: "would clear"},
		{in: `more_clear_headers "Conn*";`, err: "would clear Connection"},
		{in: `proxy_set_header Host example.com;`, err: "upstream-vhost"},
		{in: `proxy_set_header X-Forwarded-For 1.2.3.4;`, err: "trusted-proxies"},
		{in: `return 444;`, err: "status code from 200 to 599"},
		{in: `return 301;`, err: "a redirect needs a URL"},
		{in: `return 204 body;`, err: "status 204 has no body"},
		{in: `return;`, err: "want return CODE"},
		{in: strings.Repeat("#", maxSnippetBytes+1), err: "longer than"},
	}
	for _, tt := range tests {
		got, err := parseSnippet(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseSnippet(%q): err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got.ops, tt.want) {
			t.Errorf("parseSnippet(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestApplySnippets(t *testing.T) {
	mustParse := func(s string) *snippet {
		sn, err := parseSnippet(s)
		if err != nil {
			t.Fatal(err)
		}
		return sn
	}
	hf := func(kv ...string) []router.HeaderField {
		var fs []router.HeaderField
		for i := 0; i < len(kv); i += 2 {
			fs = append(fs, router.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return fs
	}
	tests := []struct {
		name             string
		base             router.Filters
		server, location string
		want             router.Filters
	}{
		{name: "set then clear, clear then set: the last wins",
			location: `more_set_headers "X-To-Clear: v"; more_clear_headers X-To-Clear; more_clear_headers X-Back; more_set_headers "X-Back: again";`,
			want:     router.Filters{ResponseHeaders: router.HeaderEdits{Set: hf("X-Back", "again"), Remove: []string{"X-To-Clear"}}, Snippet: &router.SnippetRules{}}},
		{name: "wildcard clears earlier sets and the backend's, not later sets",
			location: `more_set_headers "X-Wild-One: w1" "X-Other: o"; more_clear_headers "X-Wild-*"; more_set_headers "X-Wild-Three: w3";`,
			want: router.Filters{ResponseHeaders: router.HeaderEdits{Set: hf("X-Other", "o", "X-Wild-Three", "w3")},
				Snippet: &router.SnippetRules{ClearPrefixes: []string{"X-Wild-"}}}},
		{name: "server then location: the location clears the server's header",
			server: `more_set_headers "X-Server-Cross: s" "X-Server: s";`, location: `more_clear_headers X-Server-Cross;`,
			want: router.Filters{ResponseHeaders: router.HeaderEdits{Set: hf("X-Server", "s"), Remove: []string{"X-Server-Cross"}}, Snippet: &router.SnippetRules{}}},
		{name: "a location's add_header hides the server's",
			server: `add_header X-Level root; add_header X-Root r always;`, location: `add_header X-Level location;`,
			want: router.Filters{Snippet: &router.SnippetRules{Add: hf("X-Level", "location")}}},
		{name: "server add_header is inherited by a location without one",
			server: `add_header X-Level root; add_header X-Root r always;`, location: `more_set_headers "X-M: m";`,
			want: router.Filters{ResponseHeaders: router.HeaderEdits{Set: hf("X-M", "m")},
				Snippet: &router.SnippetRules{Add: hf("X-Level", "root"), AddAlways: hf("X-Root", "r")}}},
		{name: "proxy_set_header sets and removes upstream headers, after the Ingress's own",
			base:     router.Filters{RequestHeaders: router.HeaderEdits{Set: hf("X-Base", "b")}},
			location: `proxy_set_header X-Up one; proxy_set_header X-Up two; proxy_set_header X-Gone "";`,
			want: router.Filters{RequestHeaders: router.HeaderEdits{Set: hf("X-Base", "b", "X-Up", "two"), Remove: []string{"X-Gone"}},
				Snippet: &router.SnippetRules{}}},
		{name: "request clears: exact and wildcard",
			location: `more_set_input_headers "X-Prefix-Early: e" "X-A: a"; more_clear_input_headers "X-Prefix-*" X-Secret; more_set_input_headers "X-Prefix-Late: l";`,
			want: router.Filters{RequestHeaders: router.HeaderEdits{Set: hf("X-A", "a", "X-Prefix-Late", "l"), Remove: []string{"X-Secret"}},
				Snippet: &router.SnippetRules{ClearRequestPrefixes: []string{"X-Prefix-"}}}},
		{name: "the first return wins; redirects are Filters.Redirect",
			server: `return 301 https://a.test/;`, location: `return 200 ok;`,
			want: router.Filters{Redirect: &router.Redirect{Form: router.FormURL, URL: "https://a.test/", Status: 301}, Snippet: &router.SnippetRules{}}},
		{name: "a fixed answer",
			location: `return 403 Forbidden; return 200 later;`,
			want:     router.Filters{Snippet: &router.SnippetRules{Return: &router.FixedResponse{Status: 403, Body: "Forbidden"}}}},
		{name: "an annotation's redirect comes first",
			base:     router.Filters{Redirect: &router.Redirect{Form: router.FormURL, URL: "https://perm.test/", Status: 301}},
			location: `return 200 ok;`,
			want:     router.Filters{Redirect: &router.Redirect{Form: router.FormURL, URL: "https://perm.test/", Status: 301}, Snippet: &router.SnippetRules{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var server, location *snippet
			if tt.server != "" {
				server = mustParse(tt.server)
			}
			if tt.location != "" {
				location = mustParse(tt.location)
			}
			f := tt.base
			applySnippets(&f, server, location, nil)
			norm := func(e *router.HeaderEdits) {
				if len(e.Set) == 0 {
					e.Set = nil
				}
				if len(e.Remove) == 0 {
					e.Remove = nil
				}
			}
			norm(&f.RequestHeaders)
			norm(&f.ResponseHeaders)
			if !reflect.DeepEqual(f, tt.want) {
				t.Errorf("got  %+v\nwant %+v", f, tt.want)
			}
		})
	}
}

const (
	annConfigSnippet = nginxPrefix + "configuration-snippet"
	annServerSnippet = nginxPrefix + "server-snippet"
)

func TestCompileSnippets(t *testing.T) {
	prefix := networkingv1.PathTypePrefix
	t.Run("a refused snippet is reported and the routes work without it", func(t *testing.T) {
		ing := ingress("ns", "a", 0, annotate(annConfigSnippet, "more_set_headers \"X-A: a\";\nproxy_pass http://evil;"),
			rule("s.test", "/one", prefix, "svc1", 80), rule("s.test", "/two", prefix, "svc2", 80))
		res := Compile(cluster([]*networkingv1.Ingress{ing}, "svc1", "svc2"), CompileConfig{Class: testClass})
		if len(res.Problems) != 1 || res.Problems[0].Reason != "InvalidAnnotation" ||
			!strings.Contains(res.Problems[0].Message, `directive "proxy_pass" is not supported`) ||
			!strings.Contains(res.Problems[0].Message, "the whole snippet is ignored") {
			t.Fatalf("problems = %+v", res.Problems)
		}
		for _, p := range []string{"/one", "/two"} {
			r := res.Table.Match("s.test", p)
			if r == nil || r.Filters != nil {
				t.Errorf("%s: route %+v, want one without filters", p, r)
			}
		}
		if len(res.Admitted) != 1 {
			t.Errorf("admitted %d Ingresses, want 1", len(res.Admitted))
		}
	})
	t.Run("server-snippet applies to every Ingress of the host; the oldest one's wins", func(t *testing.T) {
		ings := []*networkingv1.Ingress{
			ingress("ns", "old", 0, annotate(annServerSnippet, `more_set_headers "X-Server: old";`), rule("h.test", "/a", prefix, "svc1", 80)),
			ingress("ns", "new", 1, annotate(annServerSnippet, `more_set_headers "X-Server: new";`),
				annotate(annConfigSnippet, `more_set_headers "X-Loc: new";`), rule("h.test", "/b", prefix, "svc2", 80), rule("other.test", "/", prefix, "svc2", 80)),
			ingress("ns", "plain", 2, rule("h.test", "/c", prefix, "svc2", 80)),
			ingress("ns", "canary", 3, annotate(nginxPrefix+"canary", "true"), annotate(nginxPrefix+"canary-weight", "0"),
				annotate(annServerSnippet, `more_set_headers "X-Server: canary";`), rule("other.test", "/", prefix, "svc1", 80)),
		}
		res := Compile(cluster(ings, "svc1", "svc2"), CompileConfig{Class: testClass})
		if len(res.Problems) != 1 || res.Problems[0].Reason != "SnippetConflict" || res.Problems[0].Ingress.Name != "new" {
			t.Fatalf("problems = %+v", res.Problems)
		}
		want := map[string][]router.HeaderField{
			"h.test/a":     {{Name: "X-Server", Value: "old"}},
			"h.test/b":     {{Name: "X-Server", Value: "old"}, {Name: "X-Loc", Value: "new"}},
			"h.test/c":     {{Name: "X-Server", Value: "old"}},
			"other.test/x": {{Name: "X-Server", Value: "new"}, {Name: "X-Loc", Value: "new"}},
		}
		for hp, set := range want {
			host, path, _ := strings.Cut(hp, "/")
			r := res.Table.Match(host, "/"+path)
			if r == nil || r.Filters == nil || !reflect.DeepEqual(r.Filters.ResponseHeaders.Set, set) {
				t.Errorf("%s: filters %+v, want response Set %v", hp, r.Filters, set)
			}
		}
	})
	t.Run("disabled snippets are ignored and reported", func(t *testing.T) {
		ing := ingress("ns", "a", 0, annotate(annConfigSnippet, `more_set_headers "X-A: a";`),
			annotate(annServerSnippet, `more_set_headers "X-B: b";`), rule("s.test", "/", prefix, "svc1", 80))
		res := Compile(cluster([]*networkingv1.Ingress{ing}, "svc1"), CompileConfig{Class: testClass, SnippetsDisabled: true})
		if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, "allow-snippet-annotations") {
			t.Fatalf("problems = %+v", res.Problems)
		}
		if r := res.Table.Match("s.test", "/"); r == nil || r.Filters != nil {
			t.Errorf("route %+v, want one without filters", r)
		}
	})
	// --nginx-configmap: allow-snippet-annotations decides, false (its
	// ingress-nginx default) when the key is absent.
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("nginx ConfigMap allow-snippet-annotations %v", allow), func(t *testing.T) {
			ing := ingress("ns", "a", 0, annotate(annConfigSnippet, `more_set_headers "X-A: a";`), rule("s.test", "/", prefix, "svc1", 80))
			snap := cluster([]*networkingv1.Ingress{ing}, "svc1")
			snap.Nginx = &NginxConfig{AllowSnippetAnnotations: allow}
			res := Compile(snap, CompileConfig{Class: testClass})
			r := res.Table.Match("s.test", "/")
			if applied := r != nil && r.Filters != nil; applied != allow || (len(res.Problems) == 0) == !allow {
				t.Errorf("snippet applied %v, problems %+v; want applied %v", applied, res.Problems, allow)
			}
		})
	}
}

// FuzzParseSnippet: the parser never panics, and a parsed snippet written
// back with every argument quoted parses to the same directives.
func FuzzParseSnippet(f *testing.F) {
	for _, s := range []string{
		`more_set_headers "Foo1: Bar1";`, "more_set_headers \"Foo: Bar\";\n more_set_headers 'Xpto: Lalala';",
		`add_header X-A "a \"b\" \\ c" always;`, `more_clear_headers "X-Wild-*" X-B;`, `proxy_set_header X-Up "";`,
		`return 301 https://a.test/;`, `return 403 'For\'bidden';`, "location /x { return 200; }", "# c\nadd_header a\\ b c;",
		`add_header X $host;`, "\"\\", "'a'b;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if sn, err := parseSnippet(s); err == nil {
			for _, op := range sn.ops {
				if op.kind != opReturn && !validHeaderName(strings.TrimSuffix(op.name, "*")) {
					t.Fatalf("op %+v has a bad header name", op)
				}
			}
		}
		ds, err := tokenizeSnippet(s)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, d := range ds {
			b.WriteString(quoteArg(d.Name))
			for _, a := range d.Args {
				b.WriteByte(' ')
				b.WriteString(quoteArg(a))
			}
			b.WriteString(";\n")
		}
		again, err := tokenizeSnippet(b.String())
		if err != nil {
			t.Fatalf("quoted %q: %v", b.String(), err)
		}
		if len(again) != len(ds) {
			t.Fatalf("quoted %q: %d directives, want %d", b.String(), len(again), len(ds))
		}
		for i := range ds {
			if again[i].Name != ds[i].Name || !slicesEqual(again[i].Args, ds[i].Args) {
				t.Fatalf("quoted %q: directive %d is %+v, want %+v", b.String(), i, again[i], ds[i])
			}
		}
	})
}

func validHeaderName(s string) bool { return checkHeader(s, "", true) == nil }

func slicesEqual(a, b []string) bool { return reflect.DeepEqual(a, b) || len(a) == 0 && len(b) == 0 }
