package stats

import (
	"fmt"
	"math"
	"strings"
)

// Verdict is what the judge says about the canary now.
type Verdict string

const (
	// Fail: the canary is shown worse than tolerated, or it spent its
	// budget. Final: once failed, always failed.
	Fail Verdict = "Fail"
	// Pass: the canary has enough traffic and is shown to be within
	// PassRelativeRisk of stable; the weight may rise.
	Pass Verdict = "Pass"
	// Wait: not enough to say either; hold the weight. The Reason says why.
	Wait Verdict = "Wait"
)

// Reason qualifies a verdict.
type Reason string

const (
	ReasonErrors          Reason = "Errors"          // Fail: failures
	ReasonLatency         Reason = "Latency"         // Fail: slow requests or the latency distribution
	ReasonBudget          Reason = "BudgetExhausted" // Fail: the blast-radius budget is spent
	ReasonNoData          Reason = "NoData"          // Wait: the canary has served nothing
	ReasonTooLittle       Reason = "TooLittleTraffic"
	ReasonUncertain       Reason = "Uncertain" // Wait: the bound is still above PassRelativeRisk
	ReasonWithinTolerance Reason = "WithinTolerance"
)

// Decision is the judge's verdict, why, and the evidence behind it.
type Decision struct {
	Verdict Verdict `json:"verdict"`
	Reason  Reason  `json:"reason"`
	// Message says it for people.
	Message  string   `json:"message"`
	Evidence Evidence `json:"evidence"`
}

// HoldWeight says the rollout must not raise the canary's weight.
func (d Decision) HoldWeight() bool { return d.Verdict != Pass }

// Evidence is everything the verdict rests on.
type Evidence struct {
	Windows        int          `json:"windows"`
	CanaryRequests uint64       `json:"canaryRequests"`
	StableRequests uint64       `json:"stableRequests"`
	Errors         RiskEvidence `json:"errors"`
	// Latency is nil when the latency tests are disabled.
	Latency *LatencyEvidence `json:"latency,omitempty"`
	Budget  BudgetEvidence   `json:"budget"`
	// PassRelativeRisk is the bound under which the judge passes.
	PassRelativeRisk float64 `json:"passRelativeRisk"`
}

// Decide says what the evidence so far supports. It changes nothing: call
// it as often as you like. The checks run in order and the first that
// applies decides.
func (j *Judge) Decide() Decision {
	ev := j.evidence()
	for _, check := range []func(*Judge, *Evidence) (Decision, bool){
		budgetExhausted,  // the user's cap comes first, whatever the statistics say
		errorsWorse,      // failures shown above tolerance
		latencyWorse,     // slow requests or the distribution shown worse
		noData,           // never pass (nor fail) on nothing
		tooLittleTraffic, // nor on a handful of requests
		errorsUncertain,  // the errors' upper bound is still above PassRelativeRisk
		latencyUncertain, // same for slow requests, or no threshold yet
	} {
		if d, ok := check(j, &ev); ok {
			d.Evidence = ev
			return d
		}
	}
	return Decision{Verdict: Pass, Reason: ReasonWithinTolerance, Evidence: ev, Message: passMessage(&ev)}
}

func (j *Judge) evidence() Evidence {
	st := &j.st
	alphaErr, alphaSlow, alphaDist := j.cfg.alphas()
	ev := Evidence{
		Windows:          st.Windows,
		CanaryRequests:   st.CanaryRequests,
		StableRequests:   st.StableRequests,
		Errors:           st.Errors.evidence(j.g, alphaErr),
		PassRelativeRisk: j.cfg.PassRelativeRisk,
		Budget: BudgetEvidence{
			CanaryFailures: st.CanaryFailures,
			Expected:       st.Budget.Expected,
			Excess:         float64(st.CanaryFailures) - st.Budget.Expected,
			Limit:          j.cfg.MaxCanaryFailures,
			Exhausted:      st.Budget.ExhaustedAt > 0,
			ExhaustedAt:    st.Budget.ExhaustedAt,
		},
	}
	if !j.cfg.Latency.Disabled {
		ev.Latency = st.Latency.evidence(j.g, alphaSlow, alphaDist)
	}
	return ev
}

func budgetExhausted(_ *Judge, ev *Evidence) (Decision, bool) {
	b := ev.Budget
	return Decision{Verdict: Fail, Reason: ReasonBudget, Message: fmt.Sprintf(
		"budget exhausted: %.1f canary failures beyond the %.1f stable's rate predicts (budget %g)",
		b.Excess, b.Expected, b.Limit)}, b.Exhausted
}

func errorsWorse(_ *Judge, ev *Evidence) (Decision, bool) {
	e := ev.Errors
	return Decision{Verdict: Fail, Reason: ReasonErrors, Message: "errors: " + worseMessage(e, "fails")}, e.Rejected
}

