package gateway

import (
	"crypto/x509"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1b1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

// Snapshot is everything Translate reads: the informers' view of the
// cluster at one moment. Translate never modifies it.
type Snapshot struct {
	Classes         []*gwv1.GatewayClass
	Gateways        []*gwv1.Gateway
	ListenerSets    []*gwv1.ListenerSet
	HTTPRoutes      []*gwv1.HTTPRoute
	ReferenceGrants []*gwv1b1.ReferenceGrant
	// Namespaces by name, for listeners' allowedRoutes namespace selectors.
	Namespaces map[string]*corev1.Namespace
	Services   map[types.NamespacedName]*corev1.Service
	// Slices are a Service's EndpointSlices, keyed by the Service.
	Slices  map[types.NamespacedName][]*discoveryv1.EndpointSlice
	Secrets map[types.NamespacedName]*corev1.Secret
	// ConfigMaps hold CA bundles (key ca.crt) for client certificate
	// validation (Gateway spec.tls.frontend).
	ConfigMaps map[types.NamespacedName]*corev1.ConfigMap
	// BackendTLSPolicies say how to verify TLS backends (their CA
	// bundles are ConfigMaps too).
	BackendTLSPolicies []*gwv1.BackendTLSPolicy
}

// Config is what Translate needs besides the objects.
type Config struct {
	// ControllerName is the GatewayClass spec.controllerName Portico owns
	// (--gateway-controller-name).
	ControllerName string
	// AddressPool, when valid, is where Gateways without spec.addresses get
	// an address of their own (--gateway-address-pool).
	AddressPool netip.Prefix
	// Published are the addresses Portico already publishes for Ingresses
	// (--publish-service, --publish-status-address): the Gateway address
	// of last resort, shared by every Gateway without one of its own.
	// Parsed IPs only; hostnames are reported in status but not bound.
	Published []netip.Addr
	// Unavailable are the ports the data plane could not open last time
	// (address:port → the error, e.g. a bind error): their listeners are
	// not Programmed (PortUnavailable).
	Unavailable map[netip.AddrPort]string
	// Now is the time certificates are checked against; nil means time.Now.
	Now func() time.Time
	// Services turns on the Services Portico maintains for Accepted
	// Gateways (--gateway-services): Result.Services, and the
	// GatewayInfrastructure feature in status.supportedFeatures.
	Services bool
}

// Result is what Translate returns: the data plane and the status.
type Result struct {
	// Ports are the sockets to serve, sorted by address.
	Ports  []Port
	Status Status
	// Problems become Warning Events on the object they name.
	Problems []Problem
	// Services are the Services to maintain for Accepted Gateways, sorted
	// by namespace and name; empty unless Config.Services.
	Services []GatewayService
}

// Protocol of a Port.
type Protocol uint8

const (
	HTTP Protocol = iota
	HTTPS
)

func (p Protocol) String() string {
	if p == HTTPS {
		return "HTTPS"
	}
	return "HTTP"
}

// Port is one socket: every Gateway listener bound to this address and
// port, which must all speak the same protocol (others are Conflicted and
// left out).
type Port struct {
	Addr     netip.AddrPort
	Protocol Protocol
	// Listeners, most specific hostname first. A request is served by the
	// listener whose hostname matches its Host most specifically
	// (listener isolation); on HTTPS the TLS server name picks the
	// certificate the same way, and a Host that picks another listener
	// than the server name is a misdirected request (421).
	Listeners []Listener
	// ClientValidation, when set on an HTTPS port, asks clients for a
	// certificate (Gateway spec.tls.frontend); nil: no client certificates.
	ClientValidation *ClientValidation
}

// ClientValidation is how an HTTPS port checks client certificates.
type ClientValidation struct {
	// CAs are the trust anchors a client certificate must chain to.
	CAs *x509.CertPool
	// InsecureFallback (AllowInsecureFallback) accepts a connection without
	// a certificate or with one that does not verify; otherwise one that
	// verifies is required (AllowValidOnly).
	InsecureFallback bool
}

// Listener is one Gateway listener as the data plane sees it.
type Listener struct {
	Gateway types.NamespacedName
	// ListenerSet is the ListenerSet the listener comes from; zero for the
	// Gateway's own listeners.
	ListenerSet types.NamespacedName
	Name        string // the listener's name within its Gateway or ListenerSet
	Hostname    string // lower case; "*.example.com"; "" for any host
	// Table holds the rules of every route attached to this listener, with
	// hosts already intersected with Hostname.
	Table *router.Table
	// Certificates of an HTTPS listener, in certificateRefs order.
	Certificates []*tlsstore.Certificate
}

// Status is the status Translate computed, for the leader to write. Only
// objects Portico is responsible for appear.
type Status struct {
	Classes  map[string]*gwv1.GatewayClassStatus
	Gateways map[types.NamespacedName]*gwv1.GatewayStatus
	// ListenerSets that name a Gateway of Portico's as their parent.
	ListenerSets map[types.NamespacedName]*gwv1.ListenerSetStatus
	// HTTPRoutes holds, per route, the status.parents entries of this
	// controller (ControllerName is Config.ControllerName); entries of
	// other controllers are the writer's to keep.
	HTTPRoutes map[types.NamespacedName][]gwv1.RouteParentStatus
	// BackendTLSPolicies holds, for every policy, the status.ancestors
	// entries of this controller: one per Gateway whose routes use a
	// Service the policy targets (none: the writer drops entries of ours
	// left from before).
	BackendTLSPolicies map[types.NamespacedName][]gwv1.PolicyAncestorStatus
}

// Problem is something wrong with one object, for an Event.
type Problem struct {
	Kind      string // "Gateway", "HTTPRoute", ...
	Namespace string
	Name      string
	Reason    string // the condition reason, e.g. "BackendNotFound"
	Message   string
}

// Translate turns a snapshot into ports and status. It is a pure function:
// the same snapshot and config always give the same result.
func Translate(s *Snapshot, cfg Config) *Result {
	return translate(s, cfg)
}
