package main

import (
	"strings"
	"testing"
	"time"
)

func TestReadHeaderTimeoutFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    time.Duration
		wantErr string
	}{
		{"default is 10s", nil, 10 * time.Second, ""},
		{"lowered for tests", []string{"--read-header-timeout", "2s"}, 2 * time.Second, ""},
		{"zero refused", []string{"--read-header-timeout", "0s"}, 0, "--read-header-timeout must be positive"},
		{"negative refused", []string{"--read-header-timeout", "-1s"}, 0, "--read-header-timeout must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.readHeaderTimeout != tc.want {
				t.Errorf("readHeaderTimeout %v, want %v", c.readHeaderTimeout, tc.want)
			}
		})
	}
}
