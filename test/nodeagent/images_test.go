package nodeagent

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"portico.dev/portico/test/harness"
)

// TestPrepare: Prepare builds the program of a known image and fails at
// once, naming the image, for one no program stands in for.
func TestPrepare(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	if err := node.Prepare(ctx, "portico.dev/echo:v1"); err != nil {
		t.Fatalf("Prepare(portico.dev/echo) = %v", err)
	}
	err := node.Prepare(ctx, "portico.dev/echo:v1", "docker.io/library/nginx:1.27")
	var unknown errUnknownImage
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "nginx:1.27") {
		t.Fatalf("Prepare(nginx) = %v, want an unknown image error naming it", err)
	}
}

// TestVolumeOverProgramFolder: a volume mounted over the folder that holds
// the program (as CoreDNS's Corefile is mounted at /root, above our build
// cache) does not keep the program from starting.
func TestVolumeOverProgramFolder(t *testing.T) {
	ns := harness.Namespace(t, cp)
	pod := echoPod("hidden")
	pod.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: node.programs.binDir}}
	createPod(t, ns, pod)
	got := waitPod(t, ns, "hidden", 60*time.Second, isReady)
	if status, body := get(t, got, "/__env/POD_NAME"); status != 200 || body != "hidden" {
		t.Errorf("GET /__env/POD_NAME = %d %q, want 200 hidden", status, body)
	}
}

// TestCoreDNS: the CoreDNS Pod of the Gateway API conformance base
// manifests (image registry.k8s.io/coredns/coredns, Corefile from a
// ConfigMap mounted at /root, args -conf /root/Corefile) runs, gets Ready
// and answers DNS over UDP on port 53 with its whoami plugin.
func TestCoreDNS(t *testing.T) {
	ns := harness.Namespace(t, cp)
	ctx := t.Context()
	// The base manifests' Corefile also forwards "." to public resolvers;
	// left out here: tests send nothing off this machine.
	corefile := "foo.bar.com:53 {\n  whoami\n}\n"
	if _, err := cp.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns"}, Data: map[string]string{"Corefile": corefile},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mode := int32(0o644)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "coredns", Image: "registry.k8s.io/coredns/coredns:v1.12.2",
				Args:         []string{"-conf", "/root/Corefile"},
				VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: "/root"}},
			}},
			Volumes: []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "coredns"}, DefaultMode: &mode,
			}}}},
		},
	}
	createPod(t, ns, pod)
	got := waitPod(t, ns, "coredns", buildTimeout, isReady) // a cold build of CoreDNS takes minutes
	harness.Eventually(t, 30*time.Second, func() error { return queryA(got.Status.PodIP, "foo.bar.com.") })
}

// queryA sends one A query for name to addr:53 over UDP and checks that the
// answer is a successful reply to it.
func queryA(addr, name string) error {
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 0x5054, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	b, err := q.Pack()
	if err != nil {
		return err
	}
	c, err := net.Dial("udp", net.JoinHostPort(addr, "53"))
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(b); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	var r dnsmessage.Message
	if err := r.Unpack(buf[:n]); err != nil {
		return err
	}
	if r.ID != q.ID || !r.Response || r.RCode != dnsmessage.RCodeSuccess {
		return errors.New("unexpected reply: " + r.GoString())
	}
	return nil
}
