package v1alpha1

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnalysisTemplate is a reusable set of metrics that judge a version.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=fledge
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AnalysisTemplateSpec `json:"spec"`
}

func init() { register(&AnalysisTemplate{}, &AnalysisRun{}) }

// NamedAnalysisTemplate is an AnalysisTemplate defined inline in a Rollout.
type NamedAnalysisTemplate struct {
	Name                 string `json:"name"`
	AnalysisTemplateSpec `json:",inline"`
}

// AnalysisTemplateSpec lists metrics, a judge, or both, and the arguments
// they take.
type AnalysisTemplateSpec struct {
	// Metrics are measured repeatedly and each judged by its conditions.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	Metrics []Metric `json:"metrics,omitempty"`
	// Judge compares the canary with stable request by request (see Judge).
	Judge *Judge `json:"judge,omitempty"`
	// Args are the arguments the metrics and the judge refer to.
	Args []Argument `json:"args,omitempty"`
	// InconclusivePolicy is what the rollout does when an analysis using
	// this template is Inconclusive (too many inconclusive measurements) or
	// in Error (too many provider errors in a row): Pause (the default)
	// waits for `fledge resume` or `fledge abort`; Abort rolls the canary
	// back at once. An analysis aborts when any of its templates says so.
	InconclusivePolicy InconclusivePolicy `json:"inconclusivePolicy,omitempty"`
}

// Argument is a template argument, referenced in queries as {{args.name}}.
type Argument struct {
	Name string `json:"name"`
	// Value is the default, overridden by the analysis that uses the template.
	Value *string `json:"value,omitempty"`
}

// ArgumentValueFrom is where an analysis argument's value comes from when
// the spec cannot know it, such as the revision being released.
type ArgumentValueFrom struct {
	// PodTemplateHashValue is Latest (the canary's revision) or Stable (the
	// stable one), as in Argo Rollouts. In local mode the value is the
	// revision's number ("3"); on Kubernetes, the pod template hash label.
	// +kubebuilder:validation:Enum=Stable;Latest
	PodTemplateHashValue *string `json:"podTemplateHashValue,omitempty"`
}

// The values of ArgumentValueFrom.PodTemplateHashValue.
const (
	ValueFromStable = "Stable"
	ValueFromLatest = "Latest"
)

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
	// +kubebuilder:validation:Minimum=1
	Count *int32 `json:"count,omitempty"`

	// SuccessCondition is a CEL expression over `result`; true is success.
	SuccessCondition string `json:"successCondition,omitempty"`
	// FailureCondition is a CEL expression over `result`; true is failure.
	// With both conditions, a value that meets neither is Inconclusive.
	FailureCondition string `json:"failureCondition,omitempty"`

	// FailureLimit is how many failed measurements are tolerated: the metric
	// fails when failures exceed it. Default 0 (the first failure fails).
	// +kubebuilder:validation:Minimum=0
	FailureLimit *int32 `json:"failureLimit,omitempty"`
	// InconclusiveLimit is how many Inconclusive measurements are tolerated
	// before the metric is Inconclusive (which pauses the rollout). Default 0.
	// +kubebuilder:validation:Minimum=0
	InconclusiveLimit *int32 `json:"inconclusiveLimit,omitempty"`
	// ConsecutiveErrorLimit is how many provider errors in a row are
	// tolerated before the metric is in Error (counted as Inconclusive for the
	// rollout). Default 4.
	// +kubebuilder:validation:Minimum=0
	ConsecutiveErrorLimit *int32 `json:"consecutiveErrorLimit,omitempty"`

	// Provider is where the value comes from.
	Provider MetricProvider `json:"provider"`
}

