package main

import (
	"strings"
	"testing"
	"time"
)

func TestLeaderFlags(t *testing.T) {
	tests := []struct {
		name    string
		env     string // POD_NAMESPACE
		args    []string
		check   func(*leaderFlags) string
		wantErr string
	}{
		{name: "defaults", check: func(l *leaderFlags) string {
			if l.electionID != "portico-leader" || l.electionNamespace != "default" || l.leaseDuration != 15*time.Second ||
				l.renewDeadline != 10*time.Second || l.retryPeriod != 2*time.Second {
				return "wrong defaults"
			}
			return ""
		}},
		{name: "namespace from POD_NAMESPACE", env: "ingress", check: func(l *leaderFlags) string {
			if l.electionNamespace != "ingress" {
				return "got " + l.electionNamespace
			}
			return ""
		}},
		{name: "flag beats POD_NAMESPACE", env: "ingress", args: []string{"--election-namespace", "x"}, check: func(l *leaderFlags) string {
			if l.electionNamespace != "x" {
				return "got " + l.electionNamespace
			}
			return ""
		}},
		{name: "publish service", args: []string{"--publish-service", "ns/lb"}, check: func(l *leaderFlags) string {
			if l.publishService == nil || l.publishService.String() != "ns/lb" {
				return "not parsed"
			}
			return ""
		}},
		{name: "publish addresses", args: []string{"--publish-status-address", "192.0.2.1,lb.example.com"}, check: func(l *leaderFlags) string {
			if len(l.publishAddresses) != 2 {
				return "not parsed"
			}
			return ""
		}},
		{name: "both publish flags", args: []string{"--publish-service", "ns/lb", "--publish-status-address", "192.0.2.1"}, wantErr: "exclude"},
		{name: "bad publish service", args: []string{"--publish-service", "lb"}, wantErr: "namespace/name"},
		{name: "bad address", args: []string{"--publish-status-address", "not valid"}, wantErr: "--publish-status-address"},
		{name: "lease not above renew", args: []string{"--lease-duration", "10s"}, wantErr: "--lease-duration"},
		{name: "renew not above retry", args: []string{"--renew-deadline", "2s"}, wantErr: "--renew-deadline"},
		{name: "empty election id", args: []string{"--election-id", ""}, wantErr: "--election-id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("POD_NAMESPACE", tc.env)
			t.Setenv("KUBECONFIG", "")
			c, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(&c.leader); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	t.Setenv("POD_NAME", "portico-7")
	if got := identity(); got != "portico-7" {
		t.Errorf("identity() = %q, want $POD_NAME", got)
	}
	t.Setenv("POD_NAME", "")
	if a, b := identity(), identity(); a == b {
		t.Errorf("two identities on one host are equal: %q", a)
	}
}
