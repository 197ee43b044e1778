package router

import (
	"net/http"
	"strings"
)

// SnippetRules is what an ingress-nginx configuration- or server-snippet
// asks of responses beyond Filters' HeaderEdits (which carry its
// more_set_headers, more_clear_headers and proxy_set_header): wildcard
// clears, add_header's status rule, and fixed answers. Routes without a
// snippet have a nil *SnippetRules.
type SnippetRules struct {
	// ClearPrefixes: response headers whose names start with one of these
	// (case-insensitively) are removed before Filters.ResponseHeaders are
	// applied (more_clear_headers "X-Foo-*").
	ClearPrefixes []string `json:",omitempty"`
	// ClearRequestPrefixes are the same for the upstream request
	// (more_clear_input_headers "X-Foo-*"), before Filters.RequestHeaders.
	ClearRequestPrefixes []string `json:",omitempty"`
	// Add are appended to responses whose status is 200, 201, 204, 206,
	// 301, 302, 303, 304, 307 or 308 (nginx add_header); AddAlways to
	// every response (add_header ... always). Both after the HeaderEdits.
	Add       []HeaderField `json:",omitempty"`
	AddAlways []HeaderField `json:",omitempty"`
	// Return answers every request of the route itself (nginx return
	// with a code other than a redirect's); nil for none.
	Return *FixedResponse `json:",omitempty"`
}

// FixedResponse is an answer without a backend.
type FixedResponse struct {
	Status int
	Body   string // "" for none
}

// addHeaderStatus reports whether nginx's add_header (without always)
// applies to a response with this status.
func addHeaderStatus(status int) bool {
	switch status {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
		return true
	}
	return false
}

// ApplyRequest removes the upstream request's headers that
// ClearRequestPrefixes name; Filters.RequestHeaders are applied after it.
func (s *SnippetRules) ApplyRequest(h http.Header) {
	clearPrefixes(h, s.ClearRequestPrefixes)
}

func clearPrefixes(h http.Header, prefixes []string) {
	if len(prefixes) == 0 {
		return
	}
	for k := range h {
		for _, p := range prefixes {
			if HasPrefixFold(k, p) {
				delete(h, k)
				break
			}
		}
	}
}

// ApplyResponse edits the headers of a response with status: the wildcard
// clears, then edits (the route's Filters.ResponseHeaders), then the adds.
func (s *SnippetRules) ApplyResponse(h http.Header, status int, edits *HeaderEdits) {
	clearPrefixes(h, s.ClearPrefixes)
	edits.Apply(h)
	if len(s.Add) > 0 && addHeaderStatus(status) {
		for _, f := range s.Add {
			k := http.CanonicalHeaderKey(f.Name)
			h[k] = append(h[k], f.Value)
		}
	}
	for _, f := range s.AddAlways {
		k := http.CanonicalHeaderKey(f.Name)
		h[k] = append(h[k], f.Value)
	}
}

// HasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func HasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
