package v1alpha1

import (
	"encoding/json"
	"slices"
	"strings"
)

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
	if pr := j.Prometheus; pr != nil {
		if j.Route != "" {
			v.addf(p.field("route"), "restricts the embedded proxy's counters, which a judge with prometheus does not read: select the route in its queries")
		}
		v.judgePrometheus(p.field("prometheus"), pr)
	}
	v.judgeArgs(p, j)
}

// judgePrometheus checks where a judge reads its counters in Prometheus.
func (v *validator) judgePrometheus(p path, pr *JudgePrometheus) {
	v.httpURL(p.field("address"), pr.Address)
	v.required(p.field("requests"), pr.Requests)
	v.required(p.field("failures"), pr.Failures)
	for _, q := range []struct{ field, text string }{{"requests", pr.Requests}, {"failures", pr.Failures}, {"latency", pr.Latency}} {
		v.judgeQueryVars(p.field(q.field), q.text, true)
		if pr.Selectors == nil && judgeUses(q.text, JudgeVarSelector) {
			v.addf(p.field(q.field), "uses {{selector}}: set selectors.canary and selectors.stable")
		}
	}
	if s := pr.Selectors; s != nil {
		sp := p.field("selectors")
		for _, sel := range []struct{ field, text string }{{"canary", s.Canary}, {"stable", s.Stable}} {
			if v.required(sp.field(sel.field), sel.text) {
				v.judgeQueryVars(sp.field(sel.field), sel.text, false)
			}
		}
	}
	switch pr.LatencyUnit {
	case "", LatencySeconds, LatencyMilliseconds:
	default:
		v.addf(p.field("latencyUnit"), "must be %s or %s, got %q", LatencySeconds, LatencyMilliseconds, pr.LatencyUnit)
	}
	if pr.Timeout != nil && pr.Timeout.Duration <= 0 {
		v.addf(p.field("timeout"), "must be positive, got %s", pr.Timeout.Duration)
	}
	v.headers(p.field("headers"), pr.Headers)
}

// judgeQueryVars checks that a query (or a selector, which cannot hold
// {{selector}}) uses only the placeholders the judge fills in.
func (v *validator) judgeQueryVars(p path, text string, selector bool) {
	for _, m := range JudgeQueryVar.FindAllStringSubmatch(text, -1) {
		name := m[1]
		switch {
		case name == JudgeVarSelector && !selector:
			v.addf(p, "must not use {{selector}}: it is what {{selector}} stands for")
		case !slices.Contains(JudgeQueryVars, name):
			v.addf(p, "uses {{%s}}, which is not a placeholder of the judge's queries (%s)", name, placeholders())
		default:
			continue
		}
		return
	}
}

// judgeUses says whether text uses the placeholder name.
func judgeUses(text, name string) bool {
	for _, m := range JudgeQueryVar.FindAllStringSubmatch(text, -1) {
		if m[1] == name {
			return true
		}
	}
	return false
}

// placeholders lists the judge's placeholders for a message.
func placeholders() string {
	out := make([]string, len(JudgeQueryVars))
	for i, n := range JudgeQueryVars {
		out[i] = "{{" + n + "}}"
	}
	return strings.Join(out, ", ")
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
