package run

import (
	"context"
	"fmt"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/provider/builtin"
	"fledge.dev/fledge/internal/analysis/stats"
	"fledge.dev/fledge/internal/metrics"
)

// windowReader reads what the canary and the stable revision did over the
// same window: the builtin provider does, from the embedded proxy's
// per-version counters and latency histograms.
type windowReader interface {
	Versions(ctx context.Context, env provider.Env, route string) (canary, stable metrics.Counts, err error)
}

// windowReader returns the reader the judges use: the builtin provider,
// shared with the builtin metrics.
func (m *Manager) windowReader() (windowReader, error) {
	p := m.providers[builtin.ID]
	if p == nil {
		var err error
		if p, err = provider.New(builtin.ID, m.cfg.Deps); err != nil {
			return nil, err
		}
		m.providers[builtin.ID] = p
	}
	w, ok := p.(windowReader)
	if !ok {
		return nil, fmt.Errorf("the %s provider cannot read the versions' counters", builtin.ID)
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
		win.Canary, win.Stable, err = w.Versions(ctx, env, j.Route)
	}
	return analysis.JudgeWindow(j, prev, win, err, env.Now, m.cfg.Clock())
}
