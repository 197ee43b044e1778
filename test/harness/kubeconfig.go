package harness

import (
	"fmt"
	"path/filepath"
	"regexp"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

var safeName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// KubeconfigForToken writes Dir/kubeconfig-<name> that authenticates with a
// bearer token (for example a ServiceAccount token from TokenRequest, for RBAC
// tests) and returns its path. name is also the kubeconfig's user name.
func (c *ControlPlane) KubeconfigForToken(name, token string) (string, error) {
	if !safeName.MatchString(name) {
		return "", fmt.Errorf("kubeconfig name %q: use letters, digits, '.', '_' or '-'", name)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["portico-test"] = &clientcmdapi.Cluster{
		Server:                   c.URL,
		CertificateAuthorityData: c.pki.caPEM,
	}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "portico-test", AuthInfo: name}
	cfg.CurrentContext = name
	path := filepath.Join(c.Dir, "kubeconfig-"+name)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return path, nil
}

// ConfigForToken returns a rest.Config that authenticates with token.
func (c *ControlPlane) ConfigForToken(token string) *rest.Config {
	return c.configForToken(token)
}

func (c *ControlPlane) configForToken(token string) *rest.Config {
	return &rest.Config{
		Host:            c.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.pki.caPEM},
		// Tests create many objects quickly; client-go's default of 5 QPS
		// would make them slow for no benefit against a private server.
		QPS:   200,
		Burst: 400,
	}
}
