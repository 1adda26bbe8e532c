package analysis

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fledge.dev/fledge/api/v1alpha1"
)

// Assess folds each metric's new measurements into its counters, keeps the
// last MaxMeasurements of them, and judges every metric and the run, with
// Argo Rollouts' semantics (see the package doc). It returns a new status
// (status is not modified); assessing twice changes nothing.
//
// New measurements are the ones appended to MetricResult.Measurements since
// the last Assess: Assess keeps min(MaxMeasurements, count+error) of them,
// so the ones beyond that number are new.
func Assess(spec v1alpha1.AnalysisRunSpec, status v1alpha1.AnalysisRunStatus, now time.Time) v1alpha1.AnalysisRunStatus {
	out := status
	out.MetricResults = nil
	if out.StartedAt == nil {
		out.StartedAt = &metav1.Time{Time: now}
	}
	if status.Phase.Completed() {
		// A verdict is final, and a decided run takes no more measurements
		// (any still handed in are counted, judging nothing).
		for _, r := range status.MetricResults {
			fold(&r)
			r.NextMeasurementAt = nil
			out.MetricResults = append(out.MetricResults, r)
		}
		return out
	}
	if len(spec.Metrics) == 0 {
		out.Phase, out.Message = v1alpha1.AnalysisError, "the run has no metrics to measure"
		return out
	}

	results := make([]v1alpha1.MetricResult, len(spec.Metrics))
	for i, m := range spec.Metrics {
		results[i] = v1alpha1.MetricResult{Name: m.Name, Phase: v1alpha1.AnalysisPending}
		for _, r := range status.MetricResults {
			if r.Name == m.Name {
				results[i] = r
			}
		}
		fold(&results[i])
	}

	// Each metric on its own first; then, if the run is terminated or one
	// metric already ended it, the others stop where they are.
	terminating := spec.Terminate
	for i, m := range spec.Metrics {
		assessMetric(m, &results[i], spec.Blocking, false)
		if ends(results[i]) {
			terminating = true
		}
	}
	for i, m := range spec.Metrics {
		if terminating {
			assessMetric(m, &results[i], spec.Blocking, true)
		}
		results[i].NextMeasurementAt = nil
		if at, ok := NextMeasurement(m, results[i], out.StartedAt.Time); ok {
			results[i].NextMeasurementAt = &metav1.Time{Time: at}
		}
	}
	out.MetricResults = results
	out.Phase, out.Message = verdict(results)
	return out
}

// fold counts the measurements appended since the last Assess and drops
// all but the last MaxMeasurements.
func fold(r *v1alpha1.MetricResult) {
	counted := min(int(r.Count+r.Error), MaxMeasurements, len(r.Measurements))
	for _, ms := range r.Measurements[counted:] {
		switch ms.Phase {
		case v1alpha1.AnalysisSuccessful:
			r.Successful++
		case v1alpha1.AnalysisFailed:
			r.Failed++
		case v1alpha1.AnalysisInconclusive:
			r.Inconclusive++
		default: // Error, or a measurement without a verdict: not a value
			r.Error++
			r.ConsecutiveError++
			continue
		}
		r.Count++
		r.ConsecutiveError = 0
	}
	if n := len(r.Measurements); n > MaxMeasurements {
		r.Measurements = append([]v1alpha1.Measurement(nil), r.Measurements[n-MaxMeasurements:]...)
	} else {
		r.Measurements = append([]v1alpha1.Measurement(nil), r.Measurements...)
	}
}

