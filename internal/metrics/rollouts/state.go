package rollouts

import (
	"io"

	"fledge.dev/fledge/api/v1alpha1"
	analysisrun "fledge.dev/fledge/internal/analysis/run"
	"fledge.dev/fledge/internal/metrics"
)

// ID names a rollout in the families' labels: rollout="name", preceded by
// namespace="ns" when Namespace is set (on Kubernetes; never locally, so
// that the daemon's series keep the labels they always had).
type ID struct{ Namespace, Name string }

// labels are the ID's labels, to which each family adds its own.
func (id ID) labels() []metrics.Label {
	if id.Namespace == "" {
		return []metrics.Label{{Name: "rollout", Value: id.Name}}
	}
	return []metrics.Label{{Name: "namespace", Value: id.Namespace}, {Name: "rollout", Value: id.Name}}
}

// with is the ID's labels followed by more, in a slice of its own.
func (id ID) with(more ...metrics.Label) []metrics.Label {
	return append(id.labels(), more...)
}

// Naming is how the families name a rollout.
type Naming func(*v1alpha1.Rollout) ID

// ByName names a rollout by its name alone: the local daemon's rollouts
// live in one store.
func ByName(ro *v1alpha1.Rollout) ID { return ID{Name: ro.Name} }

// ByNamespace names a rollout by namespace and name: the controller's.
func ByNamespace(ro *v1alpha1.Rollout) ID { return ID{Namespace: ro.Namespace, Name: ro.Name} }

// phases are written as one 0/1 series each, so that a query selects by
// label (fledge_rollout_phase{phase="Degraded"} == 1).
var phases = []v1alpha1.RolloutPhase{v1alpha1.PhaseHealthy, v1alpha1.PhaseProgressing, v1alpha1.PhasePaused, v1alpha1.PhaseDegraded}

// WriteState writes each rollout's phase, canary weight, step and
// revisions, as read from its status.
func WriteState(w io.Writer, rs []*v1alpha1.Rollout, name Naming) {
	var phase, weight, step, info []metrics.Gauge
	for _, ro := range rs {
		id := name(ro)
		for _, p := range phases {
			v := 0.0
			if ro.Status.Phase == p {
				v = 1
			}
			phase = append(phase, metrics.Gauge{Labels: id.with(metrics.Label{Name: "phase", Value: string(p)}), Value: v})
		}
		weight = append(weight, metrics.Gauge{Labels: id.labels(), Value: float64(ro.Status.CanaryWeight)})
		step = append(step, metrics.Gauge{Labels: id.labels(), Value: float64(ro.Status.CurrentStepIndex)})
		info = append(info, metrics.Gauge{Value: 1, Labels: id.with(
			metrics.Label{Name: "stable", Value: ro.Status.StableRevision}, metrics.Label{Name: "canary", Value: ro.Status.CanaryRevision})})
	}
	metrics.WriteGauges(w, "fledge_rollout_phase", "1 for the rollout's current phase, 0 for the others.", phase)
	metrics.WriteGauges(w, "fledge_rollout_canary_weight", "Percentage of traffic the rollout sends to its canary.", weight)
	metrics.WriteGauges(w, "fledge_rollout_step", "Index of the canary step being executed (the number of steps when all are done).", step)
	metrics.WriteGauges(w, "fledge_rollout_info", "Always 1; the labels name the stable revision and the canary being released (empty when none is).", info)
}

// measurementPhases are the verdicts a metric's measurements are counted by.
var measurementPhases = []v1alpha1.AnalysisPhase{v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisFailed, v1alpha1.AnalysisInconclusive, v1alpha1.AnalysisError}

// WriteAnalysis writes the phase of the analysis runs of each rollout's
// stable and canary revisions and the verdicts of their measurements, per
// metric; runs lists a rollout's runs (none when they cannot be read). The
// runs of older revisions are left out, so that the series do not grow
// with every release.
func WriteAnalysis(w io.Writer, rs []*v1alpha1.Rollout, name Naming, runs func(*v1alpha1.Rollout) []*v1alpha1.AnalysisRun) {
	var phase, measured []metrics.Sample
	for _, ro := range rs {
		id := name(ro)
		for _, run := range runs(ro) {
			if rev := run.Labels[analysisrun.LabelRevision]; rev != "" && rev != ro.Status.CanaryRevision && rev != ro.Status.StableRevision {
				continue
			}
			labels := id.with(metrics.Label{Name: "run", Value: run.Name})
			p := run.Status.Phase
			if p == "" {
				p = v1alpha1.AnalysisPending
			}
			phase = append(phase, metrics.Sample{Labels: append(labels, metrics.Label{Name: "phase", Value: string(p)}), Value: 1})
			for _, m := range run.Status.MetricResults {
				counts := []int32{m.Successful, m.Failed, m.Inconclusive, m.Error}
				for i, mp := range measurementPhases {
					l := append(append([]metrics.Label(nil), labels...), metrics.Label{Name: "metric", Value: m.Name}, metrics.Label{Name: "phase", Value: string(mp)})
					measured = append(measured, metrics.Sample{Labels: l, Value: float64(counts[i])})
				}
			}
		}
	}
	metrics.WriteFamily(w, "fledge_analysis_run_phase", "gauge", "1 for the current phase of each stored analysis run (Pending, Running, Successful, Failed, Error, Inconclusive).", phase)
	metrics.WriteFamily(w, "fledge_analysis_measurements_total", "counter", "Measurements of each metric of an analysis run, by verdict.", measured)
}
