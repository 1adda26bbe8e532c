package run

import (
	"context"
	"errors"
	"sort"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis"
	"fledge.dev/fledge/internal/analysis/provider"
)

// MaxMeasureTimeout bounds one measurement (shorter when the metric's
// interval is).
const MaxMeasureTimeout = 30 * time.Second

// idle is how long the loop sleeps with nothing scheduled; Ensure and
// Restore wake it sooner.
const idle = time.Hour

// Start takes the measurements as they fall due, one at a time, until ctx
// ends. It returns nil when ctx ends, an error if called twice.
func (m *Manager) Start(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("analysis runs of " + m.cfg.Rollout + ": already started")
	}
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		due, next := m.due()
		for _, j := range due {
			if ctx.Err() != nil {
				return nil
			}
			m.measure(ctx, j)
		}
		if len(due) > 0 {
			continue
		}
		wait := idle
		if !next.IsZero() {
			wait = next.Sub(m.cfg.Clock())
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		case <-timer.C:
		}
	}
}

// job is a measurement due.
type job struct {
	run    string
	metric int
	at     time.Time
}

// due lists the measurements due now, earliest first, and the time of the
// next one otherwise (zero when none is scheduled).
func (m *Manager) due() ([]job, time.Time) {
	now := m.cfg.Clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	var jobs []job
	var next time.Time
	for name, t := range m.runs {
		if !measuring(t) {
			continue
		}
		entries := analysis.Entries(t.run.Spec)
		for i, r := range t.run.Status.MetricResults {
			if r.NextMeasurementAt == nil || i >= len(entries) {
				continue
			}
			at := r.NextMeasurementAt.Time
			if floor := t.notBefore(entries[i].Metric); at.Before(floor) {
				at = floor
			}
			switch {
			case !at.After(now):
				jobs = append(jobs, job{run: name, metric: i, at: at})
			case next.IsZero() || at.Before(next):
				next = at
			}
		}
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].at.Before(jobs[j].at) })
	return jobs, next
}

// measuring tells whether a run takes measurements.
func measuring(t *tracked) bool {
	return t.providers != nil && !t.run.Spec.Terminate && !t.run.Status.Phase.Completed()
}

// measure takes one measurement (or evaluates a judge) and folds it into
// its run; the run is saved, and Changed called if its phase changed or
// its judges started or stopped holding the weight.
func (m *Manager) measure(ctx context.Context, j job) {
	m.mu.Lock()
	t := m.runs[j.run]
	if t == nil || !measuring(t) {
		m.mu.Unlock()
		return
	}
	entries := analysis.Entries(t.run.Spec)
	if j.metric >= len(entries) || j.metric >= len(t.run.Status.MetricResults) {
		m.mu.Unlock()
		return
	}
	run, e := t.run, entries[j.metric]
	now := m.cfg.Clock()
	env := t.env
	env.WindowStart = analysis.WindowStart(e.Metric, run.Status.MetricResults[j.metric], run.Status.StartedAt.Time)
	if env.WindowStart.Before(t.resumedAt) {
		env.WindowStart = t.resumedAt
	}
	env.Now = now
	p, windows, prev := t.providers[e.Metric.Name], t.windows[e.Metric.Name], run.Status.MetricResults[j.metric].Judge
	m.mu.Unlock()

	var ms v1alpha1.Measurement
	var judged *v1alpha1.JudgeResult
	if e.Judge != nil {
		ms, judged = m.judge(ctx, windows, *e.Judge, prev, env)
	} else {
		res, err := m.call(ctx, p, e.Metric, env)
		ms = analysis.Judge(e.Metric, res, err, now, m.cfg.Clock())
	}
	if ctx.Err() != nil {
		return // shutting down: the measurement is taken again after a restart
	}

	m.mu.Lock()
	if m.runs[j.run] != t || t.run != run || !measuring(t) {
		m.mu.Unlock()
		return // terminated or replaced meanwhile
	}
	before := observe(run)
	status := run.Status
	status.MetricResults = clone(run).Status.MetricResults
	r := &status.MetricResults[j.metric]
	r.Measurements = append(r.Measurements, ms)
	if e.Judge != nil {
		r.Judge = judged
	}
	run.Status = analysis.Assess(run.Spec, status, m.cfg.Clock())
	after := observe(run)
	m.mu.Unlock()

	m.cfg.Logger.Debug("measured", "run", j.run, "metric", e.Metric.Name, "phase", ms.Phase, "value", ms.Value, "message", ms.Message)
	m.save(j.run)
	if after.Phase != before.Phase {
		level := m.cfg.Logger.Info
		if after.Phase == v1alpha1.AnalysisFailed || after.Phase == v1alpha1.AnalysisError || after.Phase == v1alpha1.AnalysisInconclusive {
			level = m.cfg.Logger.Warn
		}
		level("analysis run "+string(after.Phase), "run", j.run, "message", after.Message)
	}
	if after.Phase != before.Phase || after.HoldWeight != before.HoldWeight {
		m.cfg.Changed()
	}
}

// call asks a provider for one value, within the metric's time limit.
func (m *Manager) call(ctx context.Context, p provider.Provider, metric v1alpha1.Metric, env provider.Env) (provider.Result, error) {
	timeout := MaxMeasureTimeout
	if metric.Interval != nil && metric.Interval.Duration < timeout {
		timeout = metric.Interval.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return p.Measure(ctx, metric, env)
}
