package deploy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestOverlaysApply renders each overlay (and one with the ACME component)
// with kubectl kustomize, checks the workload against the deployment rules
// of issue 7, applies every object to the API server for real, and has the
// API server admit a Pod made from the workload's template under the
// namespace's Pod Security level (a dry-run create runs every admission
// plugin).
func TestOverlaysApply(t *testing.T) {
	cases := []struct {
		name       string
		overlay    string
		components []string
		want       []string // Kind/name that must be rendered besides the base
		podLevel   string   // the Namespace's pod-security.kubernetes.io/enforce
		wantArg    string   // an argument a component adds
	}{
		{name: "nodeport", overlay: overlayNodePort, podLevel: "restricted",
			want: []string{"Deployment/portico", "Service/portico", "PodDisruptionBudget/portico"}},
		{name: "daemonset-hostnetwork", overlay: overlayDaemonSet, podLevel: "privileged",
			want: []string{"DaemonSet/portico", "ClusterRole/portico-nodes", "Role/portico-pods"}},
		{name: "nodeport with ACME", overlay: overlayNodePort, components: []string{componentACME}, podLevel: "restricted",
			want:    []string{"Deployment/portico", "Role/portico-acme", "RoleBinding/portico-acme"},
			wantArg: "--acme-directory-url=https://acme-v02.api.letsencrypt.org/directory"},
		{name: "nodeport with Gateway Services", overlay: overlayNodePort, components: []string{componentGatewayServices}, podLevel: "restricted",
			want:    []string{"Deployment/portico", "ClusterRole/portico-gateway-services", "ClusterRoleBinding/portico-gateway-services"},
			wantArg: "--gateway-services"},
		{name: "nodeport with the ingress-nginx ConfigMap", overlay: overlayNodePort, components: []string{componentNginxConfigMap}, podLevel: "restricted",
			want:    []string{"Deployment/portico", "Role/portico-nginx-configmap", "RoleBinding/portico-nginx-configmap"},
			wantArg: "--nginx-configmap=portico/ingress-nginx-controller"},
	}
	base := []string{"Namespace/portico", "ServiceAccount/portico", "ClusterRole/portico", "ClusterRoleBinding/portico",
		"ClusterRole/portico-ingressclasses", "ClusterRoleBinding/portico-ingressclasses",
		"ClusterRole/portico-gateway-api", "ClusterRoleBinding/portico-gateway-api", "Role/portico", "RoleBinding/portico",
		"IngressClass/portico", "Service/portico-metrics"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.overlay, tc.components...)
			got := r.kinds()
			for _, k := range append(base, tc.want...) {
				if !got[k] {
					t.Errorf("%s not rendered", k)
				}
			}
			var ns corev1.Namespace
			r.find(t, "Namespace", porticoNamespace, &ns)
			if l := ns.Labels["pod-security.kubernetes.io/enforce"]; l != tc.podLevel {
				t.Errorf("Namespace enforces Pod Security %q, want %q", l, tc.podLevel)
			}
			var ic networkingv1.IngressClass
			r.find(t, "IngressClass", "portico", &ic)
			if ic.Spec.Controller != "portico.dev/ingress-controller" {
				t.Errorf("IngressClass controller %q", ic.Spec.Controller)
			}
			tmpl := workloadTemplate(t, r)
			checkPodTemplate(t, tmpl, tc.podLevel == "privileged")
			if tc.wantArg != "" && !slices.Contains(tmpl.Spec.Containers[0].Args, tc.wantArg) {
				t.Errorf("the component did not add %s: %v", tc.wantArg, tmpl.Spec.Containers[0].Args)
			}

			apply(t, r)
			admitPod(t, tmpl, tc.podLevel)
		})
	}
}

// workloadTemplate returns the pod template of the rendered Deployment or
// DaemonSet, after checking the workload itself.
func workloadTemplate(t *testing.T, r rendered) corev1.PodTemplateSpec {
	t.Helper()
	kinds := r.kinds()
	switch {
	case kinds["Deployment/portico"]:
		var d appsv1.Deployment
		r.find(t, "Deployment", "portico", &d)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
			t.Errorf("Deployment replicas %v, want 2", d.Spec.Replicas)
		}
		a := d.Spec.Template.Spec.Affinity
		if a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Errorf("Deployment has no pod anti-affinity")
		}
		var pdb policyv1.PodDisruptionBudget
		r.find(t, "PodDisruptionBudget", "portico", &pdb)
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 {
			t.Errorf("PodDisruptionBudget minAvailable %v, want >= 1", pdb.Spec.MinAvailable)
		}
		var svc corev1.Service
		r.find(t, "Service", "portico", &svc)
		if svc.Spec.Type != corev1.ServiceTypeNodePort {
			t.Errorf("Service type %s, want NodePort", svc.Spec.Type)
		}
		if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--publish-service=portico/portico") {
			t.Errorf("Deployment does not publish status from its Service: %v", d.Spec.Template.Spec.Containers[0].Args)
		}
		return d.Spec.Template
	case kinds["DaemonSet/portico"]:
		var ds appsv1.DaemonSet
		r.find(t, "DaemonSet", "portico", &ds)
		s := ds.Spec.Template.Spec
		if !s.HostNetwork || s.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
			t.Errorf("DaemonSet hostNetwork=%v dnsPolicy=%s, want true and ClusterFirstWithHostNet", s.HostNetwork, s.DNSPolicy)
		}
		for _, a := range s.Containers[0].Args {
			if strings.HasPrefix(a, "--publish-") {
				t.Errorf("DaemonSet sets %s: status must come from node addresses", a)
			}
		}
		var ports []int32
		for _, p := range s.Containers[0].Ports {
			ports = append(ports, p.HostPort)
		}
		if !slices.Contains(ports, 80) || !slices.Contains(ports, 443) {
			t.Errorf("DaemonSet host ports %v, want 80 and 443", ports)
		}
		return ds.Spec.Template
	}
	t.Fatal("neither a Deployment nor a DaemonSet portico was rendered")
	return corev1.PodTemplateSpec{}
}

