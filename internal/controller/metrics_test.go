package controller

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	analysisrun "fledge.dev/fledge/internal/analysis/run"
	"fledge.dev/fledge/internal/metrics/rollouts"
	"fledge.dev/fledge/internal/notify"
	"fledge.dev/fledge/internal/rollout"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// lists is a client.Reader over fixed lists, for the collector's unit
// tests (test/cluster/metrics_test.go runs it against a real API server).
type lists struct {
	client.Reader
	rollouts []v1alpha1.Rollout
	runs     []v1alpha1.AnalysisRun
	err      error
}

func (l lists) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	if l.err != nil {
		return l.err
	}
	switch list := list.(type) {
	case *v1alpha1.RolloutList:
		list.Items = l.rollouts
	case *v1alpha1.AnalysisRunList:
		list.Items = l.runs
	}
	return nil
}

// byRollout is a RunSource over a fixed list of runs.
type byRollout []v1alpha1.AnalysisRun

func (b byRollout) AnalysisRuns() map[rollouts.ID][]*v1alpha1.AnalysisRun {
	out := map[rollouts.ID][]*v1alpha1.AnalysisRun{}
	for i := range b {
		id := rollouts.ID{Namespace: b[i].Namespace, Name: b[i].Labels[analysisrun.LabelRollout]}
		out[id] = append(out[id], &b[i])
	}
	return out
}

// scrape gathers a registry holding m and writes it as Prometheus would
// read it.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("the registry refuses what was collected: %v", err)
	}
	var buf bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

func has(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("lacks %q:\n%s", l, text)
		}
	}
}

func testRollout(ns, name string, workload bool, st v1alpha1.RolloutStatus) v1alpha1.Rollout {
	ro := v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Status: st}
	if workload {
		ro.Spec.WorkloadRef = &v1alpha1.WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: name}
	}
	return ro
}

func testRun(ns, rollout, name, rev string, phase v1alpha1.AnalysisPhase) v1alpha1.AnalysisRun {
	r := v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels: map[string]string{analysisrun.LabelRollout: rollout, analysisrun.LabelRevision: rev}}}
	r.Status.Phase = phase
	r.Status.MetricResults = []v1alpha1.MetricResult{{Name: "success", Successful: 2, Failed: 1}}
	return r
}

// The controller's families are the daemon's, with the daemon's help, a
// namespace label, and only the Rollouts it drives; the registry takes
// them as they are written, the decision histogram included.
func TestMetricsExportTheDaemonsFamilies(t *testing.T) {
	paused := v1alpha1.RolloutStatus{Phase: v1alpha1.PhasePaused, CanaryWeight: 20, CurrentStepIndex: 1, StableRevision: "a1", CanaryRevision: "b2"}
	cache := lists{rollouts: []v1alpha1.Rollout{
		testRollout("prod", "web", true, paused),
		testRollout("test", "web", true, v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "c3"}),
		testRollout("prod", "local", false, paused), // a template rollout: the daemon's, not the controller's
	}}
	api := lists{runs: []v1alpha1.AnalysisRun{
		testRun("prod", "web", "web-b2-1", "b2", v1alpha1.AnalysisRunning),
		testRun("prod", "web", "web-z9-1", "z9", v1alpha1.AnalysisFailed), // an older revision's
		testRun("test", "web", "web-b2-1", "b2", v1alpha1.AnalysisFailed), // another namespace's web
	}}
	n, err := notify.New(notify.Config{Sinks: []notify.Sink{{Kind: notify.Webhook, URL: "http://127.0.0.1:9/hook?token=secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	notes, err := NewNotifications(api, record.NewFakeRecorder(10), logr.Discard(), WithNotifier(n))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(cache, byRollout(api.runs), notes, logr.Discard())
	web := &cache.rollouts[0]
	p := m.pass(web)
	p.persisted([]rollout.Event{{Type: "Normal", Reason: "WeightChanged"}}, time.Unix(1000, 0))
	p.done()
	m.pass(web).done() // a pass that decided nothing new

	text := scrape(t, m)
	has(t, text,
		"# HELP fledge_rollout_phase 1 for the rollout's current phase, 0 for the others.",
		`fledge_rollout_phase{namespace="prod",phase="Paused",rollout="web"} 1`,
		`fledge_rollout_phase{namespace="test",phase="Healthy",rollout="web"} 1`,
		`fledge_rollout_canary_weight{namespace="prod",rollout="web"} 20`,
		`fledge_rollout_step{namespace="prod",rollout="web"} 1`,
		`fledge_rollout_info{canary="b2",namespace="prod",rollout="web",stable="a1"} 1`,
		`fledge_analysis_run_phase{namespace="prod",phase="Running",rollout="web",run="web-b2-1"} 1`,
		`fledge_analysis_measurements_total{metric="success",namespace="prod",phase="Failed",rollout="web",run="web-b2-1"} 1`,
		"# TYPE fledge_rollout_events_total counter",
		`fledge_rollout_events_total{namespace="prod",reason="WeightChanged",rollout="web"} 1`,
		`fledge_rollout_event_timestamp_seconds{namespace="prod",reason="WeightChanged",rollout="web"} 1000`,
		"# TYPE fledge_rollout_decision_duration_seconds histogram",
		`fledge_rollout_decision_duration_seconds_bucket{namespace="prod",rollout="web",le="+Inf"} 2`,
		`fledge_rollout_decision_duration_seconds_count{namespace="prod",rollout="web"} 2`,
		`fledge_notifications_queued{kind="webhook",target="http://127.0.0.1:9"} 0`,
	)
	for _, never := range []string{`rollout="local"`, "web-z9-1", `namespace="test",phase="Failed"`, "secret"} {
		if strings.Contains(text, never) {
			t.Errorf("exports %s:\n%s", never, text)
		}
	}
	if n := strings.Count(text, `le="+Inf"`); n != 1 {
		t.Errorf("%d +Inf buckets, want 1:\n%s", n, text)
	}
	// A second scrape collects the same, not twice as much.
	if again := scrape(t, m); again != text {
		t.Errorf("a second scrape differs:\n%s\nfirst:\n%s", again, text)
	}
}

// A read that fails leaves its families out, not the others; without runs
// (a replica that does not lead) the analysis families are empty.
func TestMetricsSurviveAFailedRead(t *testing.T) {
	cache := lists{rollouts: []v1alpha1.Rollout{testRollout("prod", "web", true, v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy})}}
	text := scrape(t, NewMetrics(cache, nil, nil, logr.Discard()))
	has(t, text, `fledge_rollout_phase{namespace="prod",phase="Healthy",rollout="web"} 1`)
	if strings.Contains(text, "fledge_analysis_run_phase{") {
		t.Errorf("analysis samples without runs:\n%s", text)
	}
	runs := byRollout{testRun("prod", "web", "web-a-1", "", v1alpha1.AnalysisRunning)}
	if text := scrape(t, NewMetrics(lists{err: errors.New("no cache")}, runs, nil, logr.Discard())); strings.Contains(text, "fledge_rollout_phase") {
		t.Errorf("rollout families without rollouts:\n%s", text)
	}
}

// A Reconciler without Metrics (tests, tools) times nothing and fails not.
func TestNilMetricsPass(t *testing.T) {
	var m *Metrics
	p := m.pass(&v1alpha1.Rollout{})
	p.persisted([]rollout.Event{{Reason: "X"}}, time.Now())
	p.done()
}
