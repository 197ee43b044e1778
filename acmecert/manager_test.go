package acmecert

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"portico.dev/portico/tlsstore"
)

// memCache is an in-memory autocert.Cache standing in for the Secret store
// in tests that need no API server (the e2e test uses the real one).
type memCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memCache) Get(_ context.Context, k string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[k]; ok {
		return v, nil
	}
	return nil, autocert.ErrCacheMiss
}
func (c *memCache) Put(_ context.Context, k string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = v
	return nil
}
func (c *memCache) Delete(_ context.Context, k string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
	return nil
}

// noLock never grants the lock: nothing in these tests may order.
type noLock struct{}

func (noLock) TryLock(context.Context, string) (func(), bool, error) { return nil, false, nil }

func newManager(t *testing.T, cache *memCache) *Manager {
	t.Helper()
	m, err := New(Config{DirectoryURL: "https://acme.invalid/dir", Cache: cache, Locker: noLock{}, Wait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m.SetHosts([]string{"shop.example.com"})
	return m
}

// autocertEntry encodes a certificate the way autocert stores it: the
// private key first, then the chain.
func autocertEntry(t *testing.T, names ...string) []byte {
	t.Helper()
	now := time.Now()
	certPEM, keyPEM, err := tlsstore.SelfSigned(names, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return append(keyPEM, certPEM...)
}

func TestGetCertificate(t *testing.T) {
	t.Parallel()
	cache := &memCache{m: map[string][]byte{
		"shop.example.com":  autocertEntry(t, "shop.example.com"),
		"other.example.com": autocertEntry(t, "other.example.com"),
		"wrong.example.com": autocertEntry(t, "shop.example.com"),
	}}
	m := newManager(t, cache)
	m.SetHosts([]string{"Shop.Example.com", "wrong.example.com"})
	tests := []struct {
		sni     string
		wantSAN string // "" for a fall-through to the default
	}{
		{"shop.example.com", "shop.example.com"},
		{"SHOP.example.com.", "shop.example.com"},
		{"other.example.com", ""}, // cached, but not an ACME host
		{"wrong.example.com", ""}, // cached entry does not cover the host
		{"new.example.com", ""},
	}
	for _, tt := range tests {
		got, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: tt.sni})
		if err != nil {
			t.Fatalf("%s: %v", tt.sni, err)
		}
		switch {
		case tt.wantSAN == "" && got != nil:
			t.Errorf("%s: served %q, want a fall-through", tt.sni, got.Leaf.DNSNames)
		case tt.wantSAN != "" && (got == nil || got.Leaf.DNSNames[0] != tt.wantSAN):
			t.Errorf("%s: served %v, want %s", tt.sni, got, tt.wantSAN)
		}
	}
}

func TestHTTPHandler(t *testing.T) {
	t.Parallel()
	cache := &memCache{m: map[string][]byte{"tok123+http-01": []byte("tok123.thumbprint")}}
	m := newManager(t, cache)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := m.HTTPHandler(next)
	tests := []struct {
		name, host, path string
		wantStatus       int
		wantBody         string
	}{
		{"token from the shared cache", "shop.example.com:80", "/.well-known/acme-challenge/tok123", 200, "tok123.thumbprint"},
		{"unknown token", "shop.example.com", "/.well-known/acme-challenge/nope", 404, ""},
		{"not an ACME host: routed (e.g. cert-manager's solver)", "other.example.com", "/.well-known/acme-challenge/tok123", http.StatusTeapot, ""},
		{"other paths routed", "shop.example.com", "/", http.StatusTeapot, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "http://"+tt.host+tt.path, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus || (tt.wantBody != "" && w.Body.String() != tt.wantBody) {
				t.Errorf("%d %q, want %d %q", w.Code, w.Body.String(), tt.wantStatus, tt.wantBody)
			}
		})
	}
}
