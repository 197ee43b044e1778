package controller

import (
	"fmt"
	"strings"
	"testing"

	"portico.dev/portico/router"
)

func TestParseHashBy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // parts as kind:name, "" for an error
	}{
		{"$request_uri", "1:"},
		{"$request_uri$host", "1: 3:"},
		{"${request_uri}-text-value", "1: 0:-text-value"},
		{"$host$uri", "3: 2:"},
		{"$remote_addr", "4:"},
		{"$http_x_user_id", "8:X-User-Id"},
		{"$cookie_session", "9:session"},
		{"$arg_id-$scheme", "10:id 0:- 6:"},
		{"$binary_remote_addr", "4:"},
		{"a$args", "0:a 5:"},
		{"$request_body", ""},
		{"$upstream_addr", ""},
		{"${host", ""},
		{"$", ""},
		{"$http_", ""},
		{"text only", ""},
		{"", ""},
		{strings.Repeat("$host", 60), ""},
	}
	for _, tt := range tests {
		h, err := parseHashBy(tt.in)
		got := ""
		if err == nil {
			var parts []string
			for _, p := range h.Parts {
				parts = append(parts, fmt.Sprintf("%d:%s", p.Kind, p.Name))
			}
			got = strings.Join(parts, " ")
		}
		if got != tt.want {
			t.Errorf("parseHashBy(%q) = %q (err %v), want %q", tt.in, got, err, tt.want)
		}
	}
	_, probs := parseAnnotations(map[string]string{nginxPrefix + "upstream-hash-by": "$request_body"})
	if len(probs) != 1 || probs[0].reason != "InvalidAnnotation" || !strings.Contains(probs[0].msg, "unsupported variable $request_body") {
		t.Errorf("problems %+v", probs)
	}
}

// FuzzParseHashBy: never panics; what it accepts has a variable and only
// known kinds.
func FuzzParseHashBy(f *testing.F) {
	for _, s := range []string{"$request_uri", "${request_uri}-x", "$http_a_b$cookie_c", "$", "${", "$arg_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHashBy(s)
		if err != nil {
			return
		}
		vars := 0
		for _, p := range h.Parts {
			if p.Kind > router.HashArg {
				t.Fatalf("%q: kind %d", s, p.Kind)
			}
			if p.Kind != router.HashText {
				vars++
			}
		}
		if vars == 0 {
			t.Fatalf("%q: accepted without a variable", s)
		}
	})
}

func TestHashBySubset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ann      map[string]string
		want     int // SubsetSize; -1: no HashBy
		problems int
	}{
		{map[string]string{"upstream-hash-by": "$request_uri"}, 0, 0},
		{map[string]string{"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "true"}, 3, 0},
		{map[string]string{"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "true", "upstream-hash-by-subset-size": "5"}, 5, 0},
		{map[string]string{"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "true", "upstream-hash-by-subset-size": "0"}, 3, 0},
		{map[string]string{"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "true", "upstream-hash-by-subset-size": "-2"}, 3, 1},
		{map[string]string{"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "true", "upstream-hash-by-subset-size": "x"}, 3, 1},
		{map[string]string{"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "false", "upstream-hash-by-subset-size": "5"}, 0, 0},
		{map[string]string{"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "yes"}, 0, 1},
		{map[string]string{"upstream-hash-by-subset": "true"}, -1, 0},
	}
	for _, tt := range tests {
		ann := map[string]string{}
		for k, v := range tt.ann {
			ann[nginxPrefix+k] = v
		}
		o, probs := parseAnnotations(ann)
		got := -1
		if o.route.HashBy != nil {
			got = o.route.HashBy.SubsetSize
		}
		if got != tt.want || len(probs) != tt.problems {
			t.Errorf("%v: subset size %d, problems %v; want %d and %d problems", tt.ann, got, probs, tt.want, tt.problems)
		}
	}
}