// assessMetric sets the phase and message of a metric that is not decided
// yet; terminating says the run stops, so an undecided metric ends
// Successful.
func assessMetric(m v1alpha1.Metric, r *v1alpha1.MetricResult, blocking, terminating bool) {
	if r.Phase.Completed() {
		return
	}
	failureLimit := v1alpha1.Int32(m.FailureLimit)
	inconclusiveLimit := v1alpha1.Int32(m.InconclusiveLimit)
	errorLimit := int32(v1alpha1.DefaultConsecutiveErrorLimit)
	if m.ConsecutiveErrorLimit != nil {
		errorLimit = *m.ConsecutiveErrorLimit
	}
	count, bounded := EffectiveCount(m, blocking)
	switch {
	case r.Failed > failureLimit:
		r.Phase = v1alpha1.AnalysisFailed
		r.Message = fmt.Sprintf("%d of %d measurements failed, more than failureLimit %d%s",
			r.Failed, r.Count, failureLimit, last(*r, v1alpha1.AnalysisFailed))
	case r.Inconclusive > inconclusiveLimit:
		r.Phase = v1alpha1.AnalysisInconclusive
		r.Message = fmt.Sprintf("%d of %d measurements inconclusive, more than inconclusiveLimit %d%s",
			r.Inconclusive, r.Count, inconclusiveLimit, last(*r, v1alpha1.AnalysisInconclusive))
	case r.ConsecutiveError > errorLimit:
		r.Phase = v1alpha1.AnalysisError
		r.Message = fmt.Sprintf("%d consecutive errors, more than consecutiveErrorLimit %d%s",
			r.ConsecutiveError, errorLimit, last(*r, v1alpha1.AnalysisError))
	case bounded && r.Count >= count:
		r.Phase = v1alpha1.AnalysisSuccessful
		r.Message = fmt.Sprintf("%d of %d measurements successful", r.Successful, r.Count)
	case terminating:
		r.Phase = v1alpha1.AnalysisSuccessful
		r.Message = fmt.Sprintf("stopped after %d measurements, %d successful", r.Count, r.Successful)
	case r.Count+r.Error == 0:
		r.Phase, r.Message = v1alpha1.AnalysisPending, ""
	default:
		r.Phase, r.Message = v1alpha1.AnalysisRunning, ""
	}
}

// ends tells whether a metric's verdict ends the run early.
func ends(r v1alpha1.MetricResult) bool {
	switch r.Phase {
	case v1alpha1.AnalysisFailed, v1alpha1.AnalysisError, v1alpha1.AnalysisInconclusive:
		return !r.DryRun
	}
	return false
}

// last describes the latest measurement of a phase, for a message.
func last(r v1alpha1.MetricResult, phase v1alpha1.AnalysisPhase) string {
	for i := len(r.Measurements) - 1; i >= 0; i-- {
		ms := r.Measurements[i]
		if ms.Phase != phase {
			continue
		}
		switch {
		case ms.Value != "" && ms.Message != "":
			return fmt.Sprintf("; last: %s (%s)", ms.Value, ms.Message)
		case ms.Value != "":
			return "; last: " + ms.Value
		case ms.Message != "":
			return "; last: " + ms.Message
		}
		return ""
	}
	return ""
}

// severity orders phases for the run's verdict: the worst metric wins.
var severity = map[v1alpha1.AnalysisPhase]int{
	v1alpha1.AnalysisSuccessful:   0,
	v1alpha1.AnalysisPending:      1,
	v1alpha1.AnalysisRunning:      1,
	v1alpha1.AnalysisInconclusive: 2,
	v1alpha1.AnalysisError:        3,
	v1alpha1.AnalysisFailed:       4,
}

// verdict is the run's phase and message from its metrics' (dry-run
// metrics aside).
func verdict(results []v1alpha1.MetricResult) (v1alpha1.AnalysisPhase, string) {
	phase, worst := v1alpha1.AnalysisSuccessful, -1
	for i, r := range results {
		if !r.DryRun && (worst < 0 || severity[r.Phase] > severity[phase]) {
			phase, worst = r.Phase, i
		}
	}
	switch {
	case phase == v1alpha1.AnalysisPending || phase == v1alpha1.AnalysisRunning:
		return v1alpha1.AnalysisRunning, ""
	case phase == v1alpha1.AnalysisSuccessful && !allCompleted(results):
		// A dry-run metric is still measuring.
		return v1alpha1.AnalysisRunning, ""
	}
	var notes []string
	for _, r := range results {
		switch {
		case phase != v1alpha1.AnalysisSuccessful && r.Name == results[worst].Name:
			notes = append(notes, fmt.Sprintf("metric %q %s: %s", r.Name, strings.ToLower(string(r.Phase)), r.Message))
		case phase == v1alpha1.AnalysisSuccessful && !r.DryRun:
			notes = append(notes, fmt.Sprintf("metric %q: %s", r.Name, r.Message))
		case r.DryRun && r.Phase != v1alpha1.AnalysisSuccessful:
			notes = append(notes, fmt.Sprintf("dry-run metric %q %s (not counted): %s", r.Name, strings.ToLower(string(r.Phase)), r.Message))
		}
	}
	return phase, strings.Join(notes, "; ")
}

func allCompleted(results []v1alpha1.MetricResult) bool {
	for _, r := range results {
		if !r.Phase.Completed() {
			return false
		}
	}
	return true
}
