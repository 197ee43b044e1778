package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestGatewayFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(*config) string
		wantErr string
	}{
		{name: "defaults", check: func(c *config) string {
			if c.gateway.enable != "auto" || c.gateway.controllerName != "portico.dev/gateway-controller" || c.gateway.pool.IsValid() {
				return "wrong defaults"
			}
			return ""
		}},
		{name: "true", args: []string{"--enable-gateway-api=true"}, check: func(c *config) string {
			if c.gateway.enable != "true" {
				return "got " + c.gateway.enable
			}
			return ""
		}},
		{name: "false", args: []string{"--enable-gateway-api", "false"}, check: func(c *config) string {
			if c.gateway.enable != "false" {
				return "got " + c.gateway.enable
			}
			return ""
		}},
		{name: "neither", args: []string{"--enable-gateway-api", "yes"}, wantErr: "want true, false or auto"},
		{name: "controller name", args: []string{"--gateway-controller-name", "example.com/gw"}, check: func(c *config) string {
			if c.gatewayTranslateConfig().ControllerName != "example.com/gw" {
				return "not passed to the translator"
			}
			return ""
		}},
		{name: "controller name without a path", args: []string{"--gateway-controller-name", "example.com"}, wantErr: "domain-prefixed path"},
		{name: "controller name with capitals in the domain", args: []string{"--gateway-controller-name", "Example.com/x"}, wantErr: "domain-prefixed path"},
		{name: "pool", args: []string{"--gateway-address-pool", "127.1.0.0/24"}, check: func(c *config) string {
			if got := c.gatewayTranslateConfig().AddressPool; got != netip.MustParsePrefix("127.1.0.0/24") {
				return "got " + got.String()
			}
			return ""
		}},
		{name: "IPv6 pool", args: []string{"--gateway-address-pool", "2001:db8::/120"}, check: func(c *config) string {
			if !c.gateway.pool.Addr().Is6() {
				return "not parsed"
			}
			return ""
		}},
		{name: "pool with host bits", args: []string{"--gateway-address-pool", "10.0.0.5/24"}, wantErr: "did you mean 10.0.0.0/24"},
		{name: "pool not a CIDR", args: []string{"--gateway-address-pool", "10.0.0.1"}, wantErr: "want a CIDR"},
		{name: "published IPs only", args: []string{"--publish-status-address", "192.0.2.1,lb.example.com,2001:db8::1"}, check: func(c *config) string {
			got := c.gatewayTranslateConfig().Published
			want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
			slices.SortFunc(got, netip.Addr.Compare)
			if !slices.Equal(got, want) {
				return "got " + strings.Join(addrStrings(got), ",")
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", "")
			c, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func addrStrings(as []netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}
