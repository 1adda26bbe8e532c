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
	entries := Entries(spec)
	if len(entries) == 0 {
		out.Phase, out.Message = v1alpha1.AnalysisError, "the run has no metrics to measure"
		return out
	}

	results := make([]v1alpha1.MetricResult, len(entries))
	for i, e := range entries {
		results[i] = v1alpha1.MetricResult{Name: e.Metric.Name, Phase: v1alpha1.AnalysisPending}
		for _, r := range status.MetricResults {
			if r.Name == e.Metric.Name {
				results[i] = r
			}
		}
		fold(&results[i])
	}

	// Each metric on its own first; then, if the run is terminated or one
	// metric already ended it, the others stop where they are.
	terminating := spec.Terminate
	for i, e := range entries {
		e.assess(&results[i], spec.Blocking, false)
		if ends(results[i]) {
			terminating = true
		}
	}
	for i, e := range entries {
		if terminating {
			e.assess(&results[i], spec.Blocking, true)
		}
		results[i].NextMeasurementAt = nil
		if at, ok := NextMeasurement(e.Metric, results[i], out.StartedAt.Time); ok {
			results[i].NextMeasurementAt = &metav1.Time{Time: at}
		}
	}
	out.MetricResults = results
	out.Phase, out.Message = verdict(entries, results)
	return out
}

// Entry is one measured entry of a run: a metric, or a judge.
type Entry struct {
	// Metric is the metric, or the schedule of the judge (JudgeSchedule).
	Metric v1alpha1.Metric
	// Judge is the judge; nil for a metric.
	Judge *v1alpha1.Judge
}

// Entries lists a run's metrics, then its judges: the order of its
// status' results.
func Entries(spec v1alpha1.AnalysisRunSpec) []Entry {
	out := make([]Entry, 0, len(spec.Metrics)+len(spec.Judges))
	for _, m := range spec.Metrics {
		out = append(out, Entry{Metric: m})
	}
	for i := range spec.Judges {
		out = append(out, Entry{Metric: JudgeSchedule(spec.Judges[i]), Judge: &spec.Judges[i]})
	}
	return out
}

// kind names the entry in messages.
func (e Entry) kind() string {
	if e.Judge != nil {
		return "judge"
	}
	return "metric"
}

func (e Entry) assess(r *v1alpha1.MetricResult, blocking, terminating bool) {
	if e.Judge != nil {
		assessJudge(r, blocking, terminating)
		return
	}
	assessMetric(e.Metric, r, blocking, terminating)
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

// verdict is the run's phase and message from its metrics' and judges'
// (dry-run metrics aside). A running run's message is what its running
// judges think (a metric says nothing until it decides).
func verdict(entries []Entry, results []v1alpha1.MetricResult) (v1alpha1.AnalysisPhase, string) {
	phase, worst := v1alpha1.AnalysisSuccessful, -1
	for i, r := range results {
		if !r.DryRun && (worst < 0 || severity[r.Phase] > severity[phase]) {
			phase, worst = r.Phase, i
		}
	}
	switch {
	case phase == v1alpha1.AnalysisPending || phase == v1alpha1.AnalysisRunning,
		phase == v1alpha1.AnalysisSuccessful && !allCompleted(results): // a dry-run metric is still measuring
		var notes []string
		for i, r := range results {
			if entries[i].Judge != nil && !r.Phase.Completed() {
				notes = append(notes, fmt.Sprintf("judge %q: %s", r.Name, r.Message))
			}
		}
		return v1alpha1.AnalysisRunning, strings.Join(notes, "; ")
	}
	var notes []string
	for i, r := range results {
		kind := entries[i].kind()
		switch {
		case phase != v1alpha1.AnalysisSuccessful && i == worst:
			notes = append(notes, fmt.Sprintf("%s %q %s: %s", kind, r.Name, strings.ToLower(string(r.Phase)), r.Message))
		case phase == v1alpha1.AnalysisSuccessful && !r.DryRun:
			notes = append(notes, fmt.Sprintf("%s %q: %s", kind, r.Name, r.Message))
		case r.DryRun && r.Phase != v1alpha1.AnalysisSuccessful:
			notes = append(notes, fmt.Sprintf("dry-run %s %q %s (not counted): %s", kind, r.Name, strings.ToLower(string(r.Phase)), r.Message))
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
