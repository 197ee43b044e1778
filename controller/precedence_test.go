package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

func defaultBackend(svc string, port any) ingressOpt {
	return func(ing *networkingv1.Ingress) { b := svcBackend(svc, port); ing.Spec.DefaultBackend = &b }
}

// TestCompileMergeAndConflicts covers how several Ingresses share hosts:
// rules merge; for the same host, path and type the oldest Ingress wins and
// every loser gets a Warning naming the winner; the same holds for
// spec.defaultBackend. Each case lists every Problem it expects, so an
// extra or missing Warning fails it.
func TestCompileMergeAndConflicts(t *testing.T) {
	t.Parallel()
	prefix, exact, implSpecific := networkingv1.PathTypePrefix, networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific
	type req struct{ host, path, want string } // want: backend ID, "" for 404
	type problem struct{ ingress, reason, contains string }
	tests := []struct {
		name     string
		ings     []*networkingv1.Ingress
		flag     *ServiceRef
		reqs     []req
		problems []problem
		rejected []string
	}{
		{
			name: "rules of three Ingresses on one host merge",
			ings: []*networkingv1.Ingress{
				ingress("ns", "web", 0, rule("shop.com", "/", prefix, "svc1", 80)),
				ingress("ns", "api", 1, rule("shop.com", "/api", prefix, "svc2", 80)),
				ingress("ns", "login", 2, rule("shop.com", "/api/login", exact, "svc3", 80)),
			},
			reqs: []req{
				{"shop.com", "/cart", "ns/svc1:80"},
				{"shop.com", "/api/v1", "ns/svc2:80"},
				{"shop.com", "/api/login", "ns/svc3:80"},
				{"shop.com", "/api/login/x", "ns/svc2:80"},
			},
		},
		{
			name: "oldest of three wins; both losers are told who won",
			ings: []*networkingv1.Ingress{
				ingress("ns", "c", 3, rule("foo.com", "/a", prefix, "svc3", 80)),
				ingress("ns", "a", 1, rule("foo.com", "/a", prefix, "svc1", 80)),
				ingress("ns", "b", 2, rule("foo.com", "/a", prefix, "svc2", 80)),
			},
			reqs: []req{{"foo.com", "/a/x", "ns/svc1:80"}},
			problems: []problem{
				{"b", "RuleConflict", `host "foo.com" path "/a" (Prefix) is ignored: the older Ingress ns/a already routes it`},
				{"c", "RuleConflict", "the older Ingress ns/a"},
			},
			rejected: []string{"b", "c"},
		},
		{
			name: "same creation time: namespace/name decides",
			ings: []*networkingv1.Ingress{
				ingress("ns", "c", 0, rule("foo.com", "/", prefix, "svc2", 80)),
				ingress("ns", "b", 0, rule("foo.com", "/", prefix, "svc3", 80)),
				ingress("ns", "a", 0, rule("foo.com", "/", prefix, "svc1", 80)),
			},
			reqs: []req{{"foo.com", "/", "ns/svc1:80"}},
			problems: []problem{
				{"b", "RuleConflict", "ns/a"},
				{"c", "RuleConflict", "ns/a"},
			},
			rejected: []string{"b", "c"},
		},
		{
			name: "a trailing slash does not make a different Prefix rule",
			ings: []*networkingv1.Ingress{
				ingress("ns", "old", 0, rule("foo.com", "/a", prefix, "svc1", 80)),
				ingress("ns", "new", 1, rule("foo.com", "/a/", prefix, "svc2", 80)),
			},
			reqs:     []req{{"foo.com", "/a/", "ns/svc1:80"}},
			problems: []problem{{"new", "RuleConflict", `path "/a/" (Prefix) is ignored: the older Ingress ns/old`}},
			rejected: []string{"new"},
		},
		{
			name: "same path, other type: no conflict, Exact wins its path",
			ings: []*networkingv1.Ingress{
				ingress("ns", "old", 0, rule("foo.com", "/a", prefix, "svc1", 80)),
				ingress("ns", "new", 1, rule("foo.com", "/a", exact, "svc2", 80)),
			},
			reqs: []req{{"foo.com", "/a", "ns/svc2:80"}, {"foo.com", "/a/", "ns/svc1:80"}},
		},
		{
			name: "ImplementationSpecific is Prefix, so it conflicts with Prefix",
			ings: []*networkingv1.Ingress{
				ingress("ns", "old", 0, rule("foo.com", "/a", implSpecific, "svc1", 80)),
				ingress("ns", "new", 1, rule("foo.com", "/a", prefix, "svc2", 80)),
			},
			reqs:     []req{{"foo.com", "/a/b", "ns/svc1:80"}, {"foo.com", "/ab", ""}},
			problems: []problem{{"new", "RuleConflict", "ns/old"}},
			rejected: []string{"new"},
		},
		{
			name: "an Ingress that loses one rule keeps the others",
			ings: []*networkingv1.Ingress{
				ingress("ns", "old", 0, rule("foo.com", "/a", prefix, "svc1", 80)),
				ingress("ns", "new", 1, rule("foo.com", "/a", prefix, "svc2", 80), rule("foo.com", "/b", prefix, "svc2", 80)),
			},
			reqs:     []req{{"foo.com", "/a", "ns/svc1:80"}, {"foo.com", "/b", "ns/svc2:80"}},
			problems: []problem{{"new", "RuleConflict", "ns/old"}},
		},
		{
			name: "exact host, wildcard and host-less rules from different Ingresses",
			ings: []*networkingv1.Ingress{
				ingress("ns", "any", 0, rule("", "/", prefix, "svc1", 80)),
				ingress("ns", "wild", 1, rule("*.foo.com", "/", prefix, "svc2", 80)),
				ingress("ns", "one", 2, rule("a.foo.com", "/only", prefix, "svc3", 80)),
			},
			reqs: []req{
				{"a.foo.com", "/only/x", "ns/svc3:80"},
				{"a.foo.com", "/other", ""}, // a.foo.com decides alone: no fall-through
				{"b.foo.com", "/other", "ns/svc2:80"},
				{"b.a.foo.com", "/other", "ns/svc1:80"},
			},
		},
		{
			name: "competing default backends: oldest wins, the others are told",
			ings: []*networkingv1.Ingress{
				ingress("ns", "young", 2, defaultBackend("svc3", 80)),
				ingress("ns", "old", 0, defaultBackend("svc1", 80)),
				ingress("ns", "mid", 1, defaultBackend("svc2", 80)),
			},
			flag: &ServiceRef{Namespace: "ns", Name: "svc2", Port: "http"},
			reqs: []req{{"any.host", "/x", "ns/svc1:80"}},
			problems: []problem{
				{"mid", "DefaultBackendConflict", "the older Ingress ns/old already sets the default backend"},
				{"young", "DefaultBackendConflict", "ns/old"},
			},
			rejected: []string{"mid", "young"},
		},
		{
			name: "a broken default backend does not block the next oldest",
			ings: []*networkingv1.Ingress{
				ingress("ns", "broken", 0, defaultBackend("missing", 80)),
				ingress("ns", "ok", 1, defaultBackend("svc2", 80)),
			},
			reqs:     []req{{"any.host", "/", "ns/svc2:80"}},
			problems: []problem{{"broken", "ServiceNotFound", "spec.defaultBackend: Service ns/missing not found"}},
			rejected: []string{"broken"},
		},
		{
			name:     "a broken default backend flag is reported, requests get 404",
			flag:     &ServiceRef{Namespace: "ns", Name: "svc1", Port: "9999"},
			reqs:     []req{{"any.host", "/", ""}},
			problems: []problem{{"", "DefaultBackendInvalid", "--default-backend-service ns/svc1:9999: Service ns/svc1 has no port 9999"}},
		},
		{
			name: "default backend answers unmatched paths of matched hosts",
			ings: []*networkingv1.Ingress{
				ingress("ns", "site", 0, rule("foo.com", "/app", exact, "svc1", 80), defaultBackend("svc2", "http")),
			},
			reqs: []req{{"foo.com", "/app", "ns/svc1:80"}, {"foo.com", "/app/", "ns/svc2:http"}, {"bar.com", "/", "ns/svc2:http"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The snapshot order must not matter: try it forwards and backwards.
			for _, reverse := range []bool{false, true} {
				ings := slices.Clone(tc.ings)
				if reverse {
					slices.Reverse(ings)
				}
				res := Compile(cluster(ings, "svc1", "svc2", "svc3"), CompileConfig{Class: testClass, DefaultBackend: tc.flag})
				for _, r := range tc.reqs {
					got := ""
					if route := res.Table.Match(r.host, r.path); route != nil {
						got = route.Backend.ID
					}
					if got != r.want {
						t.Errorf("Match(%q, %q) = %q, want %q", r.host, r.path, got, r.want)
					}
				}
				var got []string
				for _, p := range res.Problems {
					name := ""
					if p.Ingress != nil {
						name = p.Ingress.Name
					}
					got = append(got, fmt.Sprintf("%s %s: %s", name, p.Reason, p.Message))
				}
				if len(got) != len(tc.problems) {
					t.Fatalf("problems:\n  %s\nwant %d: %+v", strings.Join(got, "\n  "), len(tc.problems), tc.problems)
				}
				for _, want := range tc.problems {
					if !slices.ContainsFunc(got, func(g string) bool {
						return strings.HasPrefix(g, want.ingress+" "+want.reason+": ") && strings.Contains(g, want.contains)
					}) {
						t.Errorf("no problem %+v in:\n  %s", want, strings.Join(got, "\n  "))
					}
				}
				var rejected []string
				for _, ing := range res.Rejected {
					rejected = append(rejected, ing.Name)
				}
				slices.Sort(rejected)
				want := slices.Sorted(slices.Values(tc.rejected))
				if !slices.Equal(rejected, want) {
					t.Errorf("rejected = %v, want %v", rejected, want)
				}
			}
		})
	}
}

// TestCompileRequestNormalization goes from Ingress objects to the table
// and asks it the way the proxy does (CleanPath of the decoded path): a
// path that only the Exact /admin rule may serve never reaches the public
// backend, however it is spelled.
func TestCompileRequestNormalization(t *testing.T) {
	t.Parallel()
	ings := []*networkingv1.Ingress{
		ingress("ns", "public", 0, rule("site.com", "/", networkingv1.PathTypePrefix, "svc1", 80)),
		ingress("ns", "admin", 1, rule("site.com", "/admin", networkingv1.PathTypeExact, "svc2", 80)),
	}
	tbl := Compile(cluster(ings, "svc1", "svc2"), CompileConfig{Class: testClass}).Table
	for _, decoded := range []string{"/admin", "/public/../admin", "/./admin", "//admin", "/x/y/../../admin", "/../admin"} {
		if r := tbl.Match("site.com", router.CleanPath(decoded)); r == nil || r.Backend.ID != "ns/svc2:80" {
			t.Errorf("%q: went to %v, want the admin backend", decoded, r)
		}
	}
}