func latencyWorse(_ *Judge, ev *Evidence) (Decision, bool) {
	l := ev.Latency
	switch {
	case l == nil:
		return Decision{}, false
	case l.Slow.Rejected:
		return Decision{Verdict: Fail, Reason: ReasonLatency, Message: fmt.Sprintf(
			"latency: requests slower than %s: %s", seconds(float64(l.Threshold)), worseMessage(l.Slow, "is slow"))}, true
	case l.Distribution.Rejected:
		d := l.Distribution
		return Decision{Verdict: Fail, Reason: ReasonLatency, Message: fmt.Sprintf(
			"latency: the canary's latency distribution is below stable's by up to %.3f, beyond the %.3f chance allows (look %d, α %g)",
			d.Distance, d.Bound, d.Looks, d.Alpha)}, true
	}
	return Decision{}, false
}

func noData(_ *Judge, ev *Evidence) (Decision, bool) {
	return Decision{Verdict: Wait, Reason: ReasonNoData, Message: "no data: the canary has served no requests yet"}, ev.CanaryRequests == 0
}

func tooLittleTraffic(j *Judge, ev *Evidence) (Decision, bool) {
	return Decision{Verdict: Wait, Reason: ReasonTooLittle, Message: fmt.Sprintf(
		"too little traffic: the canary has served %d of the %d requests needed to pass",
		ev.CanaryRequests, j.cfg.MinRequests)}, ev.CanaryRequests < j.cfg.MinRequests
}

func errorsUncertain(j *Judge, ev *Evidence) (Decision, bool) {
	return uncertain("failures", ev.Errors, j.cfg.PassRelativeRisk)
}

func latencyUncertain(j *Judge, ev *Evidence) (Decision, bool) {
	l := ev.Latency
	switch {
	case l == nil:
		return Decision{}, false
	case math.IsNaN(float64(l.Threshold)):
		return Decision{Verdict: Wait, Reason: ReasonUncertain, Message: fmt.Sprintf(
			"holding the weight: no slow-request threshold yet (stable's p%g needs %.0f requests with latencies; disable latency if the source has no histograms)",
			100*j.cfg.Latency.StableQuantile, 10/(1-j.cfg.Latency.StableQuantile))}, true
	}
	return uncertain("slow requests", l.Slow, j.cfg.PassRelativeRisk)
}

// uncertain holds the weight while the upper bound of the relative risk is
// above pass. A test without a single event on either version has nothing
// to hold on: it does not block (there is no harm to bound either).
func uncertain(what string, e RiskEvidence, pass float64) (Decision, bool) {
	if e.CanaryEvents == 0 && e.StableEvents == 0 {
		return Decision{}, false
	}
	if float64(e.Upper) <= pass {
		return Decision{}, false
	}
	return Decision{Verdict: Wait, Reason: ReasonUncertain, Message: fmt.Sprintf(
		"holding the weight: the canary's relative risk of %s could be up to %s (passes at ≤ %g×): %d canary and %d stable so far",
		what, times(float64(e.Upper)), pass, e.CanaryEvents, e.StableEvents)}, true
}

func worseMessage(e RiskEvidence, verb string) string {
	return fmt.Sprintf("the canary %s %s as often as stable (confidence sequence %s to %s; %d canary and %d stable); evidence against ≤ %g× reached %.3g ≥ 1/α = %.3g",
		verb, times(float64(e.RelativeRisk)), times(float64(e.Lower)), times(float64(e.Upper)),
		e.CanaryEvents, e.StableEvents, e.Tolerance, math.Exp(e.PeakLogLR), 1/e.Alpha)
}

func passMessage(ev *Evidence) string {
	parts := []string{"within tolerance"}
	add := func(what string, e RiskEvidence) {
		if e.CanaryEvents+e.StableEvents == 0 {
			parts = append(parts, "no "+what+" on either version")
			return
		}
		parts = append(parts, fmt.Sprintf("relative risk of %s ≤ %s", what, times(float64(e.Upper))))
	}
	add("failures", ev.Errors)
	if ev.Latency != nil {
		add("slow requests", ev.Latency.Slow)
	}
	return strings.Join(parts, "; ") + fmt.Sprintf(" (passes at ≤ %g×)", ev.PassRelativeRisk)
}

func times(v float64) string {
	if math.IsInf(v, 1) {
		return "∞"
	}
	if math.IsNaN(v) {
		return "?"
	}
	return fmt.Sprintf("%.3g×", v)
}

func seconds(s float64) string {
	if math.IsInf(s, 1) {
		return "+Inf"
	}
	return fmt.Sprintf("%.3gms", s*1000)
}
