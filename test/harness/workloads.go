package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// EchoImage is the image the node agent (test/nodeagent) runs as
// test/cmd/portico-echo.
const EchoImage = "portico.dev/echo:test"

// EchoDeployment is a Deployment of replicas portico-echo Pods labelled
// app=name, answering on port 8080 (named http) with their Pod name, ready
// once the port accepts connections.
func EchoDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](10),
					Containers: []corev1.Container{{
						Name: "echo", Image: EchoImage,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
					}},
				},
			},
		},
	}
}

// CreateDeployment creates d.
func CreateDeployment(t testing.TB, cp *ControlPlane, d *appsv1.Deployment) {
	t.Helper()
	if _, err := cp.Client.AppsV1().Deployments(d.Namespace).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Deployment %s/%s: %v", d.Namespace, d.Name, err)
	}
}

// SelectorService creates Service name selecting app=name, port 80 (named
// http) to the Pods' port named http: the EndpointSlice controller fills it.
func SelectorService(t testing.TB, cp *ControlPlane, ns, name string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := cp.Client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Service %s/%s: %v", ns, name, err)
	}
}

// ReadyPods waits until exactly n Pods labelled app=app are Ready and none
// is terminating, and returns them.
func ReadyPods(t testing.TB, cp *ControlPlane, ns, app string, n int, timeout time.Duration) []corev1.Pod {
	t.Helper()
	var ready []corev1.Pod
	Eventually(t, timeout, func() error {
		l, err := cp.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return err
		}
		ready = ready[:0]
		for _, p := range l.Items {
			if p.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s is terminating", p.Name)
			}
			if IsPodReady(&p) {
				ready = append(ready, p)
			}
		}
		if len(ready) != n || len(l.Items) != n {
			return fmt.Errorf("%d of %d pods app=%s Ready, want %d", len(ready), len(l.Items), app, n)
		}
		return nil
	})
	return ready
}

// IsPodReady reports the Pod's Ready condition.
func IsPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ControllerSlices lists the EndpointSlices of a Service that
// kube-controller-manager's EndpointSlice controller wrote.
func ControllerSlices(cp *ControlPlane, ns, service string) ([]discoveryv1.EndpointSlice, error) {
	l, err := cp.Client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service + "," + discoveryv1.LabelManagedBy + "=endpointslice-controller.k8s.io",
	})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}
