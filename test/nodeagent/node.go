package nodeagent

import (
	"context"
	"net"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const (
	leaseRenewEvery  = 5 * time.Second // a kubelet renews every 10 s with a 40 s lease
	leaseDuration    = 40
	statusEvery      = 10 * time.Second
	kubeletVersion   = "v1.37.2"
	nodeLeaseNS      = corev1.NamespaceNodeLease
	apiCallTimeout   = 10 * time.Second
	hostIP           = "127.0.0.1" // the Node's InternalIP: where the API server finds the kubelet endpoint
	nodeCPU, nodeMem = "8", "32Gi"
)

// registerNode creates (or takes over) the Node with a Ready condition, its
// address, capacity and pod CIDR, then its Lease.
func (a *Agent) registerNode(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, apiCallTimeout)
	defer cancel()
	nodes := a.client.CoreV1().Nodes()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.NodeName, Labels: map[string]string{
			corev1.LabelHostname: a.NodeName, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
		}},
		Spec: corev1.NodeSpec{PodCIDR: a.Bridge.Prefix.String(), PodCIDRs: []string{a.Bridge.Prefix.String()}},
	}
	created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = nodes.Get(ctx, a.NodeName, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	created.Status = a.nodeStatus()
	if _, err := nodes.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return err
	}
	return a.renewLease(ctx)
}

func (a *Agent) nodeStatus() corev1.NodeStatus {
	now := metav1.Now()
	_, port, _ := net.SplitHostPort(a.KubeletAddr)
	p, _ := strconv.Atoi(port)
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(nodeCPU),
		corev1.ResourceMemory: resource.MustParse(nodeMem),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return corev1.NodeStatus{
		Capacity:    res,
		Allocatable: res,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message:           "portico test node agent is posting ready status",
			LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: hostIP},
			{Type: corev1.NodeHostName, Address: a.NodeName},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(p)}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion: kubeletVersion, OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "portico-nodeagent://" + kubeletVersion,
		},
	}
}

// renewLease creates or renews the Node's Lease in kube-node-lease, which
// is what the node lifecycle controller reads as the node's heartbeat.
func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.client.CoordinationV1().Leases(nodeLeaseNS)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, a.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.NodeName, Namespace: nodeLeaseNS},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(a.NodeName), LeaseDurationSeconds: ptr.To[int32](leaseDuration),
				AcquireTime: &now, RenewTime: &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// heartbeat renews the Lease every few seconds and the Node's Ready
// condition less often, until Stop. Failures (an API server restart) are
// logged and retried at the next tick.
func (a *Agent) heartbeat() {
	lease := time.NewTicker(leaseRenewEvery)
	defer lease.Stop()
	status := time.NewTicker(statusEvery)
	defer status.Stop()
	for {
		select {
		case <-a.stopCh:
			return
		case <-lease.C:
			ctx, cancel := context.WithTimeout(context.Background(), apiCallTimeout)
			if err := a.renewLease(ctx); err != nil {
				a.logf("renew lease: %v", err)
			}
			cancel()
		case <-status.C:
			ctx, cancel := context.WithTimeout(context.Background(), apiCallTimeout)
			if err := a.postNodeStatus(ctx); err != nil {
				a.logf("node status: %v", err)
			}
			cancel()
		}
	}
}

func (a *Agent) postNodeStatus(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	n, err := nodes.Get(ctx, a.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	st := a.nodeStatus()
	if len(n.Status.Conditions) > 0 { // keep the transition time: Ready never changed
		st.Conditions[0].LastTransitionTime = n.Status.Conditions[0].LastTransitionTime
	}
	n.Status = st
	_, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}
