package dashboard

import (
	"math"
	"strconv"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis"
)

// The statistical judge's evidence as the page shows it: what the judge
// persisted in the run's status (v1alpha1.JudgeResult, written by
// analysis.JudgeWindow), next to the spec's thresholds it was judged
// against. Numbers stay as the judge wrote them ("+Inf", "" when
// undefined) for the table; the sketch's positions are computed here so
// that the browser only draws.

// JudgeView is one judge of a run and its latest evidence.
type JudgeView struct {
	Name string `json:"name"`
	// Phase and Message are the judge's result in the run (Running,
	// Successful, Failed...).
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	// Verdict is Pass, Fail or Wait ("" before the first window), Reason
	// and Explanation say why.
	Verdict     string `json:"verdict,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Explanation string `json:"explanation,omitempty"`
	// Hold says the judge keeps the rollout from raising the canary's
	// weight now (HoldReason says why); HoldWeight is the spec's setting.
	Hold       bool   `json:"hold"`
	HoldReason string `json:"holdReason,omitempty"`
	HoldWeight bool   `json:"holdWeight"`
	// The spec's thresholds, defaults applied.
	Alpha            float64 `json:"alpha"`
	MaxRelativeRisk  float64 `json:"maxRelativeRisk"`
	PassRelativeRisk float64 `json:"passRelativeRisk"`
	MinRequests      int64   `json:"minRequests"`
	// Windows, CanaryRequests and StableRequests are what was judged.
	Windows        int64 `json:"windows"`
	CanaryRequests int64 `json:"canaryRequests"`
	StableRequests int64 `json:"stableRequests"`
	// Tests are the relative-risk tests: errors, then slow requests
	// (absent when latency is disabled).
	Tests []TestView `json:"tests"`
	// Distribution is the latency distribution backstop; nil when latency
	// is disabled or before the first window.
	Distribution *DistributionView `json:"distribution,omitempty"`
	Budget       BudgetView        `json:"budget"`
}

// TestView is one relative-risk test (failures, or slow requests).
type TestView struct {
	// Name is "errors" or "slow requests".
	Name string `json:"name"`
	// Threshold is the slow threshold (slow requests only; empty until
	// stable has served enough requests to place it).
	Threshold    string `json:"threshold,omitempty"`
	CanaryEvents int64  `json:"canaryEvents"`
	StableEvents int64  `json:"stableEvents"`
	// CanaryRate and StableRate are events per request (point estimates:
	// the judge bounds their ratio, not each rate).
	CanaryRate string `json:"canaryRate"`
	StableRate string `json:"stableRate"`
	// RelativeRisk is the estimate of canary rate / stable rate, Lower
	// and Upper its confidence sequence.
	RelativeRisk string `json:"relativeRisk"`
	Lower        string `json:"lower"`
	Upper        string `json:"upper"`
	// LikelihoodRatio is the evidence that the canary is worse than
	// maxRelativeRisk; the test fails it at Boundary (1/α of its share).
	LikelihoodRatio string `json:"likelihoodRatio"`
	Boundary        string `json:"boundary"`
	// Evidence is how far the likelihood ratio went towards the boundary,
	// on a log scale: 0 (no evidence against the canary) to 1 (rejected).
	Evidence float64 `json:"evidence"`
	Rejected bool    `json:"rejected"`
	// State is worse (rejected), within (upper bound at most
	// passRelativeRisk), uncertain, or quiet (no event on either version:
	// the test holds nothing).
	State  string   `json:"state"`
	Sketch Interval `json:"sketch"`
}

// Interval is the relative-risk sketch: a log-scale axis from Min to Max,
// and the positions on it (0 to 1) of the confidence sequence, the
// estimate and the thresholds. A bound beyond the axis (0, +Inf) is
// drawn at its end as open.
type Interval struct {
	Min       float64  `json:"min"`
	Max       float64  `json:"max"`
	Lower     *float64 `json:"lower"`
	Estimate  *float64 `json:"estimate"`
	Upper     *float64 `json:"upper"`
	LowerOpen bool     `json:"lowerOpen,omitempty"`
	UpperOpen bool     `json:"upperOpen,omitempty"`
	One       float64  `json:"one"`
	Tolerance float64  `json:"tolerance"`
	Pass      float64  `json:"pass"`
}

// DistributionView is the latency distribution backstop: how far the
// canary's latency distribution is below stable's, against the bound at
// which it fails the canary.
type DistributionView struct {
	Distance string `json:"distance"`
	Bound    string `json:"bound"`
	// Share is Distance / Bound, capped at 1.
	Share    float64 `json:"share"`
	Rejected bool    `json:"rejected"`
}

// BudgetView is the blast-radius budget: the canary's failed requests
// beyond what stable's rate predicts, against maxCanaryFailures.
type BudgetView struct {
	CanaryFailures int64  `json:"canaryFailures"`
	Expected       string `json:"expected"`
	Excess         string `json:"excess"`
	// Limit is maxCanaryFailures; 0: no budget.
	Limit int32 `json:"limit"`
	// Spent is Excess / Limit, between 0 and 1 (0 without a budget).
	Spent     float64 `json:"spent"`
	Exhausted bool    `json:"exhausted"`
}

// judgeViews builds the views of a run's judges, in the spec's order.
func judgeViews(r *v1alpha1.AnalysisRun, results map[string]v1alpha1.MetricResult) []JudgeView {
	out := make([]JudgeView, 0, len(r.Spec.Judges))
	for _, j := range r.Spec.Judges {
		j := *j.DeepCopy()
		j.Default()
		out = append(out, judgeView(j, r, results[j.Name]))
	}
	return out
}

func judgeView(j v1alpha1.Judge, r *v1alpha1.AnalysisRun, mr v1alpha1.MetricResult) JudgeView {
	v := JudgeView{
		Name: j.Name, Phase: string(mr.Phase), Message: mr.Message,
		HoldWeight: v1alpha1.Bool(j.HoldWeight),
		Alpha:      j.Alpha.Float(), MaxRelativeRisk: j.MaxRelativeRisk.Float(), PassRelativeRisk: j.PassRelativeRisk.Float(),
		Tests: []TestView{},
	}
	if j.MinRequests != nil {
		v.MinRequests = *j.MinRequests
	}
	if v.Phase == "" {
		v.Phase = string(v1alpha1.AnalysisPending)
	}
	// The hold as the rollout sees it: analysis.Hold over this judge alone.
	only := r.Spec
	only.Judges = []v1alpha1.Judge{j}
	v.Hold, v.HoldReason = analysis.Hold(only, r.Status)

	res := mr.Judge
	if res == nil {
		return v
	}
	v.Verdict, v.Reason, v.Explanation = string(res.Verdict), res.Reason, res.Message
	v.Windows, v.CanaryRequests, v.StableRequests = res.Windows, res.CanaryRequests, res.StableRequests
	v.Tests = append(v.Tests, testView("errors", "", res.Errors, v.MaxRelativeRisk, v.PassRelativeRisk))
	if l := res.Latency; l != nil {
		v.Tests = append(v.Tests, testView("slow requests", l.Threshold, l.Slow, v.MaxRelativeRisk, v.PassRelativeRisk))
		v.Distribution = &DistributionView{Distance: l.Distance, Bound: l.Bound, Rejected: l.Rejected}
		if d, b := parse(l.Distance), parse(l.Bound); b > 0 && !math.IsNaN(d) {
			v.Distribution.Share = clamp01(d / b)
		}
	}
	b := res.Budget
	v.Budget = BudgetView{
		CanaryFailures: b.CanaryFailures, Expected: b.Expected, Excess: b.Excess,
		Limit: b.Limit, Exhausted: b.Exhausted,
	}
	if x := parse(b.Excess); b.Limit > 0 && !math.IsNaN(x) {
		v.Budget.Spent = clamp01(x / float64(b.Limit))
	}
	if b.Exhausted {
		v.Budget.Spent = 1
	}
	return v
}

// testView builds one relative-risk test's row and sketch.
func testView(name, threshold string, t v1alpha1.JudgeTest, tolerance, pass float64) TestView {
	v := TestView{
		Name: name, Threshold: threshold, CanaryEvents: t.CanaryEvents, StableEvents: t.StableEvents,
		CanaryRate: t.CanaryRate, StableRate: t.StableRate,
		RelativeRisk: t.RelativeRisk, Lower: t.Lower, Upper: t.Upper,
		LikelihoodRatio: t.LikelihoodRatio, Boundary: t.Boundary, Rejected: t.Rejected,
	}
	// The same order as the judge's checks (stats.Decide): rejected, then
	// no events (nothing to hold on), then the upper bound against pass.
	upper := parse(t.Upper)
	switch {
	case t.Rejected:
		v.State = "worse"
	case t.CanaryEvents == 0 && t.StableEvents == 0:
		v.State = "quiet"
	case !math.IsNaN(upper) && upper <= pass:
		v.State = "within"
	default:
		v.State = "uncertain"
	}
	if lr, b := parse(t.LikelihoodRatio), parse(t.Boundary); lr > 1 && b > 1 {
		v.Evidence = clamp01(math.Log(lr) / math.Log(b))
	}
	if t.Rejected {
		v.Evidence = 1
	}
	v.Sketch = interval(parse(t.Lower), parse(t.RelativeRisk), upper, tolerance, pass)
	return v
}

// Axis limits of the sketch: relative risks beyond are drawn at the ends.
const (
	axisFloor   = 1e-3
	axisCeiling = 1e3
)

// interval places the confidence sequence, the estimate and the
// thresholds on a log axis that holds every finite positive one of them
// with room on both sides. NaN (undefined) leaves a position nil.
func interval(lower, estimate, upper, tolerance, pass float64) Interval {
	lo, hi := math.Min(1, tolerance), math.Max(1, pass)
	for _, x := range []float64{lower, estimate, upper} {
		if x > 0 && !math.IsInf(x, 1) {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	lo, hi = math.Max(axisFloor, lo/2), math.Min(axisCeiling, hi*2)
	pos := func(x float64) float64 {
		switch {
		case x <= lo:
			return 0
		case x >= hi:
			return 1
		}
		return math.Log(x/lo) / math.Log(hi/lo)
	}
	opt := func(x float64) *float64 {
		if math.IsNaN(x) {
			return nil
		}
		p := pos(x)
		return &p
	}
	return Interval{
		Min: lo, Max: hi,
		Lower: opt(lower), Estimate: opt(estimate), Upper: opt(upper),
		LowerOpen: lower <= lo, UpperOpen: upper >= hi,
		One: pos(1), Tolerance: pos(tolerance), Pass: pos(pass),
	}
}

// parse reads a number the judge wrote ("+Inf" too); "" is NaN.
func parse(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }
