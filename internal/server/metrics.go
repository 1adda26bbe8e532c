package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics/rollouts"
	"fledge.dev/fledge/internal/runner/store"
)

// Collector writes more metric families into /metrics (the notifier's
// counters, for one).
type Collector interface {
	WritePrometheus(w io.Writer)
}

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
		rollouts.WriteState(&buf, rs, rollouts.ByName)
		s.writeAnalysis(ctx, &buf, rs)
		s.writeEvents(ctx, &buf, rs)
	}
	for _, c := range s.cfg.Collectors {
		c.WritePrometheus(&buf)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(buf.Bytes())
}

// writeAnalysis writes the phase of the analysis runs of each rollout's
// stable and canary revisions and the verdicts of their measurements, per
// metric. The runs of older revisions stay in the store (the history) but
// leave /metrics, so that the series do not grow with every release.
func (s *Server) writeAnalysis(ctx context.Context, buf *bytes.Buffer, rs []*v1alpha1.Rollout) {
	rollouts.WriteAnalysis(buf, rs, rollouts.ByName, func(ro *v1alpha1.Rollout) []*v1alpha1.AnalysisRun {
		runs, err := s.cfg.Control.Runs(ctx, ro.Name)
		if err != nil {
			s.log.Warn("metrics: cannot list analysis runs", "rollout", ro.Name, "err", err)
			return nil
		}
		return runs
	})
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
