package cluster

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider/prometheus/promtest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// setupAnalysis applies the gateway-api example's Deployment, Services and
// HTTPRoute, an extra object (YAML, e.g. an AnalysisTemplate)
// and a Rollout whose canary takes 20%, then is judged by the analysis
// ref (the inside of an analysis's braces, its templates; the argument
// revision is the canary's), then promoted. inline is the Rollout's
// analysisTemplates section, if any.
func setupAnalysis(t *testing.T, ns, ref, extra, inline string) {
	t.Helper()
	dir := filepath.Join(root, "examples", "kubernetes", "gateway-api")
	for _, f := range []string{"deployment.yaml", "services.yaml", "httproute.yaml"} {
		applyFile(t, ns, filepath.Join(dir, f))
	}
	if extra != "" {
		applyYAML(t, ns, extra)
	}
	applyYAML(t, ns, `
apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 2
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  strategy:
    canary:
      scaleDownDelaySeconds: 0
      trafficRouting:
        gatewayAPI: {httpRoute: web}
      steps:
      - setWeight: 20
      - analysis: {`+ref+`, args: [{name: revision, valueFrom: {podTemplateHashValue: Latest}}]}
`+inline)
}

// release starts a new revision whose success ratio the exporter reports
// as ratio, once Prometheus has scraped it (the analysis must find data),
// and returns the revision.
func release(t *testing.T, ns string, e *exporter, prom *promtest.Server, ratio float64) string {
	t.Helper()
	rev := nextRevision(t, ns, "web", "v2")
	e.set(rev, ratio)
	prom.WaitFor(t, fmt.Sprintf("%s{revision=%q}", exporterMetric, rev), 1)
	setText(t, ns, "web", "v2")
	return rev
}

// checkRun checks that a run is the rollout's, judges rev, and is owned by
// the Rollout (so that it goes with it).
func checkRun(t *testing.T, ns string, r *v1alpha1.AnalysisRun, rev string) {
	t.Helper()
	if r.Labels["fledge.dev/rollout"] != "web" || r.Labels["fledge.dev/revision"] != rev {
		t.Errorf("AnalysisRun %s labels %v, want rollout web and revision %s", r.Name, r.Labels, rev)
	}
	if !strings.HasPrefix(r.Name, "web-r"+rev+"-") {
		t.Errorf("AnalysisRun name %s, want web-r%s-...", r.Name, rev)
	}
	ro := rolloutOf(t, ns, "web")
	if ref := metav1.GetControllerOf(r); ref == nil || ref.UID != ro.UID {
		t.Errorf("AnalysisRun %s is not owned by the Rollout: %+v", r.Name, r.OwnerReferences)
	}
}

// TestAnalysisFailureAborts runs a step analysis from an AnalysisTemplate
// of the namespace, whose Prometheus query reads the canary revision's
// success ratio (0.5, below its 0.95): the run fails, the rollout aborts,
// the HTTPRoute sends everything back to stable.
func TestAnalysisFailureAborts(t *testing.T) {
	ns := namespace(t)
	e := startExporter(t)
	prom := startPrometheus(t, e)
	startController(t)
	setupAnalysis(t, ns, "templates: [{templateName: success}]", `
apiVersion: fledge.dev/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success
spec:
`+successTemplate("  ", prom.URL, "1s", 3), "")
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	rev := release(t, ns, e, prom, 0.5)

	st := waitStatus(t, ns, "web", "aborted", func(st *v1alpha1.RolloutStatus) bool { return st.Abort })
	if st.Phase != v1alpha1.PhaseDegraded || !strings.Contains(st.Message, "success-ratio") {
		t.Errorf("status after the failed analysis: phase %s message %q", st.Phase, st.Message)
	}
	if st.StableRevision != first {
		t.Errorf("stable revision %s, want %s", st.StableRevision, first)
	}
	eventually(t, 30e9, "traffic back to stable", func() (bool, string) {
		s, c := weights(t, ns, "web")
		return s == 100 && c == 0, fmt.Sprintf("weights %d/%d", s, c)
	})
	r := onlyRun(t, ns, "web", "run failed", func(r *v1alpha1.AnalysisRun) bool { return r.Status.Phase == v1alpha1.AnalysisFailed })
	checkRun(t, ns, r, rev)
	if ms := r.Status.MetricResults[0].Measurements; len(ms) == 0 || ms[len(ms)-1].Value != "0.5" {
		t.Errorf("measurements %+v, want the last one 0.5", ms)
	}
	if msg := eventFor(t, ns, r.Name, "AnalysisFailed"); !strings.Contains(msg, `"success-ratio"`) || !strings.Contains(msg, "0.5") {
		t.Errorf("AnalysisFailed event %q names neither the metric nor its value", msg)
	}
}

