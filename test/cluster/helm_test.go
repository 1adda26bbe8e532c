package cluster

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The Helm chart (charts/fledge), rendered by the helm that hack/tools/go.mod
// pins (through hack/tools/helm.sh) and sent to the API server with a
// server-side dry run: what it renders must be accepted as is, grant what
// config/rbac grants and ship the CRDs of config/crd/bases.

// TestHelmChart renders the chart with its default values and with every
// optional part turned the other way, and checks each rendering.
func TestHelmChart(t *testing.T) {
	helmRun(t, "lint", "--strict", filepath.Join(root, "charts", "fledge"))
	chartCRDsAreConfigs(t)

	t.Run("bad values", func(t *testing.T) {
		for args, want := range map[string]string{
			"leaderElection.enabled=false,replicas=2": "leaderElection.enabled: false needs replicas: 1",
			"serviceAccount.create=false":             "serviceAccount.name: the existing ServiceAccount",
		} {
			if msg := helmFails(t, "template", "fledge", filepath.Join(root, "charts", "fledge"), "--set", args); !strings.Contains(msg, want) {
				t.Errorf("--set %s: error %q, want it to say %q", args, msg, want)
			}
		}
	})

	t.Run("defaults", func(t *testing.T) {
		ns := namespace(t)
		objs := render(t, ns)
		kinds := kindsOf(objs)
		want := []string{"ClusterRole", "ClusterRoleBinding", "Deployment", "PodDisruptionBudget",
			"Role", "RoleBinding", "Service", "ServiceAccount"}
		if !slices.Equal(kinds, want) {
			t.Fatalf("rendered kinds %v, want %v", kinds, want)
		}
		rulesAreConfigs(t, objs)
		d := deploymentOf(t, objs)
		// Release "fledge": the names of config/, so that either install
		// can replace the other.
		if d.Name != "fledge-controller" || *d.Spec.Replicas != 2 {
			t.Errorf("Deployment %s with %d replicas, want fledge-controller with 2", d.Name, *d.Spec.Replicas)
		}
		c := d.Spec.Template.Spec.Containers[0]
		for _, arg := range []string{"--leader-elect=true", "--leader-election-namespace=" + ns,
			"--health-probe-bind-address=:8081", "--metrics-bind-address=:8080"} {
			if !slices.Contains(c.Args, arg) {
				t.Errorf("controller args %v lack %s", c.Args, arg)
			}
		}
		// The kubelet probes the port the controller serves them on.
		probes := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "probes" })
		if probes < 0 || c.Ports[probes].ContainerPort != 8081 ||
			c.LivenessProbe.HTTPGet.Port.String() != "probes" || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
			c.ReadinessProbe.HTTPGet.Port.String() != "probes" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("ports %+v, probes %+v %+v: want /healthz and /readyz on the port probes, 8081",
				c.Ports, c.LivenessProbe.HTTPGet, c.ReadinessProbe.HTTPGet)
		}
		sc, psc := c.SecurityContext, d.Spec.Template.Spec.SecurityContext
		if !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
			!*psc.RunAsNonRoot || psc.SeccompProfile.Type != "RuntimeDefault" {
			t.Errorf("security contexts: pod %+v, container %+v", psc, sc)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("no resource requests: %+v", c.Resources)
		}
		dryRun(t, objs)
	})

	t.Run("overrides", func(t *testing.T) {
		ns := namespace(t)
		objs := render(t, ns, "--set", "installCRDs=true", "-f", valuesFile(t, `
replicas: 1
image: {repository: registry.example/fledge, tag: v9.9.9, pullPolicy: Always}
leaderElection: {enabled: false}
serviceAccount: {create: false, name: existing}
metrics: {port: 9090, service: {enabled: false}}
probes: {port: 9091}
podDisruptionBudget: {enabled: false}
reconcilers: 3
notifications: {webhooks: ["https://ci.example/hook"], slack: ["https://hooks.example/T/B/x"], events: [aborted, promoted]}
podAnnotations: {prometheus.io/scrape: "true"}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: fledge, effect: NoSchedule}]
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector: {matchLabels: {app.kubernetes.io/name: fledge-controller}}
`))
		kinds := kindsOf(objs)
		want := []string{"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Deployment"}
		if !slices.Equal(kinds, want) {
			t.Fatalf("rendered kinds %v, want %v", kinds, want)
		}
		renderedCRDsAreConfigs(t, objs)
		d := deploymentOf(t, objs)
		spec := d.Spec.Template.Spec
		c := spec.Containers[0]
		switch {
		case *d.Spec.Replicas != 1:
			t.Errorf("replicas %d, want 1", *d.Spec.Replicas)
		case c.Image != "registry.example/fledge:v9.9.9" || c.ImagePullPolicy != "Always":
			t.Errorf("image %s (%s)", c.Image, c.ImagePullPolicy)
		case spec.ServiceAccountName != "existing":
			t.Errorf("serviceAccountName %q, want existing", spec.ServiceAccountName)
		case !slices.Contains(c.Args, "--leader-elect=false") || !slices.Contains(c.Args, "--health-probe-bind-address=:9091"):
			t.Errorf("args %v", c.Args)
		case !slices.Contains(c.Args, "--reconcilers=3") || !slices.Contains(c.Args, "--notify-webhook=https://ci.example/hook") ||
			!slices.Contains(c.Args, "--notify-slack=https://hooks.example/T/B/x") || !slices.Contains(c.Args, "--notify-events=aborted,promoted"):
			t.Errorf("args %v: want the reconcilers and the notification flags", c.Args)
		case c.Ports[0].ContainerPort != 9090 || c.Ports[1].ContainerPort != 9091:
			t.Errorf("ports %+v", c.Ports)
		case spec.NodeSelector["kubernetes.io/os"] != "linux" || len(spec.Tolerations) != 1 || spec.Affinity == nil:
			t.Errorf("scheduling: %v %v %v", spec.NodeSelector, spec.Tolerations, spec.Affinity)
		case d.Spec.Template.Annotations["prometheus.io/scrape"] != "true":
			t.Errorf("pod annotations %v", d.Spec.Template.Annotations)
		}
		for _, o := range objs {
			if o.GetKind() == "ClusterRoleBinding" && o.Object["subjects"].([]any)[0].(map[string]any)["name"] != "existing" {
				t.Errorf("ClusterRoleBinding subjects %v, want the ServiceAccount existing", o.Object["subjects"])
			}
		}
		dryRun(t, objs)
	})
}

