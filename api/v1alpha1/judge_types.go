package v1alpha1

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
)

// Judge compares the canary with the stable version on the same seconds of
// traffic, from the embedded proxy's per-version counters and latency
// histograms (or, with prometheus set, from counters and histograms in
// Prometheus, as on Kubernetes), with sequential tests that stay valid
// however often they look (see docs/analysis-judge.md). Every interval it says Fail (roll
// back: the canary fails or is slow more often than maxRelativeRisk times
// stable, or spent its maxCanaryFailures budget), Pass (the canary is shown
// to be within passRelativeRisk: the weight may rise) or Wait (no data, too
// little traffic, or not enough evidence yet). In a step, pre- or
// post-promotion analysis the judge ends at its first Pass; in a background
// analysis it keeps judging until the rollout ends. Every field has a
// default that is good without tuning: `judge: {}` is a complete judge.
type Judge struct {
	// Name of the judge's entry in the run's results. Default "judge"; set
	// another when one analysis runs two templates that each have a judge.
	Name string `json:"name,omitempty"`
	// Interval between evaluations; each one adds the window of traffic
	// since the previous one. Default 1s, 15s with a Prometheus source
	// (its counters move once a scrape).
	Interval *Duration `json:"interval,omitempty"`
	// Route restricts the judge to one route, as "METHOD /path" (e.g.
	// "POST /login") or "/path" for every method. Default: all routes.
	// Only for the embedded proxy's counters: with prometheus, select the
	// route in the queries.
	Route string `json:"route,omitempty"`
	// Prometheus reads both versions' counters from Prometheus instead of
	// the embedded proxy's: the only source on Kubernetes. Unset: the
	// embedded proxy (local mode only).
	Prometheus *JudgePrometheus `json:"prometheus,omitempty"`

	// Alpha is the probability, at most, that the judge ever fails a canary
	// that is within tolerance, however long it watches. Between 0 and 0.5;
	// default 0.01.
	Alpha *Decimal `json:"alpha,omitempty"`
	// MaxRelativeRisk is the tolerance: the judge fails the canary once it
	// is shown to fail (or be slow) more than this many times as often as
	// stable. Default 1 ("no worse"); 1.5 tolerates half as many failures
	// again. Between 0.1 and 100.
	MaxRelativeRisk *Decimal `json:"maxRelativeRisk,omitempty"`
	// PassRelativeRisk is where the weight may rise: the judge passes once
	// the upper confidence bound of the relative risk is at most this. It
	// must be above maxRelativeRisk (a canary exactly at the tolerance can
	// be shown neither worse nor within it). Default 2 × maxRelativeRisk.
	PassRelativeRisk *Decimal `json:"passRelativeRisk,omitempty"`
	// MaxCanaryFailures is the blast-radius budget: the judge fails the
	// canary once its failed requests beyond what stable's failure rate
	// predicts reach this many, whatever the statistics say. 0 (the
	// default) is no budget. Over a long analysis a good canary's excess
	// wanders by about √(its expected failures): leave room for that.
	// +kubebuilder:validation:Minimum=0
	MaxCanaryFailures int32 `json:"maxCanaryFailures,omitempty"`
	// MinRequests is the canary traffic below which the judge waits
	// (saying so) instead of passing. Default 100.
	// +kubebuilder:validation:Minimum=1
	MinRequests *int64 `json:"minRequests,omitempty"`
	// Latency configures the latency tests. Default: slow means slower than
	// stable's p99.
	Latency *JudgeLatency `json:"latency,omitempty"`
	// HoldWeight keeps the rollout from raising the canary's weight (a
	// setWeight step to a higher weight, or the promotion to 100%) while
	// the judge has not passed: while it waits for traffic or evidence, the
	// rollout waits at the weight it has, and says why. Default true. false
	// makes the judge a failing-only check: it still rolls a bad canary
	// back, but never holds the weight (let pauses and other analyses
	// decide when to go on). The first weight of a canary (from 0) is never
	// held: without traffic there is nothing to judge.
	HoldWeight *bool `json:"holdWeight,omitempty"`
}