// TestAnalysisSuccessPromotes runs a step analysis from a
// ClusterAnalysisTemplate: the canary's success ratio (1) passes three
// measurements, and the rollout is promoted.
func TestAnalysisSuccessPromotes(t *testing.T) {
	ns := namespace(t)
	e := startExporter(t)
	prom := startPrometheus(t, e)
	startController(t)
	cluster := ns + "-success"
	t.Cleanup(func() {
		ct := &v1alpha1.ClusterAnalysisTemplate{}
		ct.Name = cluster
		_ = kube.Delete(ctx, ct)
	})
	var ct v1alpha1.ClusterAnalysisTemplate
	if err := yaml.Unmarshal([]byte(successTemplate("", prom.URL, "1s", 3)), &ct.Spec); err != nil {
		t.Fatal(err)
	}
	ct.Name = cluster
	if err := kube.Create(ctx, &ct); err != nil {
		t.Fatal(err)
	}
	setupAnalysis(t, ns, "templates: [{templateName: "+cluster+", clusterScope: true}]", "", "")
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	rev := release(t, ns, e, prom, 1)

	waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision == rev
	})
	if rev == first {
		t.Fatalf("the release did not change the revision (%s)", rev)
	}
	r := onlyRun(t, ns, "web", "run successful", func(r *v1alpha1.AnalysisRun) bool {
		return r.Status.Phase == v1alpha1.AnalysisSuccessful
	})
	checkRun(t, ns, r, rev)
	if n := measurements(r); n != 3 {
		t.Errorf("%d measurements, want 3", n)
	}
	if msg := eventFor(t, ns, r.Name, "AnalysisSuccessful"); !strings.Contains(msg, `"success-ratio"`) || !strings.Contains(msg, "last value 1") {
		t.Errorf("AnalysisSuccessful event %q names neither the metric nor its value", msg)
	}
}

// TestAnalysisResumesAfterRestart kills the controller (SIGKILL) in the
// middle of an analysis from the Rollout's inline template: the next
// controller resumes the same AnalysisRun, which goes on to its verdict
// and promotes the rollout.
func TestAnalysisResumesAfterRestart(t *testing.T) {
	ns := namespace(t)
	e := startExporter(t)
	prom := startPrometheus(t, e)
	p := startController(t)
	setupAnalysis(t, ns, "templates: [{templateName: success}]", "", `
  analysisTemplates:
  - name: success
`+successTemplate("    ", prom.URL, "2s", 8))
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	rev := release(t, ns, e, prom, 1)

	before := onlyRun(t, ns, "web", "run measuring", func(r *v1alpha1.AnalysisRun) bool { return measurements(r) >= 2 })
	p.stop(syscall.SIGKILL)
	before = onlyRun(t, ns, "web", "run read after the kill", func(*v1alpha1.AnalysisRun) bool { return true })
	if before.Status.Phase != v1alpha1.AnalysisRunning {
		t.Fatalf("run %s is %s after the kill, want Running (the analysis must be under way)", before.Name, before.Status.Phase)
	}
	startController(t)
	waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision == rev
	})
	after := onlyRun(t, ns, "web", "run successful", func(r *v1alpha1.AnalysisRun) bool {
		return r.Status.Phase == v1alpha1.AnalysisSuccessful
	})
	checkRun(t, ns, after, rev)
	if after.UID != before.UID || after.Name != before.Name {
		t.Errorf("run after the restart %s (%s), want the same as before, %s (%s)", after.Name, after.UID, before.Name, before.UID)
	}
	if n := measurements(after); n != 8 || n <= measurements(before) {
		t.Errorf("%d measurements after the restart (%d before), want all 8", n, measurements(before))
	}
}