// MetricProvider holds exactly one provider.
// +kubebuilder:validation:XValidation:rule="(has(self.builtin) ? 1 : 0) + (has(self.prometheus) ? 1 : 0) + (has(self.web) ? 1 : 0) + (has(self.job) ? 1 : 0) == 1",message="must set exactly one of builtin, prometheus, web or job"
type MetricProvider struct {
	// Builtin reads the embedded proxy's own per-version counters.
	Builtin *BuiltinMetric `json:"builtin,omitempty"`
	// Prometheus runs a PromQL query against a Prometheus server.
	Prometheus *PrometheusMetric `json:"prometheus,omitempty"`
	// Web calls an HTTP endpoint that answers JSON and picks a value from it.
	Web *WebMetric `json:"web,omitempty"`
	// Job runs a command (local mode); its exit status is the result.
	Job *JobMetric `json:"job,omitempty"`
}

// BuiltinMetric measures one version from the embedded proxy's counters over
// the interval that just ended; exactly one measure is set, as an empty
// object: `successRate: {}`. (The measures are *struct{}, which
// controller-gen cannot copy: DeepCopyInto is written by hand, in
// analysis_deepcopy.go, and the CRD schema of each is an object.)
// +kubebuilder:object:generate=false
// +kubebuilder:validation:XValidation:rule="(has(self.successRate) ? 1 : 0) + (has(self.errorRate) ? 1 : 0) + (has(self.latencyP50) ? 1 : 0) + (has(self.latencyP95) ? 1 : 0) + (has(self.latencyP99) ? 1 : 0) + (has(self.requestRate) ? 1 : 0) == 1",message="must set exactly one of successRate, errorRate, latencyP50, latencyP95, latencyP99 or requestRate"
type BuiltinMetric struct {
	// SuccessRate is the share of requests that were not errors (5xx or a
	// connection failure), from 0 to 1.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	SuccessRate *struct{} `json:"successRate,omitempty"`
	// ErrorRate is the share of requests that were errors, from 0 to 1.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	ErrorRate *struct{} `json:"errorRate,omitempty"`
	// LatencyP50, LatencyP95 and LatencyP99 are latency quantiles in seconds.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	LatencyP50 *struct{} `json:"latencyP50,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	LatencyP95 *struct{} `json:"latencyP95,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	LatencyP99 *struct{} `json:"latencyP99,omitempty"`
	// RequestRate is requests per second.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	RequestRate *struct{} `json:"requestRate,omitempty"`

	// Version is canary (default) or stable.
	// +kubebuilder:validation:Enum=canary;stable
	Version string `json:"version,omitempty"`
	// Route restricts the measure to one route, as "METHOD /path" (e.g.
	// "POST /login") or "/path" for every method.
	Route string `json:"route,omitempty"`
}

// PrometheusMetric is a PromQL query, with the fields Argo Rollouts gives
// it. The query is evaluated at the end of the measured window (an instant
// query) or over a range of it (rangeQuery). Its result becomes `result`:
// a scalar or a vector of one series is a number, a vector of several series
// is a list of numbers in the order Prometheus returns them (`result[0]`),
// a range query is one list of every value of every series (series after
// series, each oldest first), as Argo Rollouts makes it.
// A query that returns no series, or a NaN value, has no data: the
// measurement is Inconclusive, never Successful.
type PrometheusMetric struct {
	// Address is the server's base URL, e.g. "http://127.0.0.1:9090" (a path
	// prefix is kept: "https://host/prometheus").
	Address string `json:"address"`
	// Query is the PromQL expression; {{args.name}} is replaced by the
	// analysis argument's value.
	Query string `json:"query"`
	// Timeout of one query, as "30s" or a number of seconds. A query that
	// takes longer is a provider error (the measurement is Error). Default
	// 30s, and never more than the measurement's own limit.
	Timeout *Duration `json:"timeout,omitempty"`
	// Headers are added to every request, e.g. Authorization: Bearer ....
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// Insecure skips the verification of the server's TLS certificate.
	Insecure bool `json:"insecure,omitempty"`
	// RangeQuery makes the query a range query over [start, end] at step.
	RangeQuery *PrometheusRangeQuery `json:"rangeQuery,omitempty"`
}

// PrometheusRangeQuery bounds a range query. Start and end are CEL
// expressions yielding a timestamp, over two functions: now(), the end of
// the measured window, and windowStart(), its start; e.g.
// `now() - duration("10m")`, as Argo Rollouts writes them.
type PrometheusRangeQuery struct {
	// Start of the range. Default "windowStart()": the measured window.
	Start string `json:"start,omitempty"`
	// End of the range. Default "now()".
	End string `json:"end,omitempty"`
	// Step between the points of the range, e.g. "15s".
	Step *Duration `json:"step"`
}