// JudgePrometheus is where a judge reads each version's traffic in
// Prometheus: three PromQL queries, each run once per version at the end of
// every evaluation, returning cumulative counters (the raw series, not a
// rate; no sum() needed). The judge works on how much each series grew
// since the previous evaluation; a series that went down was reset (a pod
// restarted) and counts from zero. In each query, before it is sent:
// {{service}} is the version's Service (<rollout>-stable or
// <rollout>-canary, the Services Fledge's routers send traffic to),
// {{revision}} its revision, {{version}} "canary" or "stable",
// {{rollout}} the Rollout's name and {{selector}} the version's label
// matchers from selectors; {{args.name}} are the analysis's arguments, as
// in metrics. Examples for ingress-nginx, Istio and Envoy gateways:
// examples/kubernetes/analysis/judge-*.yaml.
type JudgePrometheus struct {
	// Address is the server's base URL, e.g.
	// "http://prometheus.monitoring.svc:9090".
	Address string `json:"address"`
	// Requests selects the version's requests counter(s), e.g.
	// `istio_requests_total{destination_service_name="{{service}}"}`.
	Requests string `json:"requests"`
	// Failures selects the counter(s) of the version's failed requests,
	// e.g. the same with `response_code=~"5.."`. A version without a
	// failure series has failed nothing.
	Failures string `json:"failures"`
	// Latency selects the version's latency histogram buckets (the
	// `_bucket` series, with their `le` label), e.g.
	// `istio_request_duration_milliseconds_bucket{...}`. Unset: the
	// latency tests are off.
	Latency string `json:"latency,omitempty"`
	// LatencyUnit is the unit of the histogram's `le` bounds: Seconds (the
	// default, Prometheus' convention) or Milliseconds (Istio's).
	LatencyUnit LatencyUnit `json:"latencyUnit,omitempty"`
	// Selectors are the label matchers {{selector}} stands for, per
	// version, when no label holds the Service, e.g. for ingress-nginx
	// `canary!=""` and `canary=""`.
	Selectors *JudgeSelectors `json:"selectors,omitempty"`
	// Timeout of one query, as "10s". Default 30s, and never more than the
	// evaluation's own limit (its interval, at most 30s).
	Timeout *Duration `json:"timeout,omitempty"`
	// Headers are added to every request, e.g. Authorization: Bearer ....
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// Insecure skips the verification of the server's TLS certificate.
	Insecure bool `json:"insecure,omitempty"`
}

// JudgeSelectors are each version's label matchers, written as inside a
// PromQL selector's braces (`a="b", c!=""`); they may use {{service}},
// {{revision}}, {{version}} and {{rollout}}.
type JudgeSelectors struct {
	Canary string `json:"canary"`
	Stable string `json:"stable"`
}

// LatencyUnit is the unit of a latency histogram's bounds.
// +kubebuilder:validation:Enum=Seconds;Milliseconds
type LatencyUnit string

// The latency units.
const (
	LatencySeconds      LatencyUnit = "Seconds"
	LatencyMilliseconds LatencyUnit = "Milliseconds"
)

// JudgeQueryVar matches a per-version placeholder of a judge's Prometheus
// queries, {{name}} (spaces allowed inside the braces); its first group is
// the name, one of JudgeQueryVars. {{args.name}} is not one: the run
// replaces those first.
var JudgeQueryVar = regexp.MustCompile(`\{\{\s*([A-Za-z]+)\s*\}\}`)

// The placeholders of a judge's Prometheus queries.
const (
	JudgeVarService  = "service"
	JudgeVarRevision = "revision"
	JudgeVarVersion  = "version"
	JudgeVarRollout  = "rollout"
	JudgeVarSelector = "selector"
)

// JudgeQueryVars lists the placeholders a judge's queries may use.
var JudgeQueryVars = []string{JudgeVarService, JudgeVarRevision, JudgeVarVersion, JudgeVarRollout, JudgeVarSelector}

// JudgeLatency configures the judge's latency tests: slow requests compared
// like failures, and a backstop on the whole latency distribution.
type JudgeLatency struct {
	// Threshold makes a request slow when it takes longer, e.g. "250ms"
	// (the SLO); it is rounded up to a bound of the latency histogram
	// (bounds are 19% apart; with prometheus, to an `le` bound of its
	// histogram first). Unset: stable's stableQuantile so far.
	Threshold *Duration `json:"threshold,omitempty"`
	// StableQuantile places the slow threshold at this quantile of stable's
	// latency when no threshold is set; it is known once stable has served
	// 10/(1 − stableQuantile) requests, and the judge waits until then.
	// Between 0.5 and 0.9999; default 0.99.
	StableQuantile *Decimal `json:"stableQuantile,omitempty"`
	// Disabled turns both latency tests off.
	Disabled bool `json:"disabled,omitempty"`
}

// InconclusivePolicy is what a rollout does when an analysis cannot decide.
// +kubebuilder:validation:Enum=Pause;Abort
type InconclusivePolicy string

// The inconclusive policies.
const (
	// InconclusivePause pauses the rollout until `fledge resume` (which
	// runs the analysis again) or `fledge abort`.
	InconclusivePause InconclusivePolicy = "Pause"
	// InconclusiveAbort rolls the canary back, as a failure would.
	InconclusiveAbort InconclusivePolicy = "Abort"
)

// Decimal is a number that may have a fraction, such as 0.01, written as a
// JSON or YAML number (a string holding one, "0.01", is accepted too).
// Kubernetes API types avoid floating-point fields, whose parsing differs
// between languages; only Fledge reads these. (The json tag hides the field
// from controller-gen: MarshalJSON and UnmarshalJSON do the encoding.)
// +kubebuilder:validation:Type=number
type Decimal struct {
	Value float64 `json:"-"`
}

// Dec returns a Decimal of v.
func Dec(v float64) *Decimal { return &Decimal{v} }

// Float returns the value of d, or 0 when d is nil.
func (d *Decimal) Float() float64 {
	if d == nil {
		return 0
	}
	return d.Value
}

// UnmarshalJSON accepts a finite number, or a string holding one.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("number: want a number such as 0.01, got %s", b)
	}
	v, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return fmt.Errorf("number %s: want a finite number such as 0.01", n)
	}
	d.Value = v
	return nil
}

