package server

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
)

// phases are written as one 0/1 series each, so that a query selects by
// label (fledge_rollout_phase{phase="Degraded"} == 1).
var phases = []v1alpha1.RolloutPhase{v1alpha1.PhaseHealthy, v1alpha1.PhaseProgressing, v1alpha1.PhasePaused, v1alpha1.PhaseDegraded}

// metrics serves the proxies' request metrics and each rollout's state in
// the Prometheus text format.
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
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(buf.Bytes())
}

func writeRolloutGauges(buf *bytes.Buffer, rs []*v1alpha1.Rollout) {
	var phase, weight, step []metrics.Gauge
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
	}
	metrics.WriteGauges(buf, "fledge_rollout_phase", "1 for the rollout's current phase, 0 for the others.", phase)
	metrics.WriteGauges(buf, "fledge_rollout_canary_weight", "Percentage of traffic the rollout sends to its canary.", weight)
	metrics.WriteGauges(buf, "fledge_rollout_step", "Index of the canary step being executed (the number of steps when all are done).", step)
}
