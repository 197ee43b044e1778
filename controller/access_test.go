package controller

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"portico.dev/portico/router"
)

func TestParsePrefixList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // comma-joined prefixes, or "error"
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.0.0.1/8, 192.168.1.1 ,2001:db8::1/32", "10.0.0.0/8,192.168.1.1/32,2001:db8::/32"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"1.1.1.1,1.1.1.1", "1.1.1.1/32"},
		{"2001:db8::5", "2001:db8::5/128"},
		{"", "error"},
		{"10.0.0.0/8,", "error"},
		{"10.0.0.0/33", "error"},
		{"example.com", "error"},
		{"fe80::1%eth0", "error"},
		{"10.0.0.0/8, 300.1.1.1", "error"},
	} {
		ps, err := parsePrefixList(tc.in)
		got := "error"
		if err == nil {
			var s []string
			for _, p := range ps {
				s = append(s, p.String())
			}
			got = strings.Join(s, ",")
		}
		if got != tc.want {
			t.Errorf("parsePrefixList(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzParsePrefixList(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "1.2.3.4, ::1/128", "::ffff:1.2.3.4/120", ",", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := parsePrefixList(s)
		if err != nil {
			return
		}
		if len(ps) == 0 {
			t.Fatal("a valid list is never empty")
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() {
				t.Fatalf("%q: prefix %v not canonical", s, p)
			}
		}
	})
}

func TestAccessAnnotations(t *testing.T) {
	n := "nginx.ingress.kubernetes.io/"
	pfx := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, x := range s {
			out = append(out, netip.MustParsePrefix(x))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		ann    map[string]string
		access *router.AccessList
		limits *router.RateLimits
		bad    string // substring of a problem
	}{
		{name: "allowlist", ann: map[string]string{n + "allowlist-source-range": "10.0.0.0/24"},
			access: &router.AccessList{Allow: pfx("10.0.0.0/24")}},
		{name: "whitelist alias", ann: map[string]string{n + "whitelist-source-range": "10.0.0.0/24"},
			access: &router.AccessList{Allow: pfx("10.0.0.0/24")}},
		{name: "allowlist wins over its alias", ann: map[string]string{n + "whitelist-source-range": "bogus", n + "allowlist-source-range": "1.2.3.4"},
			access: &router.AccessList{Allow: pfx("1.2.3.4/32")}},
		{name: "deny and allow", ann: map[string]string{n + "denylist-source-range": "10.0.0.5", n + "allowlist-source-range": "10.0.0.0/24"},
			access: &router.AccessList{Allow: pfx("10.0.0.0/24"), Deny: pfx("10.0.0.5/32")}},
		{name: "invalid allowlist fails closed", ann: map[string]string{n + "allowlist-source-range": "10.0.0.0/24,nope"},
			access: &router.AccessList{Invalid: true}, bad: "allowlist-source-range"},
		{name: "invalid denylist fails closed", ann: map[string]string{n + "denylist-source-range": "x"},
			access: &router.AccessList{Invalid: true}, bad: "denylist-source-range"},
		{name: "rps default multiplier", ann: map[string]string{n + "limit-rps": "5"},
			limits: &router.RateLimits{RPS: 5, BurstRPS: 25}},
		{name: "rpm and connections, multiplier 2", ann: map[string]string{n + "limit-rpm": "60", n + "limit-connections": "8", n + "limit-burst-multiplier": "2"},
			limits: &router.RateLimits{RPM: 60, BurstRPM: 120, Connections: 8}},
		{name: "multiplier 0", ann: map[string]string{n + "limit-rps": "3", n + "limit-burst-multiplier": "0"},
			limits: &router.RateLimits{RPS: 3}},
		{name: "invalid multiplier keeps 5", ann: map[string]string{n + "limit-rps": "3", n + "limit-burst-multiplier": "x"},
			limits: &router.RateLimits{RPS: 3, BurstRPS: 15}, bad: "limit-burst-multiplier"},
		{name: "exempt", ann: map[string]string{n + "limit-rps": "1", n + "limit-whitelist": "10.0.0.0/8"},
			limits: &router.RateLimits{RPS: 1, BurstRPS: 5, Exempt: pfx("10.0.0.0/8")}},
		{name: "invalid exempt list exempts nobody", ann: map[string]string{n + "limit-rps": "1", n + "limit-allowlist": "10.0.0.0/99"},
			limits: &router.RateLimits{RPS: 1, BurstRPS: 5}, bad: "limit-allowlist"},
		{name: "negative rps", ann: map[string]string{n + "limit-rps": "-1"}, bad: "limit-rps"},
		{name: "no limits without a rate", ann: map[string]string{n + "limit-allowlist": "10.0.0.0/8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, probs := parseAnnotations(tc.ann)
			if a, w := o.route.Access, tc.access; (a == nil) != (w == nil) ||
				a != nil && (a.Invalid != w.Invalid || !slices.Equal(a.Allow, w.Allow) || !slices.Equal(a.Deny, w.Deny)) {
				t.Errorf("Access = %+v, want %+v", a, w)
			}
			if l, w := o.route.Limits, tc.limits; (l == nil) != (w == nil) || l != nil && (l.RPS != w.RPS || l.BurstRPS != w.BurstRPS ||
				l.RPM != w.RPM || l.BurstRPM != w.BurstRPM || l.Connections != w.Connections || !slices.Equal(l.Exempt, w.Exempt)) {
				t.Errorf("Limits = %+v, want %+v", l, w)
			}
			var msgs []string
			for _, p := range probs {
				msgs = append(msgs, p.reason+": "+p.msg)
			}
			all := strings.Join(msgs, "\n")
			if tc.bad == "" && all != "" || tc.bad != "" && !strings.Contains(all, "InvalidAnnotation: annotation "+n+tc.bad) {
				t.Errorf("problems %q, want one about %q", all, tc.bad)
			}
		})
	}
}
