package router

import (
	"net/http"
	"regexp"
	"testing"
)

// TestCanaryChooses is ingress-nginx balancer.lua
// route_to_alternative_balancer as a table: header, then cookie, then weight.
func TestCanaryChooses(t *testing.T) {
	t.Parallel()
	byHeader := &Canary{Header: "Canarybyheader", Cookie: "CanaryByCookie", Weight: 0, Total: 100}
	byValue := &Canary{Header: "Canarybyheader", HeaderValue: "DoCanary", Cookie: "CanaryByCookie", Total: 100}
	byPattern := &Canary{Header: "Canarybyheader", HeaderPattern: regexp.MustCompile("^Do[A-Z][a-z]+y$"), Cookie: "CanaryByCookie", Total: 100}
	valueAndPattern := &Canary{Header: "Canarybyheader", HeaderValue: "DoCanary", HeaderPattern: regexp.MustCompile("^Do"), Total: 100}
	all := &Canary{Header: "Canarybyheader", Cookie: "CanaryByCookie", Weight: 100, Total: 100}
	tests := []struct {
		name   string
		c      *Canary
		header string // CanaryByHeader value, "" for none
		cookie string // CanaryByCookie value, "" for none
		n      uint64
		want   bool
	}{
		{"header always", byHeader, "always", "", 0, true},
		{"header never", byHeader, "never", "", 0, false},
		{"header other: weight 0", byHeader, "badheadervalue", "", 0, false},
		{"header never beats cookie always", byHeader, "never", "always", 0, false},
		{"header always beats cookie never", byHeader, "always", "never", 0, true},
		{"header other falls to cookie always", byHeader, "foo", "always", 0, true},
		{"no header, cookie always", byHeader, "", "always", 0, true},
		{"no header, cookie never", byHeader, "", "never", 0, false},
		{"cookie other: weight 0", byHeader, "", "foo", 0, false},
		{"value match", byValue, "DoCanary", "", 0, true},
		{"value mismatch", byValue, "otherheadervalue", "", 0, false},
		{"value set: always is just a value", byValue, "always", "", 0, false},
		{"value set: never falls to cookie", byValue, "never", "always", 0, true},
		{"pattern match", byPattern, "DoCanary", "", 0, true},
		{"pattern mismatch", byPattern, "otherheadervalue", "", 0, false},
		{"pattern mismatch falls to cookie", byPattern, "nope", "always", 0, true},
		{"value wins over pattern", valueAndPattern, "DoOther", "", 0, false},
		{"weight 100 beats no rule", all, "", "", 99, true},
		{"header never beats weight 100", all, "never", "", 0, false},
		{"cookie never beats weight 100", all, "", "never", 0, false},
		{"weight 30: n%100=29 canary", &Canary{Weight: 30, Total: 100}, "", "", 129, true},
		{"weight 30: n%100=30 main", &Canary{Weight: 30, Total: 100}, "", "", 130, false},
		{"weight above total: always", &Canary{Weight: 200, Total: 100}, "", "", 99, true},
		{"weight 0", &Canary{Weight: 0, Total: 100}, "", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://foo.com/", nil)
			if tt.header != "" {
				r.Header.Set("CanaryByHeader", tt.header)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "CanaryByCookie", Value: tt.cookie})
			}
			if got := tt.c.Chooses(r, tt.n); got != tt.want {
				t.Errorf("Chooses = %v, want %v", got, tt.want)
			}
		})
	}
}
