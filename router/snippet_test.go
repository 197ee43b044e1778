package router

import (
	"net/http"
	"reflect"
	"testing"
)

func TestSnippetRulesApplyResponse(t *testing.T) {
	s := &SnippetRules{
		ClearPrefixes: []string{"x-wild-"},
		Add:           []HeaderField{{Name: "X-Custom", Value: "present"}},
		AddAlways:     []HeaderField{{Name: "X-Always", Value: "yes"}},
	}
	edits := &HeaderEdits{Set: []HeaderField{{Name: "X-Wild-Set", Value: "kept"}}, Remove: []string{"X-Gone"}}
	for _, tt := range []struct {
		status int
		want   http.Header
	}{
		{200, http.Header{"X-Other": {"o"}, "X-Wild-Set": {"kept"}, "X-Custom": {"a", "present"}, "X-Always": {"yes"}}},
		{304, http.Header{"X-Other": {"o"}, "X-Wild-Set": {"kept"}, "X-Custom": {"a", "present"}, "X-Always": {"yes"}}},
		{404, http.Header{"X-Other": {"o"}, "X-Wild-Set": {"kept"}, "X-Custom": {"a"}, "X-Always": {"yes"}}},
		{500, http.Header{"X-Other": {"o"}, "X-Wild-Set": {"kept"}, "X-Custom": {"a"}, "X-Always": {"yes"}}},
	} {
		h := http.Header{"X-Wild-One": {"1"}, "X-Wild-Two": {"2"}, "X-Other": {"o"}, "X-Gone": {"g"}, "X-Custom": {"a"}}
		s.ApplyResponse(h, tt.status, edits)
		if !reflect.DeepEqual(h, tt.want) {
			t.Errorf("status %d: %v, want %v", tt.status, h, tt.want)
		}
	}
}

// BenchmarkResponseHeaderEdits is the per-response cost of header edit
// filters on a backend response of 6 headers: Gateway API style HeaderEdits
// (set one, remove one) and an ingress-nginx snippet's (the same plus an
// add_header and a wildcard clear).
func BenchmarkResponseHeaderEdits(b *testing.B) {
	edits := &HeaderEdits{Set: []HeaderField{{Name: "X-Frame-Options", Value: "DENY"}}, Remove: []string{"Server"}}
	sn := &SnippetRules{ClearPrefixes: []string{"X-Debug-"}, Add: []HeaderField{{Name: "X-Served-By", Value: "portico"}}}
	base := http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"13"}, "Date": {"x"}, "Server": {"app"},
		"X-Debug-Trace": {"t"}, "Cache-Control": {"no-cache"}}
	h := make(http.Header, 8)
	reset := func() {
		clear(h)
		for k, v := range base {
			h[k] = v
		}
	}
	b.Run("header-edits", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reset()
			edits.Apply(h)
		}
	})
	b.Run("snippet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reset()
			sn.ApplyResponse(h, 200, edits)
		}
	})
	b.Run("none", func(b *testing.B) { // the reset alone, to subtract
		b.ReportAllocs()
		for b.Loop() {
			reset()
		}
	})
}
