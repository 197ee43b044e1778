package gateway

import (
	"net/netip"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestServiceName(t *testing.T) {
	t.Parallel()
	long := "a-gateway-whose-name-is-far-too-long-for-a-service-name-with-a-suffix"
	for _, tc := range []struct{ gw, want string }{
		{"edge", "edge-portico"},
		{"edge.example", "edge-example-103ece1c-portico"},
		{"1st", "gw-1st-e01ddf65-portico"},
	} {
		if got := ServiceName(tc.gw); got != tc.want {
			t.Errorf("ServiceName(%q) = %q, want %q", tc.gw, got, tc.want)
		}
	}
	for _, gw := range []string{long, long + "-2", "edge.example", "edge-example", "1st", "x." + long} {
		n := ServiceName(gw)
		if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
			t.Errorf("ServiceName(%q) = %q: %v", gw, n, errs)
		}
	}
	if ServiceName(long) == ServiceName(long+"-2") || ServiceName("edge.example") == ServiceName("edge-example") {
		t.Error("two Gateways share a Service name")
	}
}

func TestEndpointAddress(t *testing.T) {
	t.Parallel()
	for a, want := range map[string]bool{
		"10.0.0.1": true, "2001:db8::1": true, "127.0.0.1": false, "::1": false,
		"169.254.1.1": false, "fe80::1": false, "0.0.0.0": false, "224.0.0.1": false,
	} {
		if got := endpointAddress(netip.MustParseAddr(a)); got != want {
			t.Errorf("endpointAddress(%s) = %v, want %v", a, got, want)
		}
	}
}
