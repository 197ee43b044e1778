package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/acme"
	"k8s.io/client-go/kubernetes"

	"portico.dev/portico/acmecache"
	"portico.dev/portico/acmecert"
	"portico.dev/portico/controller"
	"portico.dev/portico/tlsstore"
)

// acmeFlags are the --acme-* flags. ACME is off unless a directory URL is
// given: ordering from a public CA is something to choose, not a default.
type acmeFlags struct {
	directoryURL string
	email        string
	caFile       string
	namespace    string
}

func (a *acmeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.directoryURL, "acme-directory-url", "", "ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory; enables certificates for Ingresses annotated portico.dev/acme: \"true\" (default: ACME off)")
	fs.StringVar(&a.email, "acme-email", "", "contact email of the ACME account")
	fs.StringVar(&a.caFile, "acme-ca-file", "", "PEM file of CA certificates to trust, besides the system roots, when talking to the ACME server (for a private ACME CA)")
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	fs.StringVar(&a.namespace, "acme-namespace", ns, "namespace of the Secrets (shared certificate cache) and Leases (order locks) that ACME uses; default $POD_NAMESPACE, else \"default\"")
}

func (a *acmeFlags) validate() error {
	if a.directoryURL == "" {
		return nil
	}
	u, err := url.Parse(a.directoryURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("--acme-directory-url: %q: want an https:// URL", a.directoryURL)
	}
	if a.namespace == "" {
		return fmt.Errorf("--acme-namespace must not be empty")
	}
	return nil
}

// acmeWiring is what ACME adds to the servers. Its zero value (ACME off)
// changes nothing.
type acmeWiring struct {
	mgr *acmecert.Manager
}

// setupACME builds the ACME manager and starts its refresh loop, or returns
// the zero wiring when ACME is off.
func setupACME(ctx context.Context, c *config, client kubernetes.Interface, reg prometheus.Registerer, log *slog.Logger) (acmeWiring, error) {
	a := c.acme
	if a.directoryURL == "" {
		return acmeWiring{}, nil
	}
	hc, err := acmeHTTPClient(a.caFile)
	if err != nil {
		return acmeWiring{}, err
	}
	identity, _ := os.Hostname()
	suffix := make([]byte, 4)
	rand.Read(suffix)
	identity += "-" + hex.EncodeToString(suffix)
	orders := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_acme_orders_total",
		Help: "ACME certificate orders made by this replica, by result: success or error.",
	}, []string{"result"})
	reg.MustRegister(orders)
	alog := log.With("component", "acme")
	mgr, err := acmecert.New(acmecert.Config{
		DirectoryURL: a.directoryURL,
		Email:        a.email,
		HTTPClient:   hc,
		Cache:        &acmecache.SecretCache{Client: client, Namespace: a.namespace},
		Locker:       &acmecache.LeaseLocker{Client: client, Namespace: a.namespace, Identity: identity, Log: alog},
		Log:          alog,
		OnOrder: func(host string, err error) {
			if err != nil {
				orders.WithLabelValues("error").Inc()
				alog.Error("ACME order failed", "host", host, "err", err)
				return
			}
			orders.WithLabelValues("success").Inc()
		},
	})
	if err != nil {
		return acmeWiring{}, err
	}
	go mgr.Run(ctx)
	alog.Info("ACME enabled", "directory", a.directoryURL, "namespace", a.namespace, "identity", identity)
	return acmeWiring{mgr: mgr}, nil
}

func acmeHTTPClient(caFile string) (*http.Client, error) {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--acme-ca-file %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}

// storeConfig is the certificate store's configuration: with ACME, hosts
// no Secret certificate covers are asked of the ACME manager.
func (w acmeWiring) storeConfig() tlsstore.Config {
	if w.mgr == nil {
		return tlsstore.Config{}
	}
	return tlsstore.Config{OnMissing: w.mgr.GetCertificate}
}

// hosts is where the controller reports ACME hosts; nil without ACME.
func (w acmeWiring) hosts() controller.ACMEHosts {
	if w.mgr == nil {
		return nil
	}
	return w.mgr
}

// httpHandler answers HTTP-01 challenges before h routes or redirects.
func (w acmeWiring) httpHandler(h http.Handler) http.Handler {
	if w.mgr == nil {
		return h
	}
	return w.mgr.HTTPHandler(h)
}

// tlsConfig lets TLS-ALPN-01 validations (RFC 8737) reach the ACME
// manager, ahead of the Secret certificates that may cover the same host.
func (w acmeWiring) tlsConfig(cfg *tls.Config) *tls.Config {
	if w.mgr == nil {
		return cfg
	}
	get := cfg.GetCertificate
	cfg.NextProtos = append(cfg.NextProtos, acme.ALPNProto)
	cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if acmecert.IsChallenge(hello) {
			return w.mgr.ChallengeCertificate(hello)
		}
		return get(hello)
	}
	return cfg
}
