package controller

import (
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestServerAliasParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		val     string
		want    []string
		invalid bool
	}{
		{"bar", []string{"bar"}, false},
		{" b.com , a.com,,a.com ", []string{"a.com", "b.com"}, false}, // trimmed, deduplicated, sorted as ingress-nginx
		{"*.example.com", []string{"*.example.com"}, false},
		{"Upper.COM", []string{"upper.com"}, false},
		{"good.com,~^www\\d+\\.example\\.com$", []string{"good.com"}, true}, // regex server names are not supported
		{"a.*.com", nil, true},
		{"", nil, false},
	}
	for _, tt := range tests {
		o, probs := parseAnnotations(map[string]string{nginxPrefix + "server-alias": tt.val})
		if !slices.Equal(o.aliases, tt.want) {
			t.Errorf("%q: aliases = %q, want %q", tt.val, o.aliases, tt.want)
		}
		if got := len(probs) > 0; got != tt.invalid {
			t.Errorf("%q: problems = %+v", tt.val, probs)
		}
		for _, p := range probs {
			if p.reason != "InvalidAnnotation" {
				t.Errorf("%q: reason %s", tt.val, p.reason)
			}
		}
	}
}

func TestServerAliasCompile(t *testing.T) {
	t.Parallel()
	prefix := networkingv1.PathTypePrefix
	alias := func(v string) ingressOpt { return annotate(nginxPrefix+"server-alias", v) }
	ings := []*networkingv1.Ingress{
		ingress("ns", "app-a", 0, rule("foo", "/app-a", prefix, "svc1", 80)),
		// The alias is the host's: app-a's paths get it too.
		ingress("ns", "app-b", 1, alias("bar,*.wild.com,other.com,foo"), rule("foo", "/app-b", prefix, "svc2", 80)),
		ingress("ns", "other", 2, rule("other.com", "/", prefix, "svc3", 80)),
		// Later aliases for foo are ignored; bar2 is free but not foo's.
		ingress("ns", "late", 3, alias("late.com"), rule("foo", "/late", prefix, "svc3", 80)),
		ingress("ns", "claim", 4, alias("bar"), rule("baz.com", "/", prefix, "svc3", 80)),
	}
	res := Compile(cluster(ings, "svc1", "svc2", "svc3"), CompileConfig{Class: testClass})
	for _, c := range []struct{ host, path, want string }{
		{"foo", "/app-a", "ns/svc1:80"},
		{"bar", "/app-a", "ns/svc1:80"},
		{"bar", "/app-b", "ns/svc2:80"},
		{"bar", "/late", "ns/svc3:80"}, // a path of the host, from another Ingress
		{"x.wild.com", "/app-a", "ns/svc1:80"},
		{"other.com", "/app-a", "ns/svc3:80"}, // an alias that is a host of its own is ignored
		{"late.com", "/late", ""},
		{"baz.com", "/", "ns/svc3:80"},
	} {
		r := res.Table.Match(c.host, c.path)
		got := ""
		if r != nil {
			got = r.Backend.ID
		}
		if got != c.want {
			t.Errorf("%s%s: backend %q, want %q", c.host, c.path, got, c.want)
		}
	}
	var msgs []string
	for _, p := range res.Problems {
		if p.Reason != "AliasConflict" {
			t.Errorf("unexpected problem %s: %s", p.Reason, p.Message)
			continue
		}
		msgs = append(msgs, p.Ingress.Name+": "+p.Message)
	}
	slices.Sort(msgs)
	if len(msgs) != 3 || !strings.Contains(msgs[1], `claim: server-alias "bar" of host "baz.com" is ignored: it is already an alias of host "foo"`) ||
		!strings.Contains(msgs[0], `app-b: server-alias "other.com"`) || !strings.Contains(msgs[2], "late: server-alias for host \"foo\" is ignored: the older Ingress ns/app-b") {
		t.Errorf("problems:\n%s", strings.Join(msgs, "\n"))
	}
}

func TestServerAliasOneProblem(t *testing.T) {
	t.Parallel()
	o, probs := parseAnnotations(map[string]string{nginxPrefix + "server-alias": "a.*.com, ok.com, ~^x$"})
	if len(probs) != 1 || !slices.Equal(o.aliases, []string{"ok.com"}) {
		t.Errorf("aliases %q, problems %+v", o.aliases, probs)
	}
}
