package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnalysisTemplate is a reusable set of metrics that judge a version.
type AnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AnalysisTemplateSpec `json:"spec"`
}

// NamedAnalysisTemplate is an AnalysisTemplate defined inline in a Rollout.
type NamedAnalysisTemplate struct {
	Name                 string `json:"name"`
	AnalysisTemplateSpec `json:",inline"`
}

// AnalysisTemplateSpec lists metrics and the arguments they take.
type AnalysisTemplateSpec struct {
	Metrics []Metric   `json:"metrics"`
	Args    []Argument `json:"args,omitempty"`
}

// Argument is a template argument, referenced in queries as {{args.name}}.
type Argument struct {
	Name string `json:"name"`
	// Value is the default, overridden by the analysis that uses the template.
	Value *string `json:"value,omitempty"`
}

// Metric is one measurement taken repeatedly, with the meaning Argo Rollouts
// gives its fields.
type Metric struct {
	Name string `json:"name"`

	// Interval between measurements, e.g. "5s". Each measurement covers the
	// interval that just ended. Unset takes a single measurement.
	Interval *Duration `json:"interval,omitempty"`
	// InitialDelay before the first measurement starts its interval.
	InitialDelay *Duration `json:"initialDelay,omitempty"`
	// Count is the number of measurements to take. Unset in a background
	// analysis means until the rollout ends; unset in a step, pre- or
	// post-promotion analysis (which must end for the rollout to go on) means
	// 3 when an interval is set, else 1.
	Count *int32 `json:"count,omitempty"`

	// SuccessCondition is a CEL expression over `result`; true is success.
	SuccessCondition string `json:"successCondition,omitempty"`
	// FailureCondition is a CEL expression over `result`; true is failure.
	// With both conditions, a value that meets neither is Inconclusive.
	FailureCondition string `json:"failureCondition,omitempty"`

	// FailureLimit is how many failed measurements are tolerated: the metric
	// fails when failures exceed it. Default 0 (the first failure fails).
	FailureLimit *int32 `json:"failureLimit,omitempty"`
	// InconclusiveLimit is how many Inconclusive measurements are tolerated
	// before the metric is Inconclusive (which pauses the rollout). Default 0.
	InconclusiveLimit *int32 `json:"inconclusiveLimit,omitempty"`
	// ConsecutiveErrorLimit is how many provider errors in a row are
	// tolerated before the metric is in Error (counted as Inconclusive for the
	// rollout). Default 4.
	ConsecutiveErrorLimit *int32 `json:"consecutiveErrorLimit,omitempty"`

	// Provider is where the value comes from.
	Provider MetricProvider `json:"provider"`
}

// MetricProvider holds exactly one provider.
type MetricProvider struct {
	// Builtin reads the embedded proxy's own per-version counters.
	Builtin *BuiltinMetric `json:"builtin,omitempty"`
}

// BuiltinMetric measures one version from the embedded proxy's counters over
// the interval that just ended; exactly one measure is set.
type BuiltinMetric struct {
	// SuccessRate is the share of requests that were not errors (5xx or a
	// connection failure), from 0 to 1.
	SuccessRate *struct{} `json:"successRate,omitempty"`
	// ErrorRate is the share of requests that were errors, from 0 to 1.
	ErrorRate *struct{} `json:"errorRate,omitempty"`
	// LatencyP50, LatencyP95 and LatencyP99 are latency quantiles in seconds.
	LatencyP50 *struct{} `json:"latencyP50,omitempty"`
	LatencyP95 *struct{} `json:"latencyP95,omitempty"`
	LatencyP99 *struct{} `json:"latencyP99,omitempty"`
	// RequestRate is requests per second.
	RequestRate *struct{} `json:"requestRate,omitempty"`

	// Version is canary (default) or stable.
	Version string `json:"version,omitempty"`
	// Route restricts the measure to one route, as "METHOD /path" (e.g.
	// "POST /login") or "/path" for every method.
	Route string `json:"route,omitempty"`
}

// AnalysisPhase is the verdict of a measurement, a metric or a run.
type AnalysisPhase string

// The analysis phases, as Argo Rollouts names them.
const (
	AnalysisPending      AnalysisPhase = "Pending"
	AnalysisRunning      AnalysisPhase = "Running"
	AnalysisSuccessful   AnalysisPhase = "Successful"
	AnalysisFailed       AnalysisPhase = "Failed"
	AnalysisError        AnalysisPhase = "Error"
	AnalysisInconclusive AnalysisPhase = "Inconclusive"
)

// Completed tells whether the phase is final.
func (p AnalysisPhase) Completed() bool {
	switch p {
	case AnalysisSuccessful, AnalysisFailed, AnalysisError, AnalysisInconclusive:
		return true
	}
	return false
}

// AnalysisRun is one execution of templates against a version.
type AnalysisRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AnalysisRunSpec   `json:"spec"`
	Status            AnalysisRunStatus `json:"status,omitempty"`
}

// AnalysisRunSpec is the resolved metrics of a run.
type AnalysisRunSpec struct {
	Metrics []Metric              `json:"metrics"`
	Args    []AnalysisRunArgument `json:"args,omitempty"`
	// Blocking runs end (a step, pre- or post-promotion analysis); background
	// runs go on until terminated.
	Blocking bool `json:"blocking,omitempty"`
	// Terminate stops the run; it ends Successful unless already decided.
	Terminate bool `json:"terminate,omitempty"`
}

// AnalysisRunStatus is the progress and verdict of a run.
type AnalysisRunStatus struct {
	Phase         AnalysisPhase  `json:"phase,omitempty"`
	Message       string         `json:"message,omitempty"`
	StartedAt     *metav1.Time   `json:"startedAt,omitempty"`
	MetricResults []MetricResult `json:"metricResults,omitempty"`
}

// MetricResult is the measurements of one metric.
type MetricResult struct {
	Name              string        `json:"name"`
	Phase             AnalysisPhase `json:"phase"`
	Measurements      []Measurement `json:"measurements,omitempty"`
	Message           string        `json:"message,omitempty"`
	Count             int32         `json:"count,omitempty"`
	Successful        int32         `json:"successful,omitempty"`
	Failed            int32         `json:"failed,omitempty"`
	Inconclusive      int32         `json:"inconclusive,omitempty"`
	Error             int32         `json:"error,omitempty"`
	ConsecutiveError  int32         `json:"consecutiveError,omitempty"`
	DryRun            bool          `json:"dryRun,omitempty"`
	NextMeasurementAt *metav1.Time  `json:"nextMeasurementAt,omitempty"`
}

// Measurement is one value and its verdict.
type Measurement struct {
	Phase      AnalysisPhase `json:"phase"`
	Message    string        `json:"message,omitempty"`
	StartedAt  *metav1.Time  `json:"startedAt,omitempty"`
	FinishedAt *metav1.Time  `json:"finishedAt,omitempty"`
	// Value is the result as text (a number for the builtin provider).
	Value string `json:"value,omitempty"`
}