// MarshalJSON writes the shortest number that reads back the same.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if math.IsInf(d.Value, 0) || math.IsNaN(d.Value) {
		return nil, fmt.Errorf("number %g: not finite", d.Value)
	}
	return []byte(strconv.FormatFloat(d.Value, 'g', -1, 64)), nil
}

// JudgeVerdict is what the judge says about the canary now.
type JudgeVerdict string

// The judge's verdicts.
const (
	// JudgePass: the canary has enough traffic and is shown within
	// passRelativeRisk of stable; the weight may rise.
	JudgePass JudgeVerdict = "Pass"
	// JudgeFail: the canary is shown worse than tolerated, or spent its
	// budget. Final.
	JudgeFail JudgeVerdict = "Fail"
	// JudgeWait: not enough to say either; the reason says why.
	JudgeWait JudgeVerdict = "Wait"
)

// JudgeResult is the judge's latest decision and the evidence behind it, in
// a run's status. Real numbers are written as text ("3.1", "+Inf"; empty
// when undefined, such as a rate without requests), since a relative risk
// may be unbounded.
type JudgeResult struct {
	// Verdict is Pass, Fail or Wait.
	Verdict JudgeVerdict `json:"verdict"`
	// Reason qualifies it: Errors, Latency or BudgetExhausted (Fail);
	// NoData, TooLittleTraffic or Uncertain (Wait); WithinTolerance (Pass).
	Reason string `json:"reason"`
	// Message says it for people.
	Message string `json:"message"`
	// HoldWeight says the judge keeps the rollout from raising the canary's
	// weight now.
	HoldWeight bool `json:"holdWeight,omitempty"`
	// Windows is the number of evaluations folded in.
	Windows int64 `json:"windows"`
	// CanaryRequests and StableRequests are the requests judged.
	CanaryRequests int64 `json:"canaryRequests"`
	StableRequests int64 `json:"stableRequests"`
	// Errors is the test on failed requests (5xx and connection failures).
	Errors JudgeTest `json:"errors"`
	// Latency is the latency tests; absent when they are disabled.
	Latency *JudgeLatencyResult `json:"latency,omitempty"`
	// Budget is the blast-radius budget.
	Budget JudgeBudget `json:"budget"`
	// PassRelativeRisk is the upper bound under which the judge passes.
	PassRelativeRisk string `json:"passRelativeRisk"`
	// State is everything the judge accumulated, so that a restarted daemon
	// resumes the evidence where it stopped. Opaque.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	State json.RawMessage `json:"state,omitempty"`
}

// JudgeTest is one relative-risk test: failures, or slow requests.
type JudgeTest struct {
	// CanaryEvents and StableEvents count the failures (or slow requests)
	// of each version, over the windows in which both served requests.
	CanaryEvents int64 `json:"canaryEvents"`
	StableEvents int64 `json:"stableEvents"`
	// CanaryRate and StableRate are each version's events per request.
	CanaryRate string `json:"canaryRate,omitempty"`
	StableRate string `json:"stableRate,omitempty"`
	// RelativeRisk is the estimate of the canary's rate over stable's;
	// Lower and Upper bound it (a confidence sequence: valid at every
	// evaluation at once, with probability 1 − alpha).
	RelativeRisk string `json:"relativeRisk,omitempty"`
	Lower        string `json:"lower,omitempty"`
	Upper        string `json:"upper,omitempty"`
	// LikelihoodRatio is the evidence that the canary is worse than
	// maxRelativeRisk; the test fails the canary when it reaches Boundary
	// (1/alpha, alpha being this test's share).
	LikelihoodRatio string `json:"likelihoodRatio"`
	Boundary        string `json:"boundary"`
	// Rejected says the canary was shown worse than tolerated.
	Rejected bool `json:"rejected,omitempty"`
}

// JudgeLatencyResult is what the latency tests show.
type JudgeLatencyResult struct {
	// Threshold is the slow threshold, a histogram bound such as "251ms";
	// empty until stable has served enough requests to place it.
	Threshold string `json:"threshold,omitempty"`
	// Slow is the test on requests slower than the threshold.
	Slow JudgeTest `json:"slow"`
	// Distance is how far the canary's latency distribution is below
	// stable's, at most (0 to 1); the backstop fails the canary when it
	// exceeds Bound.
	Distance string `json:"distance"`
	Bound    string `json:"bound,omitempty"`
	// Rejected says the distribution backstop showed the canary slower.
	Rejected bool `json:"rejected,omitempty"`
}

// JudgeBudget is the blast-radius budget's account.
type JudgeBudget struct {
	// CanaryFailures is the canary's failed requests; Expected, how many
	// stable's failure rate predicts for them; Excess, the difference.
	CanaryFailures int64  `json:"canaryFailures"`
	Expected       string `json:"expected"`
	Excess         string `json:"excess"`
	// Limit is maxCanaryFailures (0: no budget).
	Limit int32 `json:"limit,omitempty"`
	// Exhausted says the excess reached the limit.
	Exhausted bool `json:"exhausted,omitempty"`
}
