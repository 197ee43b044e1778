package endpoints

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

func TestEndpointSelection(t *testing.T) {
	t.Parallel()
	ep := func(addr string, ready, serving, terminating *bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ready, Serving: serving, Terminating: terminating}}
	}
	yes, no := ptr.To(true), ptr.To(false)
	slice := func(eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}, Endpoints: eps}
	}
	sp := corev1.ServicePort{Name: "http", Port: 80}
	tests := []struct {
		name   string
		slices []*discoveryv1.EndpointSlice
		want   string
	}{
		{"nil conditions mean ready", []*discoveryv1.EndpointSlice{slice(ep("10.0.0.1", nil, nil, nil))}, "10.0.0.1:8080"},
		{"not ready skipped", []*discoveryv1.EndpointSlice{slice(ep("10.0.0.1", no, no, nil), ep("10.0.0.2", yes, yes, no))}, "10.0.0.2:8080"},
		{"terminating left when others ready", []*discoveryv1.EndpointSlice{slice(ep("10.0.0.1", no, yes, yes), ep("10.0.0.2", yes, yes, no))}, "10.0.0.2:8080"},
		{"serving terminating used when nothing else", []*discoveryv1.EndpointSlice{slice(ep("10.0.0.1", no, yes, yes), ep("10.0.0.3", no, no, yes))}, "10.0.0.1:8080"},
		{"dedup across slices, sorted", []*discoveryv1.EndpointSlice{slice(ep("10.0.0.2", nil, nil, nil)), slice(ep("10.0.0.1", nil, nil, nil), ep("10.0.0.2", nil, nil, nil))}, "10.0.0.1:8080,10.0.0.2:8080"},
		{"port by name only", []*discoveryv1.EndpointSlice{{AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("metrics"), Port: ptr.To[int32](9090)}}, Endpoints: []discoveryv1.Endpoint{ep("10.0.0.1", nil, nil, nil)}}}, ""},
		{"ipv6", []*discoveryv1.EndpointSlice{{AddressType: discoveryv1.AddressTypeIPv6,
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}, Endpoints: []discoveryv1.Endpoint{ep("fd00::1", nil, nil, nil)}}}, "[fd00::1]:8080"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(Addrs(sp, tc.slices), ","); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