// TestManagerManifests sends config/manager/manager.yaml (the install
// without Helm) to the API server with a server-side dry run.
func TestManagerManifests(t *testing.T) {
	sys := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fledge-system"}}
	if err := kube.Create(ctx, sys); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "config", "manager", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(b), "\n---") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if len(obj) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: obj})
		}
	}
	if kinds := kindsOf(objs); !slices.Equal(kinds, []string{"Deployment", "Namespace", "PodDisruptionBudget", "Service"}) {
		t.Fatalf("config/manager/manager.yaml has %v", kinds)
	}
	dryRun(t, objs)
}

// render runs `helm template fledge` into namespace ns and decodes every
// object it prints.
func render(t *testing.T, ns string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out := helmRun(t, append([]string{"template", "fledge", filepath.Join(root, "charts", "fledge"), "--namespace", ns}, args...)...)
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(out, "\n---") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("helm template printed bad YAML: %v\n%s", err, doc)
		}
		if len(obj) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: obj})
		}
	}
	return objs
}

// dryRun applies every object server side with dryRun=All: the API server
// validates and admits each one as if it were created, and stores nothing.
func dryRun(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if err := kube.Patch(ctx, o, client.Apply, client.DryRunAll, client.FieldOwner("fledge-helm-test"), client.ForceOwnership); err != nil {
			t.Errorf("server-side dry run of %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// rulesAreConfigs checks that the chart's ClusterRole and Role grant exactly
// what config/rbac/role.yaml's do, rule for rule.
func rulesAreConfigs(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	want := map[string][]rbacv1.PolicyRule{}
	b, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---") {
		var r rbacv1.ClusterRole // a Role has the same rules field
		if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
			t.Fatal(err)
		}
		want[r.Kind] = r.Rules
	}
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			continue
		}
		var r rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.Rules, want[o.GetKind()]) {
			t.Errorf("the chart's %s rules differ from config/rbac/role.yaml's: change charts/fledge/templates/rbac.yaml with it\nchart:  %v\nconfig: %v",
				o.GetKind(), r.Rules, want[o.GetKind()])
		}
		delete(want, o.GetKind())
	}
	for kind := range want {
		t.Errorf("config/rbac/role.yaml has a %s the chart does not render", kind)
	}
}

