package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestLeastPrivilegeRBAC runs the controller as the ServiceAccount of
// config/rbac (by impersonation) through a canary step and a promotion: the
// role grants everything the controller needs, its Lease included.
func TestLeastPrivilegeRBAC(t *testing.T) {
	sys := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fledge-system"}}
	if err := kube.Create(ctx, sys); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, f := range []string{"role.yaml", "bindings.yaml"} {
		serverApply(t, filepath.Join(root, "config", "rbac", f))
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		u.Impersonate = "system:serviceaccount:fledge-system:fledge-controller"
	}
	limited := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, limited); err != nil {
		t.Fatal(err)
	}

	ns := namespace(t)
	startControllerWith(t, limited, "fledge-system")
	setup(t, ns, `
        - setWeight: 40
        - pause: {}
`)
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "paused at 40%", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 40
	})
	command(t, ns, "web", "promote")
	waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision != first
	})
}

// serverApply applies every object of a YAML file (server-side apply).
func serverApply(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if err := kube.Patch(ctx, u, client.Apply, client.FieldOwner("fledge-test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}