// invalidSpec waits until the Rollout's InvalidSpec condition is status
// (True or False) and returns its message.
func invalidSpec(t *testing.T, ns, status, desc string) string {
	t.Helper()
	var msg string
	eventually(t, 30e9, desc, func() (bool, string) {
		ro := rolloutOf(t, ns, "web")
		c := meta.FindStatusCondition(ro.Status.Conditions, "InvalidSpec")
		if c == nil {
			return false, "no InvalidSpec condition; " + ro.Status.Message
		}
		msg = c.Message
		return string(c.Status) == status, string(c.Status) + ": " + c.Message
	})
	return msg
}

// TestAnalysisTemplateMissingThenCreated names an AnalysisTemplate that
// does not exist: the Rollout is InvalidSpec, saying which; creating the
// template is enough for it to go on (the controller watches templates).
func TestAnalysisTemplateMissingThenCreated(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setupAnalysis(t, ns, "templates: [{templateName: success}]", "", "")
	msg := invalidSpec(t, ns, "True", "InvalidSpec for the missing template")
	if want := `spec.strategy.canary.steps[1].analysis.templates[0].templateName: no analysis template "success"`; !strings.Contains(msg, want) {
		t.Errorf("InvalidSpec message %q, want it to contain %q", msg, want)
	}
	applyYAML(t, ns, `
apiVersion: fledge.dev/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success
spec:
`+successTemplate("  ", "http://127.0.0.1:9", "1s", 1))
	invalidSpec(t, ns, "False", "valid once the template exists")
	waitStatus(t, ns, "web", "first revision healthy", healthy)
}

// TestAnalysisBuiltinRefused names a template measuring with the builtin
// provider, which reads the embedded proxy's counters: there are none in
// a cluster, so the Rollout is InvalidSpec, naming the metric and why,
// instead of a run waiting forever.
func TestAnalysisBuiltinRefused(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setupAnalysis(t, ns, "templates: [{templateName: builtin}]", "", `
  analysisTemplates:
  - name: builtin
    args: [{name: revision}]
    metrics:
    - name: success-rate
      interval: 1s
      successCondition: "result >= 0.99"
      provider: {builtin: {successRate: {}}}
`)
	msg := invalidSpec(t, ns, "True", "InvalidSpec for the builtin provider")
	for _, want := range []string{"spec.analysisTemplates[0].metrics[0].provider.builtin", `metric "success-rate"`, "embedded proxy"} {
		if !strings.Contains(msg, want) {
			t.Errorf("InvalidSpec message %q does not say %q", msg, want)
		}
	}
}

// TestAnalysisLeastPrivilege runs a passing analysis with the controller
// acting as the ServiceAccount of config/rbac (by impersonation): the
// role lets it read the template, create the AnalysisRun and write its
// status.
func TestAnalysisLeastPrivilege(t *testing.T) {
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
	e := startExporter(t)
	prom := startPrometheus(t, e)
	startControllerWith(t, limited, "fledge-system")
	setupAnalysis(t, ns, "templates: [{templateName: success}]", `
apiVersion: fledge.dev/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success
spec:
`+successTemplate("  ", prom.URL, "1s", 2), "")
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	rev := release(t, ns, e, prom, 1)
	waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision == rev
	})
	r := onlyRun(t, ns, "web", "run successful", func(r *v1alpha1.AnalysisRun) bool {
		return r.Status.Phase == v1alpha1.AnalysisSuccessful
	})
	checkRun(t, ns, r, rev)
}