// chartCRDsAreConfigs checks that charts/fledge/crds holds config/crd/bases,
// byte for byte (`make manifests` copies them).
func chartCRDsAreConfigs(t *testing.T) {
	t.Helper()
	bases, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	copies, _ := filepath.Glob(filepath.Join(root, "charts", "fledge", "crds", "*.yaml"))
	if len(bases) == 0 || len(copies) != len(bases) {
		t.Fatalf("%d CRDs in config/crd/bases, %d in charts/fledge/crds: run make manifests", len(bases), len(copies))
	}
	for _, f := range bases {
		a, _ := os.ReadFile(f)
		b, err := os.ReadFile(filepath.Join(root, "charts", "fledge", "crds", filepath.Base(f)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("charts/fledge/crds/%s is not config/crd/bases' (%v): run make manifests", filepath.Base(f), err)
		}
	}
}

// renderedCRDsAreConfigs checks the CRDs rendered with installCRDs: those of
// config/crd/bases with Helm's keep policy added.
func renderedCRDsAreConfigs(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	bases, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	rendered := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			rendered[o.GetName()] = o
		}
	}
	if len(rendered) != len(bases) {
		t.Errorf("%d CRDs rendered, want the %d of config/crd/bases", len(rendered), len(bases))
	}
	for _, f := range bases {
		b, _ := os.ReadFile(f)
		var want map[string]any
		if err := yaml.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		w := &unstructured.Unstructured{Object: want}
		ann := w.GetAnnotations()
		ann["helm.sh/resource-policy"] = "keep"
		w.SetAnnotations(ann)
		if got := rendered[w.GetName()]; got == nil || !reflect.DeepEqual(got.Object, w.Object) {
			t.Errorf("rendered CRD %s is not %s with the keep policy", w.GetName(), filepath.Base(f))
		}
	}
}

func deploymentOf(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				t.Fatal(err)
			}
			return &d
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

// kindsOf is the sorted kinds of objs, each once.
func kindsOf(objs []*unstructured.Unstructured) []string {
	var kinds []string
	for _, o := range objs {
		if !slices.Contains(kinds, o.GetKind()) {
			kinds = append(kinds, o.GetKind())
		}
	}
	slices.Sort(kinds)
	return kinds
}

func valuesFile(t *testing.T, values string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(f, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// helmFails runs helm, which must fail, and returns what it printed.
func helmFails(t *testing.T, args ...string) string {
	t.Helper()
	out, err := helm(t, args...)
	if err == nil {
		t.Fatalf("helm %s succeeded, want an error; it printed:\n%s", strings.Join(args, " "), out)
	}
	return out
}

// helmRun runs helm, which must succeed, and returns its output.
func helmRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := helm(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// helm runs helm through hack/tools/helm.sh (which builds it on first use),
// with its state in a temporary directory, never the user's; out is its
// standard output, or all it printed when it fails.
func helm(t *testing.T, args ...string) (out string, err error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "hack", "tools", "helm.sh"), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config",
		"HELM_DATA_HOME="+home+"/data", "KUBECONFIG="+kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}
