package nodeagent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"portico.dev/portico/test/harness"
)

var (
	cp   *harness.ControlPlane
	node *Agent
)

func TestMain(m *testing.M) { Main(m, &cp, &node) }

// echoPod is a Pod running portico-echo on port 8080.
func echoPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []corev1.Container{{
				Name: "echo", Image: "portico.dev/echo:test",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Env: []corev1.EnvVar{
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				},
			}},
		},
	}
}

func createPod(t *testing.T, ns string, pod *corev1.Pod) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s/%s:\n%s", ns, pod.Name, node.ContainerLog(ns, pod.Name, pod.Spec.Containers[0].Name))
		}
	})
	if _, err := cp.Client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitPod waits until ok accepts the Pod and returns it.
func waitPod(t *testing.T, ns, name string, timeout time.Duration, ok func(*corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	harness.Eventually(t, timeout, func() error {
		var err error
		if pod, err = cp.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			return err
		}
		return ok(pod)
	})
	return pod
}

func isReady(p *corev1.Pod) error {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("pod %s not Ready: phase %s, %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses)
}

func isNotReady(p *corev1.Pod) error {
	if isReady(p) == nil {
		return fmt.Errorf("pod %s still Ready", p.Name)
	}
	return nil
}

func waitGone(t *testing.T, ns, name string, timeout time.Duration) time.Duration {
	t.Helper()
	return harness.Eventually(t, timeout, func() error {
		_, err := cp.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("pod %s/%s still there (err %v)", ns, name, err)
	})
}

var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, pod *corev1.Pod, path string) (int, string) {
	t.Helper()
	resp, err := client.Get("http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPodRunsWithEnvAndVolumes: a bare Pod is bound, runs as a process in
// its own network namespace with a Pod IP from the node's CIDR, sees its
// env and its Secret and ConfigMap files, and is reported as a kubelet does.
func TestPodRunsWithEnvAndVolumes(t *testing.T) {
	ns := harness.Namespace(t, cp)
	ctx := t.Context()
	if _, err := cp.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{"crt": []byte("CERT"), "key": []byte("KEY")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "conf"}, Data: map[string]string{"ca": "CA"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := echoPod("web")
	c := &pod.Spec.Containers[0]
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	c.Env = append(c.Env,
		corev1.EnvVar{Name: "GREETING", Value: "hello"},
		corev1.EnvVar{Name: "NAMESPACE", ValueFrom: field("metadata.namespace")},
		corev1.EnvVar{Name: "POD_IP", ValueFrom: field("status.podIP")},
		corev1.EnvVar{Name: "NODE", ValueFrom: field("spec.nodeName")},
	)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
		{Name: "ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}},
	}
	c.VolumeMounts = []corev1.VolumeMount{
		{Name: "secret", MountPath: "/etc/portico-test-secret-volume"},
		{Name: "ca", MountPath: "/etc/portico-test-configmap-volume"},
	}
	start := time.Now()
	createPod(t, ns, pod)
	got := waitPod(t, ns, "web", 30*time.Second, isReady)
	t.Logf("Pod Ready %v after create", time.Since(start).Round(time.Millisecond))

	ip, err := netip.ParseAddr(got.Status.PodIP)
	if err != nil || !node.Bridge.Prefix.Contains(ip) || len(got.Status.PodIPs) != 1 {
		t.Errorf("podIP %q podIPs %v, want one address in %v", got.Status.PodIP, got.Status.PodIPs, node.Bridge.Prefix)
	}
	if got.Spec.NodeName != node.NodeName || got.Status.HostIP != "127.0.0.1" || got.Status.Phase != corev1.PodRunning || got.Status.StartTime == nil {
		t.Errorf("nodeName %q hostIP %q phase %q startTime %v", got.Spec.NodeName, got.Status.HostIP, got.Status.Phase, got.Status.StartTime)
	}
	conds := map[corev1.PodConditionType]corev1.ConditionStatus{}
	for _, c := range got.Status.Conditions {
		conds[c.Type] = c.Status
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if conds[ct] != corev1.ConditionTrue {
			t.Errorf("condition %s = %q, want True (all: %v)", ct, conds[ct], conds)
		}
	}
	if cs := got.Status.ContainerStatuses; len(cs) != 1 || !cs[0].Ready || cs[0].State.Running == nil || cs[0].Started == nil || !*cs[0].Started || cs[0].RestartCount != 0 {
		t.Errorf("containerStatuses = %+v", cs)
	}

	want := map[string]string{
		"/__env/POD_NAME": "web", "/__env/GREETING": "hello", "/__env/NAMESPACE": ns,
		"/__env/POD_IP": got.Status.PodIP, "/__env/NODE": node.NodeName, "/__env/HOSTNAME": "web",
		"/__file/etc/portico-test-secret-volume/crt":   "CERT",
		"/__file/etc/portico-test-secret-volume/key":   "KEY",
		"/__file/etc/portico-test-configmap-volume/ca": "CA",
	}
	for path, w := range want {
		if status, body := get(t, got, path); status != 200 || body != w {
			t.Errorf("GET %s = %d %q, want %q", path, status, body, w)
		}
	}
	if status, body := get(t, got, "/"); status != 200 || !strings.Contains(body, `"backend":"web"`) {
		t.Errorf("GET / = %d %q, want an echo from web", status, body)
	}
	// The mounts live in the program's mount namespace only.
	if _, err := http.Dir("/").Open("/etc/portico-test-secret-volume/crt"); err == nil {
		t.Errorf("the Secret's file is visible outside the Pod")
	}
}

// TestUnknownImage: an image no program stands in for is an error in the
// Pod's status, like a failed pull, and the Pod still deletes at once.
func TestUnknownImage(t *testing.T) {
	ns := harness.Namespace(t, cp)
	pod := echoPod("nginx")
	pod.Spec.Containers[0].Image = "nginx:1.27"
	createPod(t, ns, pod)
	waitPod(t, ns, "nginx", 15*time.Second, func(p *corev1.Pod) error {
		if cs := p.Status.ContainerStatuses; len(cs) == 1 && cs[0].State.Waiting != nil &&
			(cs[0].State.Waiting.Reason == "ErrImagePull" || cs[0].State.Waiting.Reason == "ImagePullBackOff") &&
			p.Status.Phase == corev1.PodPending {
			return nil
		}
		return fmt.Errorf("phase %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
	})
	got := waitPod(t, ns, "nginx", 15*time.Second, func(p *corev1.Pod) error {
		if w := p.Status.ContainerStatuses[0].State.Waiting; w == nil || !strings.Contains(w.Message, "nginx:1.27") {
			return fmt.Errorf("waiting %+v: want a message naming the image", w)
		}
		return nil
	})
	t.Logf("waiting: %+v", got.Status.ContainerStatuses[0].State.Waiting)
	if err := cp.Client.CoreV1().Pods(ns).Delete(t.Context(), "nginx", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ns, "nginx", 10*time.Second)
}

// TestCrashRestarts: a program that exits is restarted (restartPolicy
// Always) with its restart count and last state reported.
func TestCrashRestarts(t *testing.T) {
	ns := harness.Namespace(t, cp)
	createPod(t, ns, echoPod("crash"))
	pod := waitPod(t, ns, "crash", 30*time.Second, isReady)
	_, _ = client.Get("http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + "/__exit/3") // no answer: it exits
	got := waitPod(t, ns, "crash", 30*time.Second, func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses[0]
		if err := isReady(p); err != nil {
			return err
		}
		if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 3 {
			return fmt.Errorf("restartCount %d lastState %+v", cs.RestartCount, cs.LastTerminationState)
		}
		return nil
	})
	if got.Status.PodIP != pod.Status.PodIP {
		t.Errorf("pod IP changed on restart: %s -> %s", pod.Status.PodIP, got.Status.PodIP)
	}
	logs, err := cp.Kubectl(t.Context(), "-n", ns, "logs", "crash", "--previous")
	if err != nil || !strings.Contains(string(logs), "exiting with code 3") {
		t.Errorf("kubectl logs --previous = %q, %v", logs, err)
	}
}

// TestReadinessProbe: an httpGet probe's thresholds drive the Ready
// condition both ways.
func TestReadinessProbe(t *testing.T) {
	ns := harness.Namespace(t, cp)
	pod := echoPod("probed")
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/__ready", Port: intstr.FromString("http")}},
		PeriodSeconds: 1, FailureThreshold: 2, SuccessThreshold: 2,
	}
	createPod(t, ns, pod)
	got := waitPod(t, ns, "probed", 30*time.Second, isReady)
	get(t, got, "/__ready/fail")
	took := harness.Eventually(t, 10*time.Second, func() error {
		p, err := cp.Client.CoreV1().Pods(ns).Get(context.Background(), "probed", metav1.GetOptions{})
		if err != nil {
			return err
		}
		return isNotReady(p)
	})
	if took < time.Second {
		t.Errorf("not Ready after %v; failureThreshold 2 at 1 s periods needs about 1-2 s", took)
	}
	get(t, got, "/__ready/pass")
	waitPod(t, ns, "probed", 10*time.Second, isReady)
	// A tcpSocket probe on a port nothing listens on never passes.
	bad := echoPod("tcp")
	bad.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9999)}},
		PeriodSeconds: 1,
	}
	createPod(t, ns, bad)
	waitPod(t, ns, "tcp", 30*time.Second, func(p *corev1.Pod) error {
		if cs := p.Status.ContainerStatuses; len(cs) == 0 || cs[0].State.Running == nil {
			return fmt.Errorf("not running yet")
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	waitPod(t, ns, "tcp", time.Second, isNotReady)
}

// TestDeletionIsGraceful: deleting a Pod runs its preStop hook, then
// SIGTERM; the program exits on its own within the grace period and the
// Pod is gone. One that does not exit in time is killed at the end of it.
func TestDeletionIsGraceful(t *testing.T) {
	ns := harness.Namespace(t, cp)
	pod := echoPod("graceful")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
		Exec: &corev1.ExecAction{Command: []string{"sleep", "1"}},
	}}
	createPod(t, ns, pod)
	waitPod(t, ns, "graceful", 30*time.Second, isReady)
	start := time.Now()
	if err := cp.Client.CoreV1().Pods(ns).Delete(t.Context(), "graceful", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	took := waitGone(t, ns, "graceful", 10*time.Second)
	if took < time.Second || took > 5*time.Second {
		t.Errorf("gone after %v; want after the 1 s preStop sleep, within the 5 s grace", took)
	}
	t.Logf("Pod with a 1 s preStop sleep gone %v after delete", time.Since(start).Round(time.Millisecond))

	// SHUTDOWN_TIMEOUT far beyond the grace period and a request in
	// flight: only SIGKILL ends it.
	stuck := echoPod("stuck")
	stuck.Spec.TerminationGracePeriodSeconds = ptr.To[int64](2)
	stuck.Spec.Containers[0].Env = append(stuck.Spec.Containers[0].Env, corev1.EnvVar{Name: "SHUTDOWN_TIMEOUT", Value: "1h"})
	createPod(t, ns, stuck)
	got := waitPod(t, ns, "stuck", 30*time.Second, isReady)
	go func() { _, _ = client.Get("http://" + net.JoinHostPort(got.Status.PodIP, "8080") + "/__sleep?d=1h") }()
	time.Sleep(200 * time.Millisecond)
	if err := cp.Client.CoreV1().Pods(ns).Delete(t.Context(), "stuck", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if took := waitGone(t, ns, "stuck", 10*time.Second); took < 2*time.Second {
		t.Errorf("gone after %v; want SIGKILL at the 2 s grace period", took)
	}
}

// TestKubectlLogsAndExec: kubectl logs reaches the agent through the API
// server; kubectl exec is refused with a message saying why.
func TestKubectlLogsAndExec(t *testing.T) {
	ns := harness.Namespace(t, cp)
	createPod(t, ns, echoPod("logged"))
	got := waitPod(t, ns, "logged", 30*time.Second, isReady)
	get(t, got, "/hello-logs")
	logs, err := cp.Kubectl(t.Context(), "-n", ns, "logs", "logged")
	if err != nil || !strings.Contains(string(logs), "GET "+net.JoinHostPort(got.Status.PodIP, "8080")+"/hello-logs") {
		t.Errorf("kubectl logs = %q, %v; want the request line", logs, err)
	}
	tail, err := cp.Kubectl(t.Context(), "-n", ns, "logs", "logged", "--tail=1")
	if err != nil || strings.Count(strings.TrimSpace(string(tail)), "\n") != 0 || !strings.Contains(string(tail), "/hello-logs") {
		t.Errorf("kubectl logs --tail=1 = %q, %v", tail, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, err := cp.Kubectl(ctx, "-n", ns, "exec", "logged", "--", "true")
	if err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("kubectl exec = %q, %v; want a refusal saying exec is not supported", out, err)
	}
	t.Logf("kubectl exec: %v", err)
}

// TestEchoBasic: the Gateway API conformance echo server runs for its
// image, built from sigs.k8s.io/gateway-api/conformance, and answers with
// the Pod and namespace it gets from the downward API.
func TestEchoBasic(t *testing.T) {
	ns := harness.Namespace(t, cp)
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	createPod(t, ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "infra-backend-v1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "infra-backend-v1", Image: "registry.k8s.io/gateway-api/echo-basic:v1.5.1",
			Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: field("metadata.name")}, {Name: "NAMESPACE", ValueFrom: field("metadata.namespace")}},
		}}},
	})
	pod := waitPod(t, ns, "infra-backend-v1", 5*time.Minute, isReady) // a cold first build of echo-basic
	url := "http://" + net.JoinHostPort(pod.Status.PodIP, "3000") + "/conformance"
	harness.Eventually(t, 10*time.Second, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"pod": "infra-backend-v1"`) || !strings.Contains(string(b), ns) {
			return fmt.Errorf("GET %s = %d %s", url, resp.StatusCode, b)
		}
		return nil
	})
}

// TestForceDeleteKillsAtOnce: a Pod removed from the API with grace 0
// (kubectl delete --force) has its process killed and its network
// namespace removed without waiting for the grace period.
func TestForceDeleteKillsAtOnce(t *testing.T) {
	ns := harness.Namespace(t, cp)
	pod := echoPod("forced")
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
	createPod(t, ns, pod)
	got := waitPod(t, ns, "forced", 30*time.Second, isReady)
	if err := cp.Client.CoreV1().Pods(ns).Delete(t.Context(), "forced", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ns, "forced", 5*time.Second)
	addr := net.JoinHostPort(got.Status.PodIP, "8080")
	took := harness.Eventually(t, 5*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return nil // refused or unreachable: the process or its namespace is gone
		}
		conn.Close()
		return fmt.Errorf("%s still accepts connections", addr)
	})
	t.Logf("force-deleted Pod unreachable %v after it left the API", took.Round(time.Millisecond))
}
