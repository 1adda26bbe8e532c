package v1alpha1

import "encoding/json"

// The ranges the judge's statistics support (internal/analysis/stats:
// Config.Validate, whose grid of relative risks spans 1/64 to 1024 times
// the tolerance; a test there checks that both agree).
const (
	judgeMaxAlpha         = 0.5
	judgeMinTolerance     = 0.1
	judgeMaxTolerance     = 100.0
	judgeMaxPassFactor    = 1024.0
	judgeMinQuantile      = 0.5
	judgeMaxQuantile      = 0.9999
	judgeMaxIntervalHours = 24
)

// judge checks a template's judge; metricNames are the template's metrics,
// whose results share the run's status with the judge's.
func (v *validator) judge(p path, j *Judge, metricNames map[string]bool) {
	if v.required(p.field("name"), j.Name) && metricNames[j.Name] {
		v.addf(p.field("name"), "%q is also the name of a metric of this template: the judge's result needs its own name", j.Name)
	}
	if d := j.Interval; d != nil && (d.Duration <= 0 || d.Duration.Hours() > judgeMaxIntervalHours) {
		v.addf(p.field("interval"), "must be positive and at most %dh, got %s", judgeMaxIntervalHours, d.Duration)
	}
	if r, ok := v.resolved(j.Route); ok && r != "" && !validRoute(r) {
		v.addf(p.field("route"), "must be \"/path\" or \"METHOD /path\", e.g. \"POST /login\", got %q", r)
	}
	if a := j.Alpha; a != nil && !(a.Value > 0 && a.Value <= judgeMaxAlpha) {
		v.addf(p.field("alpha"), "must be above 0 and at most %g (the chance of failing a good canary), got %g", judgeMaxAlpha, a.Value)
	}
	tolerance := DefaultJudgeMaxRelativeRisk
	if m := j.MaxRelativeRisk; m != nil {
		tolerance = m.Value
		if !(m.Value >= judgeMinTolerance && m.Value <= judgeMaxTolerance) {
			v.addf(p.field("maxRelativeRisk"), "must be between %g and %g, got %g", judgeMinTolerance, judgeMaxTolerance, m.Value)
		}
	}
	if pr := j.PassRelativeRisk; pr != nil {
		switch {
		case !(pr.Value > tolerance):
			v.addf(p.field("passRelativeRisk"), "must be above maxRelativeRisk (%g): a canary exactly at the tolerance can be shown neither worse nor within it, got %g", tolerance, pr.Value)
		case pr.Value > judgeMaxPassFactor*tolerance:
			v.addf(p.field("passRelativeRisk"), "must be at most %g times maxRelativeRisk (%g), got %g", judgeMaxPassFactor, judgeMaxPassFactor*tolerance, pr.Value)
		}
	}
	if j.MaxCanaryFailures < 0 {
		v.addf(p.field("maxCanaryFailures"), "must not be negative (0 is no budget), got %d", j.MaxCanaryFailures)
	}
	if n := j.MinRequests; n != nil && *n < 1 {
		v.addf(p.field("minRequests"), "must be at least 1, got %d", *n)
	}
	if l := j.Latency; l != nil {
		v.judgeLatency(p.field("latency"), l)
	}
	v.judgeArgs(p, j)
}

func (v *validator) judgeLatency(p path, l *JudgeLatency) {
	if l.Threshold != nil && l.StableQuantile != nil {
		v.addf(p, "must set only one of threshold (a fixed SLO) or stableQuantile (stable's latency), got both")
	}
	if t := l.Threshold; t != nil && t.Duration <= 0 {
		v.addf(p.field("threshold"), "must be positive, e.g. \"250ms\", got %s", t.Duration)
	}
	if q := l.StableQuantile; q != nil && !(q.Value >= judgeMinQuantile && q.Value <= judgeMaxQuantile) {
		v.addf(p.field("stableQuantile"), "must be between %g and %g, got %g", judgeMinQuantile, judgeMaxQuantile, q.Value)
	}
}

// judgeArgs checks that a judge refers only to arguments its template
// declares (its route may take one).
func (v *validator) judgeArgs(p path, j *Judge) {
	b, err := json.Marshal(j)
	if err != nil {
		return // a number that is not finite, reported by its range check
	}
	reported := map[string]bool{}
	for _, sub := range ArgRef.FindAllSubmatch(b, -1) {
		name := string(sub[1])
		if _, ok := v.argValues[name]; !ok && !reported[name] {
			reported[name] = true
			v.addf(p, "refers to {{args.%s}}, which %s does not declare", name, v.argsPath)
		}
	}
}

// inconclusivePolicy checks a template's inconclusivePolicy.
func (v *validator) inconclusivePolicy(p path, policy InconclusivePolicy) {
	switch policy {
	case "", InconclusivePause, InconclusiveAbort:
	default:
		v.addf(p, "must be Pause or Abort, got %q", policy)
	}
}
