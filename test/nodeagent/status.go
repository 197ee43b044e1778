package nodeagent

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ownConditions are the Pod conditions a kubelet sets (PodScheduled comes
// from the binding, and is kept). Others, such as readiness gates set by
// other controllers, are kept as they are.
var ownConditions = []corev1.PodConditionType{
	corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady,
}

// writeStatus patches pods/status with the status now, if it changed.
func (r *podRunner) writeStatus() error {
	st := r.status()
	b, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return err
	}
	if string(b) == r.written {
		return nil
	}
	ctx, cancel := r.apiCtx()
	defer cancel()
	// A JSON merge patch replaces lists whole: conditions and
	// containerStatuses are exactly what status() computed.
	_, err = r.agent.client.CoreV1().Pods(r.ns).Patch(ctx, r.pod, types.MergePatchType, b, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch status: %w", err)
	}
	r.written = string(b)
	return nil
}

// status computes the PodStatus a kubelet would report now.
func (r *podRunner) status() corev1.PodStatus {
	pod := r.current()
	r.mu.Lock()
	setupErr, ip, netnsUp := r.setupErr, "", r.netns != nil
	if netnsUp {
		ip = r.netns.Addrs[0].String()
	}
	r.mu.Unlock()

	st := corev1.PodStatus{
		HostIP: hostIP, HostIPs: []corev1.HostIP{{IP: hostIP}},
		StartTime: &r.startTime,
		QOSClass:  pod.Status.QOSClass,
	}
	if ip != "" {
		st.PodIP, st.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	}
	allReady := len(r.containers) > 0
	for _, c := range r.containers {
		cs := c.status()
		if setupErr != "" && cs.State.Waiting != nil {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: setupErr}
		}
		allReady = allReady && cs.Ready
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	// A deleted Pod stays Ready while its probes pass (a kubelet keeps
	// probing): that is what the EndpointSlice controller reports as a
	// serving, terminating endpoint.
	st.Phase = phase(pod.Spec.RestartPolicy, st.ContainerStatuses)
	for _, c := range pod.Status.Conditions {
		if !isOwn(c.Type) {
			st.Conditions = append(st.Conditions, c)
		}
	}
	st.Conditions = append(st.Conditions,
		r.condition(corev1.PodReadyToStartContainers, netnsUp && setupErr == "", ""),
		r.condition(corev1.PodInitialized, true, ""),
		r.condition(corev1.ContainersReady, allReady, "ContainersNotReady"),
		r.condition(corev1.PodReady, allReady && gatesPass(pod), "ContainersNotReady"),
	)
	return st
}

// condition keeps lastTransitionTime from the last status with another value.
func (r *podRunner) condition(t corev1.PodConditionType, ok bool, reasonIfNot string) corev1.PodCondition {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	c, seen := r.conditions[t]
	if !seen || c.Status != status {
		c = corev1.PodCondition{Type: t, Status: status, LastTransitionTime: metav1.Now()}
		if !ok {
			c.Reason = reasonIfNot
		}
		r.conditions[t] = c
	}
	return c
}

func isOwn(t corev1.PodConditionType) bool {
	for _, o := range ownConditions {
		if o == t {
			return true
		}
	}
	return false
}

// gatesPass: every spec.readinessGates condition is True.
func gatesPass(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			ok = ok || (c.Type == g.ConditionType && c.Status == corev1.ConditionTrue)
		}
		if !ok {
			return false
		}
	}
	return true
}

// phase follows the kubelet's rules: Pending until every container has
// started once, Running while any runs or will be restarted, Succeeded or
// Failed once all exited for good.
func phase(policy corev1.RestartPolicy, cs []corev1.ContainerStatus) corev1.PodPhase {
	running, succeeded, failed := 0, 0, 0
	for _, c := range cs {
		switch {
		case c.State.Running != nil:
			running++
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			succeeded++
		case c.State.Terminated != nil:
			failed++
		case c.LastTerminationState.Terminated == nil:
			return corev1.PodPending // waiting to start for the first time
		default: // waiting to restart
			running++
		}
	}
	switch {
	case running > 0:
		return corev1.PodRunning
	case policy == corev1.RestartPolicyAlways:
		return corev1.PodRunning // about to restart
	case failed > 0 && policy == corev1.RestartPolicyNever:
		return corev1.PodFailed
	case failed > 0:
		return corev1.PodRunning // OnFailure restarts it
	}
	return corev1.PodSucceeded
}
