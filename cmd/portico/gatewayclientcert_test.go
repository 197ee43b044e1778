package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"portico.dev/portico/gateway"
	"portico.dev/portico/tlsstore"
)

// clientIdentity is a self-signed client certificate (its own CA).
func clientIdentity(t *testing.T, cn string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// mtlsGet makes one request over TLS presenting client (none when nil) and
// returns the status, or 0 when the handshake or request was refused.
func mtlsGet(t *testing.T, addr string, client *tls.Certificate) int {
	t.Helper()
	cfg := &tls.Config{ServerName: "a.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")); err != nil {
		return 0
	}
	var status int
	var proto string
	if _, err := fmt.Fscan(bufio.NewReader(c), &proto, &status); err != nil {
		return 0 // TLS 1.3: a refused client certificate shows on the first read
	}
	return status
}

// TestGatewayPortsClientCertificates: a port with AllowValidOnly serves
// only clients whose certificate chains to its CAs; AllowInsecureFallback
// serves everyone; the mode follows Apply.
func TestGatewayPortsClientCertificates(t *testing.T) {
	t.Parallel()
	f := newGWFixture(t, dataplaneFlags{})
	a := gwBackend(t, "a", nil)
	good, goodLeaf := clientIdentity(t, "good")
	bad, _ := clientIdentity(t, "bad")
	pool := x509.NewCertPool()
	pool.AddCert(goodLeaf)
	addr := freeAddr(t)
	port := func(v *gateway.ClientValidation) gateway.Port {
		return gateway.Port{Addr: addr, Protocol: gateway.HTTPS, ClientValidation: v, Listeners: []gateway.Listener{
			{Hostname: "a.test", Table: gwTable(t, "a", a), Certificates: []*tlsstore.Certificate{testCert(t, "a.test")}}}}
	}
	f.gw.Apply([]gateway.Port{port(&gateway.ClientValidation{CAs: pool})})
	for _, tc := range []struct {
		name   string
		client *tls.Certificate
		want   int
	}{
		{"valid certificate", &good, 200},
		{"certificate of another CA", &bad, 0},
		{"no certificate", nil, 0},
	} {
		if got := mtlsGet(t, addr.String(), tc.client); got != tc.want {
			t.Errorf("AllowValidOnly, %s: status %d, want %d (0: refused)", tc.name, got, tc.want)
		}
	}
	f.gw.Apply([]gateway.Port{port(&gateway.ClientValidation{CAs: pool, InsecureFallback: true})})
	for _, tc := range []struct {
		name   string
		client *tls.Certificate
	}{{"valid certificate", &good}, {"certificate of another CA", &bad}, {"no certificate", nil}} {
		if got := mtlsGet(t, addr.String(), tc.client); got != 200 {
			t.Errorf("AllowInsecureFallback, %s: status %d, want 200", tc.name, got)
		}
	}
	f.gw.Apply([]gateway.Port{port(nil)})
	if got := mtlsGet(t, addr.String(), nil); got != 200 {
		t.Errorf("validation removed, no certificate: status %d, want 200", got)
	}
}
