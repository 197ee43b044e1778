package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"portico.dev/portico/controller"
)

var errHelp = errors.New("help requested")

// config is every flag, parsed and validated. Flag names are a contract with
// users and tools: never rename one.
type config struct {
	kubeconfig        string
	httpAddr          string
	httpsAddr         string
	metricsAddr       string
	ingressClass      string
	controllerName    string
	watchNamespace    string
	watchWithoutClass bool
	defaultBackend    *controller.ServiceRef
	defaultCert       *types.NamespacedName
	hsts              string
	nginxConfigMap    *types.NamespacedName // --nginx-configmap; nil for none
	shutdownGrace     time.Duration
	kubeAPIQPS        float32
	kubeAPIBurst      int
	shutdownDelay     time.Duration
	readHeaderTimeout time.Duration // docs/reliability.md
	logLevel          slog.Level
	logFormat         string
	acme              acmeFlags      // acme.go
	leader            leaderFlags    // leader.go
	dp                dataplaneFlags // dataplane.go: --h2c, --proxy-protocol, --access-log, --trusted-proxies
	profiling         profilingFlags // profiling.go: --profiling
	gateway           gatewayFlags   // gatewayapi.go: --enable-gateway-api, --gateway-controller-name, --gateway-address-pool
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("portico", flag.ContinueOnError)
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "path to a kubeconfig file; default: in-cluster config, else $KUBECONFIG")
	fs.StringVar(&c.httpAddr, "http-addr", ":80", "address for plain HTTP traffic")
	fs.StringVar(&c.httpsAddr, "https-addr", ":443", "address for HTTPS traffic; empty disables HTTPS")
	fs.StringVar(&c.metricsAddr, "metrics-addr", ":10254", "address serving /metrics, /healthz, /readyz and /debug/routes")
	fs.StringVar(&c.ingressClass, "ingress-class", "portico", "IngressClass name (also matched against the legacy kubernetes.io/ingress.class annotation)")
	fs.StringVar(&c.controllerName, "controller-name", "portico.dev/ingress-controller", "IngressClass spec.controller value that Portico claims")
	fs.StringVar(&c.watchNamespace, "watch-namespace", "", "watch only this namespace (default: all namespaces)")
	fs.BoolVar(&c.watchWithoutClass, "watch-ingress-without-class", false, "also serve Ingresses that name no class")
	defBackend := fs.String("default-backend-service", "", "namespace/name:port of a Service for requests that match no rule (default: 404)")
	defCert := fs.String("default-ssl-certificate", "", "namespace/name of a kubernetes.io/tls Secret served when no other certificate matches (default: a self-signed certificate generated at start)")
	fs.StringVar(&c.hsts, "hsts", "", `Strict-Transport-Security for TLS hosts whose Ingress sets no portico.dev/hsts, e.g. "max-age=31536000; includeSubDomains" (default: none)`)
	nginxCM := fs.String("nginx-configmap", "", "namespace/name of an ingress-nginx ConfigMap whose keys set every Ingress's defaults, followed live (docs/nginx-configmap.md; default: none)")
	qps := fs.Float64("kube-api-qps", 50, "requests per second Portico may send to the API server (status writes, Events, Leases)")
	fs.IntVar(&c.kubeAPIBurst, "kube-api-burst", 100, "burst of requests allowed above --kube-api-qps")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 15*time.Second, "on SIGTERM, how long in-flight requests may take to finish")
	fs.DurationVar(&c.shutdownDelay, "shutdown-delay", 0, "on SIGTERM, how long to keep serving with /readyz failing before listeners close (lets load balancers notice)")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers on the HTTP and HTTPS listeners before the connection is closed (slowloris defence)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or text")
	c.acme.register(fs)
	addLeaderFlags(fs, &c.leader)
	c.dp.register(fs)
	c.profiling.register(fs)
	c.gateway.register(fs)
	fs.Usage = func() { usage(fs.Output(), fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if c.kubeconfig == "" {
		c.kubeconfig = os.Getenv("KUBECONFIG")
	}
	if *defBackend != "" {
		ref, err := controller.ParseServiceRef(*defBackend)
		if err != nil {
			return nil, fmt.Errorf("--default-backend-service: %w", err)
		}
		c.defaultBackend = ref
	}
	if *defCert != "" {
		ns, name, ok := strings.Cut(*defCert, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("--default-ssl-certificate: %q: want namespace/name", *defCert)
		}
		c.defaultCert = &types.NamespacedName{Namespace: ns, Name: name}
	}
	if *nginxCM != "" {
		ns, name, ok := strings.Cut(*nginxCM, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("--nginx-configmap: %q: want namespace/name", *nginxCM)
		}
		c.nginxConfigMap = &types.NamespacedName{Namespace: ns, Name: name}
	}
	if err := c.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	if c.logFormat != "json" && c.logFormat != "text" {
		return nil, fmt.Errorf("--log-format: want json or text, got %q", c.logFormat)
	}
	if err := c.acme.validate(); err != nil {
		return nil, err
	}
	if err := c.leader.validate(); err != nil {
		return nil, err
	}
	if err := c.dp.validate(); err != nil {
		return nil, err
	}
	if err := c.gateway.validate(); err != nil {
		return nil, err
	}
	if *qps <= 0 || c.kubeAPIBurst <= 0 {
		return nil, fmt.Errorf("--kube-api-qps and --kube-api-burst must be positive")
	}
	c.kubeAPIQPS = float32(*qps)
	if c.readHeaderTimeout <= 0 {
		return nil, fmt.Errorf("--read-header-timeout must be positive")
	}
	if c.shutdownGrace <= 0 {
		return nil, fmt.Errorf("--shutdown-grace must be positive")
	}
	return c, nil
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Portico: a Kubernetes HTTP(S) ingress controller.

Usage:
  portico [flags]     run the controller and proxy
  portico version     print the version
  portico routes [--metrics-addr ADDR] [--url URL]
                      print a running instance's routing table, or which rule URL hits

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s\n      %s%s\n", f.Name, strings.TrimSpace(f.Usage), def)
	})
}
