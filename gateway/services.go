package gateway

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Labels and annotations Portico puts on the Services it generates for
// Gateways (--gateway-services, docs/gateway-api.md "Gateway Services").
const (
	// ManagedByLabel (app.kubernetes.io/managed-by=portico) marks a
	// generated Service; with the ownerReference to its Gateway it is what
	// the writer checks before it updates or deletes one.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "portico"
	// ControllerAnnotation holds the --gateway-controller-name of the
	// Portico that wrote the Service, so that two Porticos with different
	// controller names never delete each other's Services.
	ControllerAnnotation = "portico.dev/gateway-controller"
	// SliceManagedBy is the endpointslice.kubernetes.io/managed-by value of
	// the EndpointSlices of generated Services.
	SliceManagedBy = "portico.dev"
	serviceSuffix  = "-portico"
)

// GatewayService is a Service Portico maintains for one Accepted Gateway
// (Config.Services): ClusterIP, no selector, its endpoints the Gateway's
// addresses, so in-cluster clients reach the Gateway by DNS name
// (<name>.<namespace>.svc). It also carries spec.infrastructure.labels and
// .annotations (Gateway API GatewayInfrastructure).
type GatewayService struct {
	Namespace, Name string
	Gateway         string // the owning Gateway's name
	GatewayUID      types.UID
	Labels          map[string]string
	Annotations     map[string]string
	Ports           []ServicePort // by port number
	// Endpoints are the Gateway's addresses that the API server accepts in
	// an EndpointSlice: loopback, link-local, unspecified and multicast
	// addresses are left out (the API server refuses them). With none, the
	// Service has no EndpointSlice.
	Endpoints []netip.Addr
}

// ServicePort is one distinct listener port of a Gateway.
type ServicePort struct {
	Name string // "<protocol>-<port>", lower case: "http-80", "https-443"
	Port int32
}

var dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// ServiceName is the name of the Service generated for Gateway gw:
// "<gw>-portico" when that is a valid Service name (a DNS-1035 label of at
// most 63 characters). Otherwise (a long name, or one with dots or a
// leading digit, which Gateway names may have) the name is made valid,
// cut, and given the first 8 hex digits of the SHA-256 of the Gateway's
// name before the suffix, so that two Gateways never share a Service.
func ServiceName(gw string) string {
	if n := gw + serviceSuffix; len(n) <= validation.DNS1035LabelMaxLength && dns1035.MatchString(n) {
		return n
	}
	sum := sha256.Sum256([]byte(gw))
	tail := "-" + hex.EncodeToString(sum[:4]) + serviceSuffix
	head := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, gw)
	if head == "" || head[0] < 'a' || head[0] > 'z' {
		head = "gw-" + head
	}
	head = strings.TrimRight(head[:min(len(head), validation.DNS1035LabelMaxLength-len(tail))], "-")
	return head + tail
}

// services computes the Services of the Accepted Gateways.
func (t *translator) services() []GatewayService {
	if !t.cfg.Services {
		return nil
	}
	var out []GatewayService
	for _, g := range t.gateways {
		if ok, _, _ := g.acceptedStatus(); !ok {
			continue
		}
		ports := servicePorts(g)
		if len(ports) == 0 {
			continue // a Service needs a port; no valid listener has one
		}
		s := GatewayService{
			Namespace: g.gw.Namespace, Name: ServiceName(g.gw.Name), Gateway: g.gw.Name, GatewayUID: g.gw.UID,
			Labels: map[string]string{}, Annotations: map[string]string{ControllerAnnotation: t.cfg.ControllerName},
			Ports: ports,
		}
		if inf := g.gw.Spec.Infrastructure; inf != nil {
			for k, v := range inf.Labels {
				s.Labels[string(k)] = string(v)
			}
			for k, v := range inf.Annotations {
				s.Annotations[string(k)] = string(v)
			}
		}
		// Portico's own labels win over infrastructure labels of the same key.
		s.Labels[ManagedByLabel] = ManagedByValue
		if len(validation.IsValidLabelValue(g.gw.Name)) == 0 {
			// A Gateway name longer than 63 characters cannot be a label value.
			s.Labels[gwv1.GatewayNameLabelKey] = g.gw.Name
		} else {
			delete(s.Labels, gwv1.GatewayNameLabelKey)
		}
		for _, a := range g.addrs {
			if endpointAddress(a) {
				s.Endpoints = append(s.Endpoints, a)
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b GatewayService) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// servicePorts are the distinct ports of g's valid listeners (its own and
// those of its allowed ListenerSets), named after the first listener's
// protocol on each.
func servicePorts(g *gatewayState) []ServicePort {
	byPort := map[int32]string{}
	for _, l := range g.allListeners() {
		if !l.attachable() {
			continue
		}
		p := int32(l.spec.Port)
		if _, ok := byPort[p]; !ok {
			byPort[p] = fmt.Sprintf("%s-%d", strings.ToLower(string(l.spec.Protocol)), p)
		}
	}
	out := make([]ServicePort, 0, len(byPort))
	for _, p := range slices.Sorted(maps.Keys(byPort)) {
		out = append(out, ServicePort{Name: byPort[p], Port: p})
	}
	return out
}

// endpointAddress reports whether the API server accepts ip as an
// EndpointSlice endpoint (k8s.io/kubernetes pkg/apis/discovery/validation:
// not unspecified, loopback, link-local or multicast).
func endpointAddress(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsMulticast()
}