// checkPodTemplate checks the rules both modes share: downward API,
// probes, deliberate resources, grace period, and a locked-down security
// context. bindsLowPorts allows (and requires) NET_BIND_SERVICE.
func checkPodTemplate(t *testing.T, tmpl corev1.PodTemplateSpec, bindsLowPorts bool) {
	t.Helper()
	s := tmpl.Spec
	if len(s.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(s.Containers))
	}
	c := s.Containers[0]
	if s.ServiceAccountName != porticoSA {
		t.Errorf("serviceAccountName %q", s.ServiceAccountName)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if env["POD_NAME"] != "metadata.name" || env["POD_NAMESPACE"] != "metadata.namespace" {
		t.Errorf("POD_NAME/POD_NAMESPACE not from the downward API: %v", env)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", p)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", p)
	}

	// Burstable on purpose (docs/deploy.md): CPU and memory requests, a
	// memory limit, no CPU limit.
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() {
		t.Errorf("requests %v: want cpu and memory", req)
	}
	if lim.Memory().IsZero() || !lim.Cpu().IsZero() {
		t.Errorf("limits %v: want memory only (no CPU throttling of the data plane)", lim)
	}

	// terminationGracePeriodSeconds must outlast --shutdown-delay + --shutdown-grace.
	var delay, grace time.Duration
	for _, a := range c.Args {
		name, val, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		d, _ := time.ParseDuration(val)
		switch name {
		case "shutdown-delay":
			delay = d
		case "shutdown-grace":
			grace = d
		}
	}
	if grace == 0 {
		grace = 15 * time.Second // the flag's default
	}
	if tg := s.TerminationGracePeriodSeconds; tg == nil || time.Duration(*tg)*time.Second <= delay+grace {
		t.Errorf("terminationGracePeriodSeconds %v not longer than --shutdown-delay %s + --shutdown-grace %s", tg, delay, grace)
	}

	psc, sc := s.SecurityContext, c.SecurityContext
	if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || ptr.Deref(psc.RunAsUser, 0) == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccomp profile is not RuntimeDefault")
	}
	if sc == nil || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) {
		t.Fatalf("container securityContext %+v: want readOnlyRootFilesystem", sc)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities drop %v, want [ALL]", sc.Capabilities)
	}
	wantAdd := []corev1.Capability(nil)
	if bindsLowPorts {
		wantAdd = []corev1.Capability{"NET_BIND_SERVICE"}
	}
	if sc.Capabilities != nil && !slices.Equal(sc.Capabilities.Add, wantAdd) {
		t.Errorf("capabilities add %v, want %v", sc.Capabilities.Add, wantAdd)
	}
	// Only the file capability of the binary needs privilege escalation
	// allowed at exec (docs/deploy.md); the NodePort mode binds high ports.
	if !bindsLowPorts && ptr.Deref(sc.AllowPrivilegeEscalation, true) {
		t.Errorf("allowPrivilegeEscalation not false")
	}
	if ptr.Deref(sc.Privileged, false) {
		t.Errorf("privileged container")
	}
	if !ptr.Deref(s.AutomountServiceAccountToken, false) {
		t.Errorf("the pod does not mount its token (the ServiceAccount does not automount)")
	}
}

// admitPod has the API server admit (dry-run) a Pod from tmpl in Portico's
// namespace, which runs Pod Security admission at the namespace's level,
// and checks that this admission really enforces: under "restricted" a Pod
// without the template's security settings is refused.
func admitPod(t *testing.T, tmpl corev1.PodTemplateSpec, level string) {
	t.Helper()
	ctx := context.Background()
	pods := cp.Client.CoreV1().Pods(porticoNamespace)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "admission-check", Labels: tmpl.Labels}, Spec: tmpl.Spec}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	if _, err := pods.Create(ctx, pod, dry); err != nil {
		t.Errorf("a Pod from the workload's template is not admitted in namespace %s (%s): %v", porticoNamespace, level, err)
	}
	if level != "restricted" {
		return
	}
	bad := pod.DeepCopy()
	bad.Spec.SecurityContext = nil
	bad.Spec.Containers[0].SecurityContext = nil
	if _, err := pods.Create(ctx, bad, dry); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("a Pod without securityContext was not refused by Pod Security admission (err %v): the check above proves nothing", err)
	}
}
