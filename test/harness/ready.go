package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthCheck returns nil once the component answers ok.
type healthCheck func(ctx context.Context) error

// waitReady polls check until it passes, the process exits, the context ends
// or readyTimeout passes. An exit caused by a taken port wraps errPortTaken.
func waitReady(ctx context.Context, p *process, check healthCheck) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		if lastErr = check(ctx); lastErr == nil {
			return nil
		}
		select {
		case <-p.exited:
			if p.bindFailed() {
				return fmt.Errorf("%s: %w", p.name, errPortTaken)
			}
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s not ready (%v, last check: %v); last log lines:\n%s", p.name, ctx.Err(), lastErr, p.logTail(30))
		case <-tick.C:
		}
	}
}

// newPlainChecker checks an http URL answers 200.
func newPlainChecker(url string) healthCheck {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}
	return func(ctx context.Context) error { return get200(ctx, client, url, "") }
}

// newTLSChecker checks an https URL, trusting only caPEM, answers 200.
func newTLSChecker(url string, caPEM []byte, token string) (healthCheck, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("readiness check: bad CA PEM")
	}
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	return func(ctx context.Context) error { return get200(ctx, client, url, token) }, nil
}

func get200(ctx context.Context, client *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
