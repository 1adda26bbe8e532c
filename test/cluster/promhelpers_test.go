package cluster

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider/prometheus/promtest"
	"fledge.dev/fledge/internal/controller"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// exporterMetric is the gauge the test exporter serves, one series per
// revision: the share of the revision's requests that succeeded, as an
// application's own metrics would say it.
const exporterMetric = "fledge_test_success_ratio"

// exporter is a tiny Prometheus exporter on loopback: the pods of the
// test cluster run nowhere (kwok), so the test plays their metrics.
type exporter struct {
	srv    *httptest.Server
	mu     sync.Mutex
	values map[string]float64 // by revision
}

// startExporter serves /metrics until the test ends.
func startExporter(t *testing.T) *exporter {
	t.Helper()
	e := &exporter{values: map[string]float64{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		revs := make([]string, 0, len(e.values))
		for r := range e.values {
			revs = append(revs, r)
		}
		sort.Strings(revs)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE %s gauge\n", exporterMetric)
		for _, r := range revs {
			fmt.Fprintf(w, "%s{revision=%q} %g\n", exporterMetric, r, e.values[r])
		}
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// hostPort is the exporter's scrape target.
func (e *exporter) hostPort() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// set makes the exporter report a revision's success ratio.
func (e *exporter) set(rev string, v float64) {
	e.mu.Lock()
	e.values[rev] = v
	e.mu.Unlock()
}

// startPrometheus runs a real Prometheus scraping the exporter every
// second (promtest: /usr/bin/prometheus on a free loopback port).
func startPrometheus(t *testing.T, e *exporter) *promtest.Server {
	t.Helper()
	return promtest.Start(t, e.hostPort())
}

// successTemplate is an analysis template spec (YAML, indented for a
// template's spec) with one metric: the canary revision's success ratio
// from Prometheus, count measurements interval apart, at least 0.95.
func successTemplate(indent, promURL, interval string, count int) string {
	spec := fmt.Sprintf(`args: [{name: revision}]
metrics:
- name: success-ratio
  interval: %s
  count: %d
  successCondition: "result >= 0.95"
  provider:
    prometheus:
      address: %s
      timeout: 2s
      query: '%s{revision="{{args.revision}}"}'
`, interval, count, promURL, exporterMetric)
	lines := strings.Split(strings.TrimRight(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = indent + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// nextRevision is the revision the Deployment's template will have once
// setText(text) changed it: what valueFrom {podTemplateHashValue: Latest}
// resolves to, so that the exporter can serve its series before the
// analysis asks.
func nextRevision(t *testing.T, ns, name, text string) string {
	t.Helper()
	var d appsv1.Deployment
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Args = []string{"-listen=:8080", "-text=" + text}
	return controller.Revision(&d.Spec.Template)
}

// analysisRuns lists the AnalysisRuns of a rollout.
func analysisRuns(t *testing.T, ns, rollout string) []v1alpha1.AnalysisRun {
	t.Helper()
	var list v1alpha1.AnalysisRunList
	if err := kube.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"fledge.dev/rollout": rollout}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// onlyRun waits until the rollout has exactly one AnalysisRun satisfying
// cond, and returns it.
func onlyRun(t *testing.T, ns, rollout, desc string, cond func(r *v1alpha1.AnalysisRun) bool) *v1alpha1.AnalysisRun {
	t.Helper()
	var got *v1alpha1.AnalysisRun
	eventually(t, 60e9, desc, func() (bool, string) {
		runs := analysisRuns(t, ns, rollout)
		if len(runs) != 1 {
			return false, fmt.Sprintf("%d runs", len(runs))
		}
		got = &runs[0]
		return cond(got), fmt.Sprintf("run %s phase %s, %d measurements: %s", got.Name, got.Status.Phase, measurements(got), got.Status.Message)
	})
	return got
}

// measurements counts a run's measurements.
func measurements(r *v1alpha1.AnalysisRun) int {
	n := 0
	for _, m := range r.Status.MetricResults {
		n += len(m.Measurements)
	}
	return n
}

// eventFor waits for an event with reason on the object named name, and
// returns its message.
func eventFor(t *testing.T, ns, name, reason string) string {
	t.Helper()
	var msg string
	eventually(t, 30e9, "event "+reason+" on "+name, func() (bool, string) {
		var list corev1.EventList
		if err := kube.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		var seen []string
		for _, e := range list.Items {
			if e.InvolvedObject.Name == name && e.Reason == reason {
				msg = e.Message
				return true, ""
			}
			seen = append(seen, e.InvolvedObject.Name+"/"+e.Reason)
		}
		return false, strings.Join(seen, ", ")
	})
	return msg
}
