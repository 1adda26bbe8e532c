package rollouts

import (
	"bytes"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	analysisrun "fledge.dev/fledge/internal/analysis/run"
)

func TestWriteStateNamesTheNamespace(t *testing.T) {
	ro := rollout("prod", "web")
	ro.Status = v1alpha1.RolloutStatus{Phase: v1alpha1.PhasePaused, CanaryWeight: 20, CurrentStepIndex: 1, StableRevision: "a1", CanaryRevision: "b2"}
	var buf bytes.Buffer
	WriteState(&buf, []*v1alpha1.Rollout{ro}, ByNamespace)
	lacks(t, buf.String(),
		`fledge_rollout_phase{namespace="prod",rollout="web",phase="Paused"} 1`,
		`fledge_rollout_phase{namespace="prod",rollout="web",phase="Healthy"} 0`,
		`fledge_rollout_canary_weight{namespace="prod",rollout="web"} 20`,
		`fledge_rollout_step{namespace="prod",rollout="web"} 1`,
		`fledge_rollout_info{namespace="prod",rollout="web",stable="a1",canary="b2"} 1`,
	)
	buf.Reset()
	WriteState(&buf, []*v1alpha1.Rollout{ro}, ByName)
	if strings.Contains(buf.String(), "namespace=") {
		t.Errorf("ByName writes a namespace:\n%s", buf.String())
	}
}

// Only the runs of the stable and canary revisions are written; each
// metric's measurements by verdict.
func TestWriteAnalysisKeepsCurrentRevisions(t *testing.T) {
	ro := rollout("prod", "web")
	ro.Status = v1alpha1.RolloutStatus{StableRevision: "a1", CanaryRevision: "b2"}
	run := func(name, rev string, phase v1alpha1.AnalysisPhase) *v1alpha1.AnalysisRun {
		r := &v1alpha1.AnalysisRun{}
		r.Name, r.Labels, r.Status.Phase = name, map[string]string{analysisrun.LabelRevision: rev}, phase
		r.Status.MetricResults = []v1alpha1.MetricResult{{Name: "success", Successful: 3, Failed: 1}}
		return r
	}
	runs := []*v1alpha1.AnalysisRun{run("web-b2", "b2", v1alpha1.AnalysisRunning), run("web-a1", "a1", ""), run("web-old", "z9", v1alpha1.AnalysisFailed)}
	var buf bytes.Buffer
	WriteAnalysis(&buf, []*v1alpha1.Rollout{ro}, ByNamespace, func(*v1alpha1.Rollout) []*v1alpha1.AnalysisRun { return runs })
	text := buf.String()
	lacks(t, text,
		`fledge_analysis_run_phase{namespace="prod",rollout="web",run="web-b2",phase="Running"} 1`,
		`fledge_analysis_run_phase{namespace="prod",rollout="web",run="web-a1",phase="Pending"} 1`,
		`fledge_analysis_measurements_total{namespace="prod",rollout="web",run="web-b2",metric="success",phase="Successful"} 3`,
		`fledge_analysis_measurements_total{namespace="prod",rollout="web",run="web-b2",metric="success",phase="Failed"} 1`,
		`fledge_analysis_measurements_total{namespace="prod",rollout="web",run="web-b2",metric="success",phase="Error"} 0`,
	)
	if strings.Contains(text, "web-old") {
		t.Errorf("an older revision's run is written:\n%s", text)
	}
}
