package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"portico.dev/portico/controller"
	"portico.dev/portico/h1"
	"portico.dev/portico/passthrough"
	"portico.dev/portico/proxy"
	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

func newLogger(c *config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.logLevel}
	if c.logFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("no --kubeconfig, no $KUBECONFIG and not in a cluster: %w", err)
	}
	return cfg, nil
}

// run wires the pieces and blocks until ctx ends and the drain is over.
func run(ctx context.Context, c *config) error {
	log := newLogger(c)
	slog.SetDefault(log)
	tuneGC(log)
	rc, err := restConfig(c.kubeconfig)
	if err != nil {
		return err
	}
	rc.UserAgent = "portico/" + version
	// client-go's default of 5 requests/s makes a leader with hundreds of
	// Ingresses take minutes to publish status.
	rc.QPS, rc.Burst = c.kubeAPIQPS, c.kubeAPIBurst
	// After an API server outage, informers catch up as soon as it is
	// back, not after client-go's back-off (see waitForAPIServer).
	rc.Wrap(newWaitForAPIServer)
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	// Events get a client (and so a rate limiter) of their own: a burst of
	// status writes must never delay the Event that explains a problem.
	eventClient, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The controller outlives the servers' drain: it stops after them.
	ctrlCtx, stopCtrl := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCtrl()

	live := &router.Live{}
	acmeW, err := setupACME(ctrlCtx, c, client, reg, log)
	if err != nil {
		return err
	}
	store, err := tlsstore.New(acmeW.storeConfig())
	if err != nil {
		return err
	}
	store.RotateTicketKeys(ctrlCtx, time.Hour)
	status := newStatusWriter(&c.leader, client, log.With("component", "status"))
	ctrlCfg := controller.Config{
		Client:    client,
		Namespace: c.watchNamespace,
		Compile: controller.CompileConfig{
			Class: controller.ClassConfig{
				ControllerName:    c.controllerName,
				IngressClass:      c.ingressClass,
				WatchWithoutClass: c.watchWithoutClass,
			},
			DefaultBackend: c.defaultBackend,
			DefaultCert:    c.defaultCert,
			HSTS:           c.hsts,
			SSLPassthrough: c.dp.sslPassthrough,
		},
		Live:    live,
		TLS:     store,
		ACME:    acmeW.hosts(),
		Log:     log.With("component", "controller"),
		Events:  controller.NewEventSink(ctrlCtx, eventClient, "portico"),
		Metrics: controller.NewMetrics(reg),
		Status:  status,

		NginxConfigMap: c.nginxConfigMap,
		TrustedProxies: len(c.dp.trustedProxies) > 0,
	}
	leads := []func(context.Context){}
	if status != nil {
		leads = append(leads, status.Lead)
	}

	var draining atomic.Bool
	dp := newDataplane(&c.dp, live, log, proxy.NewMetrics(reg))
	httpsPort := addrPort(c.httpsAddr)
	httpSrv := dp.server(serverConfig{scheme: "http", port: addrPort(c.httpAddr), httpsPort: httpsPort,
		handler: acmeW.httpHandler, readHeaderTimeout: c.readHeaderTimeout}) // HTTP-01 challenges before routing
	servers := []*h1.Server{httpSrv}
	var httpsSrv *h1.Server
	if c.httpsAddr != "" {
		httpsSrv = dp.server(serverConfig{scheme: "https", port: httpsPort, readHeaderTimeout: c.readHeaderTimeout})
		tm := newTLSMetrics(reg)
		httpsSrv.TLSConfig = tm.instrument(acmeW.tlsConfig(store.TLSConfig()))
		httpsSrv.TLSHandshakeError = tm.handshakeError
		servers = append(servers, httpsSrv)
	}
	// Gateway API ports open and close as Gateways come and go: the
	// Gateway API controller hands gw.Apply the Ports of every
	// gateway.Translate result.
	gw := newGatewayPorts(gatewayPortsConfig{
		dp: dp, readHeaderTimeout: c.readHeaderTimeout, tlsConfig: store.TLSConfig,
		grace: c.shutdownGrace, log: log.With("component", "gateway"),
	})
	metricsSrv := &http.Server{
		Handler:           c.profiling.withProfiling(opsMux(reg, live, &draining)),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
	}

	// Bind every listener before anything else, so a port in use is a
	// clear start-up error.
	httpLn, err := net.Listen("tcp", c.httpAddr)
	if err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	var httpsLn net.Listener
	if httpsSrv != nil {
		if httpsLn, err = net.Listen("tcp", c.httpsAddr); err != nil {
			return fmt.Errorf("--https-addr: %w", err)
		}
	}
	metricsLn, err := net.Listen("tcp", c.metricsAddr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	httpLn, httpsLn = dp.listener(httpLn), dp.listener(httpsLn)
	if c.dp.sslPassthrough && httpsLn != nil {
		httpsLn = passthrough.NewListener(httpsLn, passthrough.Config{
			Route: func(sni string) ([]string, bool) {
				if b := live.Load().Passthrough(sni); b != nil {
					return b.Endpoints, true
				}
				return nil, false
			},
			Log: log.With("component", "passthrough"), Metrics: passthrough.NewMetrics(reg),
		})
	}
	log.Info("portico starting", "version", version, "http", httpLn.Addr().String(), "https", c.httpsAddr, "metrics", metricsLn.Addr().String(),
		"ingress_class", c.ingressClass, "controller_name", c.controllerName, "watch_namespace", c.watchNamespace)

	// The ops endpoints answer from here on (/healthz ok, /readyz not yet),
	// also while the Gateway API check below waits for the API server.
	var g errgroup.Group
	g.Go(func() error { return serve(metricsSrv, metricsLn) })
	gwOn, err := gatewayAPIEnabled(ctx, c.gateway.enable, client, c.watchNamespace, log.With("component", "gateway-api"))
	if err != nil {
		_ = metricsSrv.Close()
		if ctx.Err() != nil {
			log.Info("stopped during start-up")
			return nil
		}
		return err
	}
	if gwOn {
		if ctrlCfg.GatewayClient, err = gatewayclient.NewForConfig(rc); err != nil {
			_ = metricsSrv.Close()
			return err
		}
		ctrlCfg.Gateway = c.gatewayTranslateConfig()
		gwStatus := controller.NewGatewayStatusWriter(controller.GatewayStatusConfig{
			Client: ctrlCfg.GatewayClient, Log: log.With("component", "gateway-status"),
		})
		ctrlCfg.GatewayStatus = gwStatus
		leads = append(leads, gwStatus.Lead)
		if c.gateway.services {
			// --gateway-services: without it the Services written before are
			// left as they are (neither updated nor deleted).
			gwServices := controller.NewGatewayServiceWriter(controller.GatewayServicesConfig{
				Client: client, Log: log.With("component", "gateway-services"),
			})
			ctrlCfg.GatewayServices = gwServices
			leads = append(leads, gwServices.Lead)
		}
		ctrlCfg.GatewayPorts = gw.Apply
		ctrlCfg.GatewayPortErrors = gw.Errors
		ctrlCfg.GatewayExtras = controller.DetectGatewayExtras(ctx, client, c.watchNamespace, log.With("component", "gateway-api"))
	}
	ctrl := controller.New(ctrlCfg)

	stopLeader := startLeaderElection(ctx, &c.leader, client, leadAll(leads), reg, log.With("component", "leader"))
	ctrlDone := make(chan error, 1)
	go func() { ctrlDone <- ctrl.Run(ctrlCtx) }()

	g.Go(func() error { return serveH1(httpSrv, httpLn) })
	if httpsSrv != nil {
		g.Go(func() error { return serveH1(httpsSrv, httpsLn) })
	}

	select {
	case <-ctx.Done():
	case err := <-ctrlDone:
		if err != nil {
			log.Error("controller stopped", "err", err)
		}
	}

	// Graceful stop: fail readiness first, keep serving for the delay so
	// load balancers notice, then stop accepting and let in-flight
	// requests finish within the grace period.
	draining.Store(true)
	leaderReleased := stopLeader()
	log.Info("shutting down", "delay", c.shutdownDelay, "grace", c.shutdownGrace)
	time.Sleep(c.shutdownDelay)
	graceCtx, cancel := context.WithTimeout(context.Background(), c.shutdownGrace)
	defer cancel()
	var sg sync.WaitGroup
	sg.Go(func() { gw.Shutdown(graceCtx) })
	for _, srv := range servers {
		sg.Go(func() {
			if err := srv.Shutdown(graceCtx); err != nil {
				log.Warn("in-flight requests cut at the end of the grace period", "err", err)
				_ = srv.Close()
			}
		})
	}
	sg.Wait()
	stopCtrl()
	<-leaderReleased
	_ = metricsSrv.Shutdown(graceCtx)
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

func serveH1(srv *h1.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer sets a timeout on every socket: slow or idle clients cannot hold
// connections forever.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
}

func opsMux(reg *prometheus.Registry, live *router.Live, draining *atomic.Bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /debug/routes", debugRoutes(live))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case draining.Load():
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case !live.Ready():
			http.Error(w, "no routing table yet", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte("ok\n"))
		}
	})
	return mux
}
