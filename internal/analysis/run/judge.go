package run

import (
	"context"
	"fmt"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/provider/builtin"
	"fledge.dev/fledge/internal/analysis/provider/prometheus"
	"fledge.dev/fledge/internal/analysis/stats"
	"fledge.dev/fledge/internal/metrics"
)

// windowReader reads what the canary and the stable revision did over the
// same window, for one judge: the builtin provider from the embedded
// proxy's per-version counters and latency histograms, the prometheus
// provider from the judge's queries.
type windowReader interface {
	JudgeVersions(ctx context.Context, j v1alpha1.Judge, env provider.Env) (canary, stable metrics.Counts, err error)
}

// judgeSource is the provider a judge reads its windows from: Prometheus
// when the judge names one, otherwise the embedded proxy's counters.
func judgeSource(j v1alpha1.Judge) string {
	if j.Prometheus != nil {
		return prometheus.ID
	}
	return builtin.ID
}

// windowReader returns the reader judge j uses, shared with the metrics of
// the same provider.
func (m *Manager) windowReader(j v1alpha1.Judge) (windowReader, error) {
	id := judgeSource(j)
	p := m.providers[id]
	if p == nil {
		var err error
		if p, err = provider.New(id, m.cfg.Deps); err != nil {
			return nil, err
		}
		m.providers[id] = p
	}
	w, ok := p.(windowReader)
	if !ok {
		return nil, fmt.Errorf("the %s provider cannot read the versions' counters", id)
	}
	return w, nil
}

// judge evaluates a judge over the window env describes: both versions'
// traffic since its last evaluation, folded into the evidence its last
// result carries.
func (m *Manager) judge(ctx context.Context, w windowReader, j v1alpha1.Judge, prev *v1alpha1.JudgeResult, env provider.Env) (v1alpha1.Measurement, *v1alpha1.JudgeResult) {
	timeout := MaxMeasureTimeout
	if j.Interval != nil && j.Interval.Duration < timeout {
		timeout = j.Interval.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var win stats.Window
	var err error
	if w == nil {
		err = fmt.Errorf("judge %q: no counters to read", j.Name)
	} else {
		win.Canary, win.Stable, err = w.JudgeVersions(ctx, j, env)
	}
	return analysis.JudgeWindow(j, prev, win, err, env.Now, m.cfg.Clock())
}
