package harness

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Pebble is a running Pebble ACME server (github.com/letsencrypt/pebble)
// with its mock DNS server pebble-challtestsrv, both on loopback. Every
// name resolves to 127.0.0.1 (no AAAA answers), so Pebble validates
// HTTP-01 at 127.0.0.1:HTTPPort and TLS-ALPN-01 at 127.0.0.1:TLSPort.
type Pebble struct {
	DirectoryURL string // https://127.0.0.1:PORT/dir
	CAFile       string // PEM of the CA that signed Pebble's own HTTPS certificate (for --acme-ca-file)
	LogPath      string
	mgmtURL      string
	client       *http.Client
}

// PebbleBinDir builds (or finds in the cache) pebble and
// pebble-challtestsrv with `hack/tools.sh pebble`.
func PebbleBinDir(ctx context.Context) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "portico-pebble-tools.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "tools.sh"), "pebble")
	cmd.Dir, cmd.Stderr = root, &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/tools.sh pebble failed: %w\n%s", err, stderr.String())
	}
	return strings.TrimSpace(lastLine(string(out))), nil
}

// StartPebble runs Pebble validating HTTP-01 on httpPort and TLS-ALPN-01
// on tlsPort of 127.0.0.1, and stops it (by PID) when the test ends.
func StartPebble(t testing.TB, httpPort, tlsPort int) *Pebble {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := PebbleBinDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caPEM, certPEM, keyPEM, err := loopbackPKI()
	if err != nil {
		t.Fatal(err)
	}
	p := &Pebble{CAFile: filepath.Join(dir, "ca.pem"), LogPath: filepath.Join(dir, "pebble.log")}
	files := map[string][]byte{p.CAFile: caPEM, filepath.Join(dir, "cert.pem"): certPEM, filepath.Join(dir, "key.pem"): keyPEM}
	ports, err := FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	acmeAddr, mgmtAddr, dnsAddr, dnsMgmtAddr := loop(ports[0]), loop(ports[1]), loop(ports[2]), loop(ports[3])
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":                  acmeAddr,
		"managementListenAddress":        mgmtAddr,
		"certificate":                    filepath.Join(dir, "cert.pem"),
		"privateKey":                     filepath.Join(dir, "key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"profiles":                       map[string]any{"default": map[string]any{"description": "default", "validityPeriod": 7776000}},
	}})
	files[filepath.Join(dir, "pebble.json")] = cfg
	for path, b := range files {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logf, err := os.Create(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	start := func(cmd *exec.Cmd) {
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := startOnLockedThread(cmd); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	start(exec.Command(filepath.Join(bin, "pebble-challtestsrv"),
		"-dnsserver", dnsAddr, "-management", dnsMgmtAddr, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", ""))
	pebble := exec.Command(filepath.Join(bin, "pebble"), "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", dnsAddr)
	pebble.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	start(pebble)
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(p.LogPath); err == nil {
				t.Logf("pebble log (%s):\n%s", p.LogPath, tail(b, 80))
			}
		}
	})

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	p.DirectoryURL = "https://" + acmeAddr + "/dir"
	p.mgmtURL = "https://" + mgmtAddr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := p.client.Get(p.DirectoryURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready at %s: %v", p.DirectoryURL, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func loop(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Roots returns the roots Pebble issues under (generated at its start).
func (p *Pebble) Roots() (*x509.CertPool, error) {
	resp, err := p.client.Get(p.mgmtURL + "/roots/0")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("pebble /roots/0: no certificate in %q", b)
	}
	return pool, nil
}

// LogCount counts lines of Pebble's log containing s, e.g. "Added order"
// or "Issued certificate".
func (p *Pebble) LogCount(s string) int {
	b, _ := os.ReadFile(p.LogPath)
	return bytes.Count(b, []byte(s))
}

// loopbackPKI makes a throwaway CA and a serving certificate for
// 127.0.0.1 and localhost signed by it.
func loopbackPKI() (caPEM, certPEM, keyPEM []byte, err error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pebble-test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pebble"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
