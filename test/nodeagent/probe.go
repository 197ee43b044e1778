package nodeagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// portPoll is how often a container without a readinessProbe is checked
// for its ports to accept connections.
const portPoll = 100 * time.Millisecond

// probeReadiness keeps the container's ready flag for one run, until ctx
// ends. With a readinessProbe it follows the probe's timing and thresholds
// (the Kubernetes defaults when unset); without one the container is ready
// once every TCP containerPort accepts connections, at once if it has none.
func (c *container) probeReadiness(ctx context.Context, p *process) {
	probe := c.spec.ReadinessProbe
	if probe == nil {
		if c.waitPorts(ctx) {
			c.setReady(true)
		}
		return
	}
	period := seconds(probe.PeriodSeconds, 10)
	timeout := seconds(probe.TimeoutSeconds, 1)
	success, failure := int(max(probe.SuccessThreshold, 1)), int(probe.FailureThreshold)
	if failure < 1 {
		failure = 3
	}
	if !sleep(ctx, time.Duration(probe.InitialDelaySeconds)*time.Second) {
		return
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	var ok, failed int
	for {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := c.probeOnce(pctx, p, probe.ProbeHandler)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			ok, failed = ok+1, 0
			if ok >= success {
				c.setReady(true)
			}
		} else {
			ok, failed = 0, failed+1
			if failed >= failure {
				c.setReady(false)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *container) probeOnce(ctx context.Context, p *process, h corev1.ProbeHandler) error {
	ip := c.pod.podIP()
	switch {
	case h.HTTPGet != nil:
		return httpProbe(ctx, ip, c.spec, h.HTTPGet)
	case h.TCPSocket != nil:
		port, err := resolvePort(c.spec, h.TCPSocket.Port)
		if err != nil {
			return err
		}
		host := h.TCPSocket.Host
		if host == "" {
			host = ip
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case h.Exec != nil && len(h.Exec.Command) > 0:
		args := append([]string{"-t", strconv.Itoa(p.pid()), "--net", "--mount", "--uts", "--"}, h.Exec.Command...)
		return exec.CommandContext(ctx, "nsenter", args...).Run()
	}
	return errors.New("only httpGet, tcpSocket and exec probes are supported by the test node agent")
}

// httpProbe succeeds on a status from 200 to 399, as a kubelet's does.
// Redirects are not followed; HTTPS certificates are not verified.
func httpProbe(ctx context.Context, podIP string, c corev1.Container, g *corev1.HTTPGetAction) error {
	port, err := resolvePort(c, g.Port)
	if err != nil {
		return err
	}
	host := g.Host
	if host == "" {
		host = podIP
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+g.Path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	for _, h := range g.HTTPHeaders {
		if h.Name == "Host" {
			req.Host = h.Value
		} else {
			req.Header.Add(h.Name, h.Value)
		}
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe: %s", resp.Status)
	}
	return nil
}

// probeClient keeps no connections: each probe dials, as a kubelet's does.
var probeClient = &http.Client{
	Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // kubelets do not verify probe certificates either
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// waitPorts reports true once every TCP containerPort accepts a connection.
func (c *container) waitPorts(ctx context.Context) bool {
	for _, p := range c.spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		addr := net.JoinHostPort(c.pod.podIP(), strconv.Itoa(int(p.ContainerPort)))
		for {
			d := net.Dialer{Timeout: time.Second}
			if conn, err := d.DialContext(ctx, "tcp", addr); err == nil {
				conn.Close()
				break
			}
			if !sleep(ctx, portPoll) {
				return false
			}
		}
	}
	return ctx.Err() == nil
}

// resolvePort turns a probe's port (a number or a containerPort name) into a number.
func resolvePort(c corev1.Container, p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("no container port named %q", p.StrVal)
}

func seconds(v, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}

// sleep waits d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
