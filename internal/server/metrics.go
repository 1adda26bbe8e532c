package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	analysisrun "fledge.dev/fledge/internal/analysis/run"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/runner/store"
)

// Collector writes more metric families into /metrics (the notifier's
// counters, for one).
type Collector interface {
	WritePrometheus(w io.Writer)
}

// phases are written as one 0/1 series each, so that a query selects by
// label (fledge_rollout_phase{phase="Degraded"} == 1).
var phases = []v1alpha1.RolloutPhase{v1alpha1.PhaseHealthy, v1alpha1.PhaseProgressing, v1alpha1.PhasePaused, v1alpha1.PhaseDegraded}

// metrics serves the proxies' request metrics, each rollout's state, its
// analysis runs, the events and decisions the Recorder counted, and the
// Collectors' families, in the Prometheus text format.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.WritePrometheus(&buf)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if rs, err := s.cfg.Control.List(ctx); err != nil {
		s.log.Warn("metrics: cannot list rollouts", "err", err)
	} else {
		writeRolloutGauges(&buf, rs)
		s.writeAnalysis(ctx, &buf, rs)
		s.writeEvents(ctx, &buf, rs)
	}
	for _, c := range s.cfg.Collectors {
		c.WritePrometheus(&buf)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(buf.Bytes())
}

func writeRolloutGauges(buf *bytes.Buffer, rs []*v1alpha1.Rollout) {
	var phase, weight, step, info []metrics.Gauge
	for _, ro := range rs {
		name := []metrics.Label{{Name: "rollout", Value: ro.Name}}
		for _, p := range phases {
			v := 0.0
			if ro.Status.Phase == p {
				v = 1
			}
			phase = append(phase, metrics.Gauge{Labels: []metrics.Label{name[0], {Name: "phase", Value: string(p)}}, Value: v})
		}
		weight = append(weight, metrics.Gauge{Labels: name, Value: float64(ro.Status.CanaryWeight)})
		step = append(step, metrics.Gauge{Labels: name, Value: float64(ro.Status.CurrentStepIndex)})
		info = append(info, metrics.Gauge{Value: 1, Labels: []metrics.Label{name[0],
			{Name: "stable", Value: ro.Status.StableRevision}, {Name: "canary", Value: ro.Status.CanaryRevision}}})
	}
	metrics.WriteGauges(buf, "fledge_rollout_phase", "1 for the rollout's current phase, 0 for the others.", phase)
	metrics.WriteGauges(buf, "fledge_rollout_canary_weight", "Percentage of traffic the rollout sends to its canary.", weight)
	metrics.WriteGauges(buf, "fledge_rollout_step", "Index of the canary step being executed (the number of steps when all are done).", step)
	metrics.WriteGauges(buf, "fledge_rollout_info", "Always 1; the labels name the stable revision and the canary being released (empty when none is).", info)
}

// measurementPhases are the verdicts a metric's measurements are counted by.
var measurementPhases = []v1alpha1.AnalysisPhase{v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisFailed, v1alpha1.AnalysisInconclusive, v1alpha1.AnalysisError}

// writeAnalysis writes the phase of the analysis runs of each rollout's
// stable and canary revisions and the verdicts of their measurements, per
// metric. The runs of older revisions stay in the store (the history) but
// leave /metrics, so that the series do not grow with every release.
func (s *Server) writeAnalysis(ctx context.Context, buf *bytes.Buffer, rs []*v1alpha1.Rollout) {
	var phase, measured []metrics.Sample
	for _, ro := range rs {
		runs, err := s.cfg.Control.Runs(ctx, ro.Name)
		if err != nil {
			s.log.Warn("metrics: cannot list analysis runs", "rollout", ro.Name, "err", err)
			continue
		}
		for _, run := range runs {
			if rev := run.Labels[analysisrun.LabelRevision]; rev != "" && rev != ro.Status.CanaryRevision && rev != ro.Status.StableRevision {
				continue
			}
			labels := []metrics.Label{{Name: "rollout", Value: ro.Name}, {Name: "run", Value: run.Name}}
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
	metrics.WriteFamily(buf, "fledge_analysis_run_phase", "gauge", "1 for the current phase of each stored analysis run (Pending, Running, Successful, Failed, Error, Inconclusive).", phase)
	metrics.WriteFamily(buf, "fledge_analysis_measurements_total", "counter", "Measurements of each metric of an analysis run, by verdict.", measured)
}

// writeEvents writes the Recorder's counts, with the time of each rollout's
// last event of each reason taken from the stored events too, so that the
// markers of events older than this process (or recorded outside a
// decision, such as Applied and Undo) are there.
func (s *Server) writeEvents(ctx context.Context, buf *bytes.Buffer, rs []*v1alpha1.Rollout) {
	stored := map[string][]store.Event{}
	for _, ro := range rs {
		evs, err := s.cfg.Control.Events(ctx, ro.Name)
		if err != nil {
			s.log.Warn("metrics: cannot list events", "rollout", ro.Name, "err", err)
			continue
		}
		stored[ro.Name] = evs
	}
	s.cfg.Recorder.write(buf, rs, stored)
}
