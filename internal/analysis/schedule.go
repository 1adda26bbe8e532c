package analysis

import (
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// MaxMeasurements is how many measurements a metric's status keeps (the
// latest), as Argo Rollouts does; its counters count every measurement.
const MaxMeasurements = 10

// ErrorRetryInterval is the longest wait before a measurement that ended in
// a provider error is tried again (shorter when the metric's interval is).
const ErrorRetryInterval = 10 * time.Second

// EffectiveCount is how many measurements metric m takes in a run, and
// false when it measures until the run is terminated (see the package doc).
func EffectiveCount(m v1alpha1.Metric, blocking bool) (int32, bool) {
	switch {
	case m.Count != nil:
		return *m.Count, true
	case m.Interval == nil:
		return 1, true
	case blocking:
		return v1alpha1.DefaultBlockingCount, true
	}
	return 0, false
}

// NextMeasurement tells when the next measurement of metric m is due, given
// its result r as Assess left it and the run's start; false when the metric
// takes no more measurements. A due time in the past means now.
func NextMeasurement(m v1alpha1.Metric, r v1alpha1.MetricResult, runStart time.Time) (time.Time, bool) {
	if r.Phase.Completed() || m.Count != nil && r.Count >= *m.Count {
		return time.Time{}, false
	}
	last, ok := lastMeasurement(r)
	if !ok {
		at := runStart.Add(duration(m.InitialDelay))
		if m.Interval != nil {
			// The first measurement covers the first whole interval.
			at = at.Add(m.Interval.Duration)
		}
		return at, true
	}
	if last.Phase == v1alpha1.AnalysisError {
		retry := ErrorRetryInterval
		if m.Interval != nil && m.Interval.Duration < retry {
			retry = m.Interval.Duration
		}
		return measuredAt(last).Add(retry), true
	}
	if m.Interval == nil {
		return time.Time{}, false
	}
	return measuredAt(last).Add(m.Interval.Duration), true
}

// WindowStart is the start of the window the next measurement of metric m
// covers (it ends at the time of the measurement): the end of the last
// window that produced a value, else the start of the first interval.
func WindowStart(m v1alpha1.Metric, r v1alpha1.MetricResult, runStart time.Time) time.Time {
	for i := len(r.Measurements) - 1; i >= 0; i-- {
		if ms := r.Measurements[i]; ms.Phase != v1alpha1.AnalysisError {
			return measuredAt(ms)
		}
	}
	if r.Count > 0 && len(r.Measurements) > 0 {
		// Only errors are kept: the last value's window ended before the
		// oldest of them.
		return measuredAt(r.Measurements[0])
	}
	if m.Interval == nil {
		return runStart
	}
	return runStart.Add(duration(m.InitialDelay))
}

func lastMeasurement(r v1alpha1.MetricResult) (v1alpha1.Measurement, bool) {
	if len(r.Measurements) == 0 {
		return v1alpha1.Measurement{}, false
	}
	return r.Measurements[len(r.Measurements)-1], true
}

// measuredAt is the end of the window a measurement covered.
func measuredAt(ms v1alpha1.Measurement) time.Time {
	switch {
	case ms.StartedAt != nil:
		return ms.StartedAt.Time
	case ms.FinishedAt != nil:
		return ms.FinishedAt.Time
	}
	return time.Time{}
}

func duration(d *v1alpha1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}
