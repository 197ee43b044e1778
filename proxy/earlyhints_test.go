package proxy

import (
	"net/http"
	"testing"

	"portico.dev/portico/router"
)

// A backend that sends 103 Early Hints: ReverseProxy copies the answer's
// headers onto the 103 and then clears them, so the headers Portico set
// before the exchange (the sticky cookie, HSTS) must be put back for the
// final answer (found in review).
func TestEarlyHintsKeepPorticosHeaders(t *testing.T) {
	_, addr := backend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		_, _ = w.Write([]byte("ok"))
	})
	f := newFixture(t, &router.Options{Affinity: &router.Affinity{Cookie: "route"}}, Config{}, addr)
	resp, _ := f.do(t, "GET", "/", nil)
	if resp.StatusCode != http.StatusOK || len(resp.Header.Values("Set-Cookie")) != 1 {
		t.Errorf("after a 103: status %d, Set-Cookie %q; want 200 and the affinity cookie", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
}
