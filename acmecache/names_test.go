package acmecache

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestObjectNames(t *testing.T) {
	t.Parallel()
	keys := []string{
		"example.com", "EXAMPLE.com", "acme_account+key", "acme_account.key",
		"a0B1-c_D+http-01", "a0b1-c-d+http-01", "example.com+rsa", "example.com+token",
		strings.Repeat("x", 300) + ".example.com", "", ".", "-a-",
	}
	seen := map[string]string{}
	for _, k := range keys {
		for _, name := range []string{SecretName(k), LeaseName(k)} {
			if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
				t.Errorf("name %q for key %q is invalid: %v", name, k, errs)
			}
		}
		name := SecretName(k)
		if other, dup := seen[name]; dup {
			t.Errorf("keys %q and %q share the Secret name %q", other, k, name)
		}
		seen[name] = k
	}
	if got := SecretName("shop.example.com"); !strings.HasPrefix(got, "portico-acme-shop-example-com-") {
		t.Errorf("SecretName(shop.example.com) = %q: the host should be readable in it", got)
	}
}
