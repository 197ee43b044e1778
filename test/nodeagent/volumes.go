package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A bindMount is one file or folder a container's program sees at dst:
// bind-mounted inside its private mount namespace, so other processes on
// the machine do not see it.
type bindMount struct {
	src, dst string
	readOnly bool
}

// writeVolumes materialises the Pod's volumes under dir: Secret and
// ConfigMap keys as files (read only for the program, as in a cluster),
// emptyDir as an empty folder. It returns each volume's host folder. A
// missing Secret or ConfigMap is an error the caller retries, as a kubelet
// does, unless the volume is optional.
func writeVolumes(ctx context.Context, a *Agent, pod *corev1.Pod, dir string) (map[string]string, error) {
	paths := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		p := filepath.Join(dir, v.Name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, err
		}
		paths[v.Name] = p
		var data map[string][]byte
		var items []corev1.KeyToPath
		var mode *int32
		switch {
		case v.EmptyDir != nil:
			continue
		case v.Secret != nil:
			s, err := a.client.CoreV1().Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if err != nil {
				if isOptional(v.Secret.Optional) {
					continue
				}
				return nil, fmt.Errorf("volume %q: secret %q: %w", v.Name, v.Secret.SecretName, err)
			}
			data, items, mode = s.Data, v.Secret.Items, v.Secret.DefaultMode
		case v.ConfigMap != nil:
			cm, err := a.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				if isOptional(v.ConfigMap.Optional) {
					continue
				}
				return nil, fmt.Errorf("volume %q: configmap %q: %w", v.Name, v.ConfigMap.Name, err)
			}
			data = map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				data[k] = b
			}
			items, mode = v.ConfigMap.Items, v.ConfigMap.DefaultMode
		default:
			return nil, fmt.Errorf("volume %q: only secret, configMap and emptyDir volumes are supported by the test node agent", v.Name)
		}
		if err := writeKeys(p, data, items, mode); err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
	}
	return paths, nil
}

func writeKeys(dir string, data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32) error {
	mode := os.FileMode(0o644)
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode)
	}
	if len(items) == 0 {
		for k := range data {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("no key %q", it.Key)
		}
		if !filepath.IsLocal(it.Path) {
			return fmt.Errorf("item path %q is not local", it.Path)
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		p := filepath.Join(dir, it.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, m); err != nil {
			return err
		}
	}
	return nil
}

func isOptional(o *bool) bool { return o != nil && *o }

// containerMounts turns a container's volumeMounts into bind mounts, in an
// order where a parent folder is mounted before what is mounted inside it.
func containerMounts(c corev1.Container, vols map[string]string, pod *corev1.Pod) ([]bindMount, error) {
	kinds := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		kinds[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var ms []bindMount
	for _, vm := range c.VolumeMounts {
		src, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: no such volume", vm.Name)
		}
		if vm.SubPath != "" {
			if !filepath.IsLocal(vm.SubPath) {
				return nil, fmt.Errorf("volumeMount %q: subPath %q is not local", vm.Name, vm.SubPath)
			}
			src = filepath.Join(src, vm.SubPath)
		}
		if !filepath.IsAbs(vm.MountPath) {
			return nil, fmt.Errorf("volumeMount %q: mountPath %q is not absolute", vm.Name, vm.MountPath)
		}
		v := kinds[vm.Name]
		ro := vm.ReadOnly || v.Secret != nil || v.ConfigMap != nil
		ms = append(ms, bindMount{src: src, dst: filepath.Clean(vm.MountPath), readOnly: ro})
	}
	sort.SliceStable(ms, func(i, j int) bool { return strings.Count(ms[i].dst, "/") < strings.Count(ms[j].dst, "/") })
	return ms, nil
}

// mountPoints creates the mount points that do not exist on the machine
// (a bind mount needs one) and removes them when no container uses them any
// more. A mount point is an empty folder or file; what the program sees
// there lives only in its mount namespace.
type mountPoints struct {
	mu   sync.Mutex
	refs map[string]int // created path -> containers using it
}

func newMountPoints() *mountPoints { return &mountPoints{refs: map[string]int{}} }

// acquire makes dst exist (a folder, or an empty file when src is a file)
// and returns the paths this call counts a use of.
func (m *mountPoints) acquire(src, dst string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	var created []string
	for p := dst; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || p == "/" {
			break
		}
		created = append([]string{p}, created...) // outermost first
	}
	for i, p := range created {
		if i == len(created)-1 && !fi.IsDir() {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				return nil, err
			}
		} else if err := os.Mkdir(p, 0o755); err != nil {
			return nil, err
		}
	}
	var used []string
	for p, n := range m.refs {
		if p == dst || strings.HasPrefix(dst, p+"/") {
			m.refs[p] = n + 1
			used = append(used, p)
		}
	}
	for _, p := range created {
		m.refs[p] = 1
		used = append(used, p)
	}
	return used, nil
}

// release drops uses from acquire and removes what nobody uses, innermost
// first. Only empty folders and empty files are removed.
func (m *mountPoints) release(used []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sort.Slice(used, func(i, j int) bool { return len(used[i]) > len(used[j]) })
	for _, p := range used {
		if m.refs[p]--; m.refs[p] > 0 {
			continue
		}
		delete(m.refs, p)
		if fi, err := os.Lstat(p); err == nil && (fi.IsDir() || fi.Size() == 0) {
			_ = os.Remove(p) // fails, harmlessly, on a folder someone else filled
		}
	}
}