// WebMetric is an HTTP request whose JSON answer holds the value, with the
// fields Argo Rollouts gives it. A response whose status is not 2xx, or that
// is not JSON, is a provider error; a JSONPath that selects null or an empty
// list has no data.
type WebMetric struct {
	// URL to call; {{args.name}} is replaced by the argument's value.
	URL string `json:"url"`
	// Method is GET, POST or PUT. Default GET, or POST when a body is set.
	Method string `json:"method,omitempty"`
	// Headers are added to the request.
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// Body is sent as is (set a Content-Type header to describe it).
	Body string `json:"body,omitempty"`
	// JSONBody is sent as JSON, with Content-Type: application/json unless a
	// header says otherwise. Only one of body and jsonBody may be set.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	JSONBody json.RawMessage `json:"jsonBody,omitempty"`
	// TimeoutSeconds bounds the request. Default 10.
	// +kubebuilder:validation:Minimum=1
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
	// JSONPath picks the value out of the response, e.g. "{$.data.ok}" or
	// "$.items[0].value" (fields, indexes and [*]; see the docs). Default
	// "{$}": the whole response.
	JSONPath string `json:"jsonPath,omitempty"`
	// Insecure skips the verification of the server's TLS certificate.
	Insecure bool `json:"insecure,omitempty"`
}

// WebMetricHeader is one HTTP header.
type WebMetricHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// JobMetric runs a command to completion, in local mode: a smoke test or a
// load test. `result` is its exit status (128 + the signal's number when a
// signal ended it, 124 when it outlived timeoutSeconds and was killed), so
// the default successCondition "result == 0" makes exit 0 Successful and
// anything else Failed. The last lines of its output are kept in the
// measurement's message.
type JobMetric struct {
	// Command is the program and its arguments, run directly (use
	// ["sh", "-c", "..."] for a shell). {{args.name}} is replaced in each.
	Command []string `json:"command"`
	// Env adds environment variables to the daemon's, after FLEDGE_ROLLOUT,
	// FLEDGE_CANARY_REVISION and FLEDGE_STABLE_REVISION.
	Env []EnvVar `json:"env,omitempty"`
	// WorkingDir is the command's working directory; default: the daemon's.
	WorkingDir string `json:"workingDir,omitempty"`
	// TimeoutSeconds kills the command's whole process group when it runs
	// longer (SIGTERM, then SIGKILL 2s later), which fails the measurement.
	// Unset: the measurement's own time limit, which ends it in Error.
	// +kubebuilder:validation:Minimum=1
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
}

// AnalysisPhase is the verdict of a measurement, a metric or a run.
// +kubebuilder:validation:Enum=Pending;Running;Successful;Failed;Error;Inconclusive
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
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=fledge
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AnalysisRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AnalysisRunSpec   `json:"spec"`
	Status            AnalysisRunStatus `json:"status,omitempty"`
}

// AnalysisRunSpec is the resolved metrics and judges of a run.
type AnalysisRunSpec struct {
	// Metrics are the metrics of the run's templates. (Bounded so that the
	// API server can bound the cost of the CRD's CEL rules.)
	// +kubebuilder:validation:MaxItems=128
	// +listType=map
	// +listMapKey=name
	Metrics []Metric `json:"metrics,omitempty"`
	// Judges are the judges of the run's templates, each with its name.
	// +kubebuilder:validation:MaxItems=16
	Judges []Judge               `json:"judges,omitempty"`
	Args   []AnalysisRunArgument `json:"args,omitempty"`
	// InconclusivePolicy is Abort when one of the run's templates says so.
	InconclusivePolicy InconclusivePolicy `json:"inconclusivePolicy,omitempty"`
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
	// Judge is the latest decision of a judge and its evidence (the
	// result of a judge, not of a metric).
	Judge *JudgeResult `json:"judge,omitempty"`
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
