package nodeagent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultPath is PATH when the container sets none: programs run on this
// machine's file system, not an image's.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// containerEnv is the process environment of container c: HOSTNAME and
// PATH as a runtime sets them, then the container's env in order, with
// downward API fieldRefs and Secret/ConfigMap keys resolved. $(VAR)
// references are not expanded.
func containerEnv(ctx context.Context, a *Agent, pod *corev1.Pod, podIP string, c corev1.Container) ([]string, error) {
	env := []string{"HOSTNAME=" + pod.Name, "PATH=" + defaultPath}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			var err error
			if v, err = valueFrom(ctx, a, pod, podIP, e.ValueFrom); err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
		}
		env = append(env, e.Name+"="+v)
	}
	return env, nil
}

func valueFrom(ctx context.Context, a *Agent, pod *corev1.Pod, podIP string, src *corev1.EnvVarSource) (string, error) {
	switch {
	case src.FieldRef != nil:
		switch f := src.FieldRef.FieldPath; f {
		case "metadata.name":
			return pod.Name, nil
		case "metadata.namespace":
			return pod.Namespace, nil
		case "metadata.uid":
			return string(pod.UID), nil
		case "spec.nodeName":
			return pod.Spec.NodeName, nil
		case "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, nil
		case "status.podIP", "status.podIPs":
			return podIP, nil
		case "status.hostIP", "status.hostIPs":
			return hostIP, nil
		default:
			return "", fmt.Errorf("fieldRef %q is not supported by the test node agent", f)
		}
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := a.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			if b, ok := s.Data[ref.Key]; ok {
				return string(b), nil
			}
			err = fmt.Errorf("secret %q has no key %q", ref.Name, ref.Key)
		}
		if isOptional(ref.Optional) {
			return "", nil
		}
		return "", err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := a.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return v, nil
			}
			err = fmt.Errorf("configmap %q has no key %q", ref.Name, ref.Key)
		}
		if isOptional(ref.Optional) {
			return "", nil
		}
		return "", err
	}
	return "", fmt.Errorf("only fieldRef, secretKeyRef and configMapKeyRef are supported by the test node agent")
}
