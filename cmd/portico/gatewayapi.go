package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"

	"k8s.io/client-go/kubernetes"

	"portico.dev/portico/controller"
	"portico.dev/portico/gateway"
)

// gatewayFlags are the Gateway API flags (docs/controller.md, "Gateway API").
type gatewayFlags struct {
	enable         string // "true", "false" or "auto"
	controllerName string
	poolRaw        string
	pool           netip.Prefix // invalid (zero) when no pool is set
	services       bool
}

func (g *gatewayFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.enable, "enable-gateway-api", "auto", "serve the Gateway API (GatewayClass, Gateway, HTTPRoute, ReferenceGrant): true, false, or auto = when its CRDs are installed and Portico may read them")
	fs.StringVar(&g.controllerName, "gateway-controller-name", "portico.dev/gateway-controller", "GatewayClass spec.controllerName that Portico claims")
	fs.BoolVar(&g.services, "gateway-services", false, "maintain a ClusterIP Service <gateway>-portico per Accepted Gateway, with its spec.infrastructure labels and annotations and its addresses as endpoints (needs the deploy/components/gateway-services RBAC)")
	fs.StringVar(&g.poolRaw, "gateway-address-pool", "", "CIDR, e.g. 10.0.0.0/24, from which Gateways without spec.addresses get an address of their own (default: none; Gateways share the --publish-status-address IPs)")
}

// gatewayControllerName is the CRD's pattern for GatewayController: a
// domain-prefixed path.
var gatewayControllerName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$`)

func (g *gatewayFlags) validate() error {
	switch g.enable {
	case "true", "false", "auto":
	default:
		return fmt.Errorf("--enable-gateway-api: want true, false or auto, got %q", g.enable)
	}
	if n := g.controllerName; len(n) > 253 || !gatewayControllerName.MatchString(n) {
		return fmt.Errorf("--gateway-controller-name: %q is not a domain-prefixed path such as example.com/gateway-controller", n)
	}
	if g.poolRaw != "" {
		p, err := netip.ParsePrefix(g.poolRaw)
		if err != nil {
			return fmt.Errorf("--gateway-address-pool: %q: want a CIDR such as 10.0.0.0/24", g.poolRaw)
		}
		if p != p.Masked() {
			return fmt.Errorf("--gateway-address-pool: %q has host bits set; did you mean %s?", g.poolRaw, p.Masked())
		}
		g.pool = p
	}
	return nil
}

// translateConfig is what gateway.Translate needs from the flags. The
// published addresses are the IPs of --publish-status-address (host names
// cannot be bound). --publish-service's addresses are known only to the
// leader's status writer, so they are not used here.
func (c *config) gatewayTranslateConfig() gateway.Config {
	cfg := gateway.Config{ControllerName: c.gateway.controllerName, AddressPool: c.gateway.pool, Services: c.gateway.services}
	for _, a := range c.leader.publishAddresses {
		if ip, err := netip.ParseAddr(a.IP); err == nil {
			cfg.Published = append(cfg.Published, ip)
		}
	}
	return cfg
}

// gatewayAPIEnabled applies --enable-gateway-api. auto turns the Gateway API
// on when the API server serves its CRDs and Portico may read them; when it
// cannot, Portico logs one line and serves Ingresses only (it does not exit:
// a cluster without the CRDs is normal, and a crash loop would help no
// one). true makes the same absence a start-up error.
func gatewayAPIEnabled(ctx context.Context, mode string, client kubernetes.Interface, namespace string, log *slog.Logger) (bool, error) {
	if mode == "false" {
		return false, nil
	}
	ok, why, err := controller.DetectGatewayAPI(ctx, client, namespace, log)
	if err != nil {
		return false, fmt.Errorf("--enable-gateway-api=%s: %w", mode, err)
	}
	switch {
	case ok:
		log.Info("Gateway API enabled", "mode", mode)
		return true, nil
	case mode == "true":
		return false, fmt.Errorf("--enable-gateway-api=true: %s", why)
	default:
		log.Info("Gateway API disabled: "+why+"; serving Ingresses only (after installing the CRDs, restart Portico)", "mode", mode)
		return false, nil
	}
}
