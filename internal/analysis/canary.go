package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/stats"
)

// JudgeConfig is the statistics' config of a defaulted judge.
func JudgeConfig(j v1alpha1.Judge) stats.Config {
	cfg := stats.Config{
		Alpha:             j.Alpha.Float(),
		MaxRelativeRisk:   j.MaxRelativeRisk.Float(),
		PassRelativeRisk:  j.PassRelativeRisk.Float(),
		MaxCanaryFailures: float64(j.MaxCanaryFailures),
	}
	if n := j.MinRequests; n != nil && *n > 0 {
		cfg.MinRequests = uint64(*n)
	}
	// A judge reading Prometheus without a latency query has no
	// histograms: all of alpha goes to the errors test.
	cfg.Latency.Disabled = j.Prometheus != nil && j.Prometheus.Latency == ""
	if l := j.Latency; l != nil {
		cfg.Latency.Disabled = cfg.Latency.Disabled || l.Disabled
		cfg.Latency.StableQuantile = l.StableQuantile.Float()
		if l.Threshold != nil {
			cfg.Latency.Threshold = l.Threshold.Seconds()
		}
	}
	return cfg
}

// JudgeSchedule is the metric whose schedule a judge follows: every
// interval, each evaluation covering the window since the last one (see
// NextMeasurement and WindowStart). A judge has no count: it evaluates
// until it decides or its run ends.
func JudgeSchedule(j v1alpha1.Judge) v1alpha1.Metric {
	return v1alpha1.Metric{Name: j.Name, Interval: j.Interval}
}

// JudgeWindow folds one window of both versions' traffic into a judge
// whose latest result is prev (nil before the first window) and returns
// the measurement to append to the judge's MetricResult and the judge's new
// result. The judge's evidence travels in the result (JudgeResult.State),
// so a run restored after a restart goes on from it. A window the provider
// could not read (err), or that the judge refuses (a counter reset), is an
// Error measurement and leaves the evidence as it was. started is the end
// of the window, finished when it was read.
func JudgeWindow(j v1alpha1.Judge, prev *v1alpha1.JudgeResult, w stats.Window, err error, started, finished time.Time) (v1alpha1.Measurement, *v1alpha1.JudgeResult) {
	ms := v1alpha1.Measurement{StartedAt: &metav1.Time{Time: started}, FinishedAt: &metav1.Time{Time: finished}}
	judge, rerr := resume(j, prev)
	switch {
	case rerr != nil:
		err = fmt.Errorf("cannot resume the judge's evidence: %w", rerr)
	case err == nil:
		err = judge.Add(w)
	}
	if err != nil {
		ms.Phase, ms.Message = v1alpha1.AnalysisError, err.Error()
		return ms, prev
	}
	d := judge.Decide()
	res := Result(j, d)
	state, err := json.Marshal(judge.State())
	if err != nil { // the state is finite numbers: a bug
		ms.Phase, ms.Message = v1alpha1.AnalysisError, fmt.Sprintf("cannot save the judge's evidence: %v", err)
		return ms, prev
	}
	res.State = state
	ms.Phase = map[stats.Verdict]v1alpha1.AnalysisPhase{
		stats.Pass: v1alpha1.AnalysisSuccessful, stats.Fail: v1alpha1.AnalysisFailed, stats.Wait: v1alpha1.AnalysisInconclusive,
	}[d.Verdict]
	ms.Value, ms.Message = string(d.Verdict), d.Message
	return ms, res
}

// resume rebuilds a judge from its last result's state.
func resume(j v1alpha1.Judge, prev *v1alpha1.JudgeResult) (*stats.Judge, error) {
	cfg := JudgeConfig(j)
	if prev == nil || len(prev.State) == 0 {
		return stats.New(cfg)
	}
	var st stats.State
	if err := json.Unmarshal(prev.State, &st); err != nil {
		return nil, err
	}
	return stats.Restore(cfg, st)
}

// Result writes a decision of judge j as the run's status shows it (all but
// the state).
func Result(j v1alpha1.Judge, d stats.Decision) *v1alpha1.JudgeResult {
	ev := d.Evidence
	b := ev.Budget
	res := &v1alpha1.JudgeResult{
		Verdict:          v1alpha1.JudgeVerdict(d.Verdict),
		Reason:           string(d.Reason),
		Message:          d.Message,
		HoldWeight:       v1alpha1.Bool(j.HoldWeight) && d.HoldWeight(),
		Windows:          int64(ev.Windows),
		CanaryRequests:   clamp(ev.CanaryRequests),
		StableRequests:   clamp(ev.StableRequests),
		Errors:           riskTest(ev.Errors),
		PassRelativeRisk: num(ev.PassRelativeRisk),
		Budget: v1alpha1.JudgeBudget{
			CanaryFailures: clamp(b.CanaryFailures), Expected: num(b.Expected), Excess: num(b.Excess),
			Limit: j.MaxCanaryFailures, Exhausted: b.Exhausted,
		},
	}
	if l := ev.Latency; l != nil {
		res.Latency = &v1alpha1.JudgeLatencyResult{
			Threshold: threshold(float64(l.Threshold)),
			Slow:      riskTest(l.Slow),
			Distance:  num(l.Distribution.Distance),
			Bound:     num(l.Distribution.Bound),
			Rejected:  l.Distribution.Rejected,
		}
	}
	return res
}

// riskTest writes a relative-risk test as the status shows it.
func riskTest(e stats.RiskEvidence) v1alpha1.JudgeTest {
	return v1alpha1.JudgeTest{
		CanaryEvents:    clamp(e.CanaryEvents),
		StableEvents:    clamp(e.StableEvents),
		CanaryRate:      num(float64(e.CanaryRate)),
		StableRate:      num(float64(e.StableRate)),
		RelativeRisk:    num(float64(e.RelativeRisk)),
		Lower:           num(float64(e.Lower)),
		Upper:           num(float64(e.Upper)),
		LikelihoodRatio: num(math.Exp(e.LogLR)),
		Boundary:        num(math.Exp(e.Boundary)),
		Rejected:        e.Rejected,
	}
}

// num writes a number for the status: four significant digits, "+Inf",
// or "" when undefined.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return ""
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// threshold writes a latency threshold in seconds as a duration.
func threshold(sec float64) string {
	if math.IsNaN(sec) || math.IsInf(sec, 0) {
		return num(sec)
	}
	return time.Duration(sec * float64(time.Second)).Round(time.Microsecond).String()
}

func clamp(n uint64) int64 { return int64(min(n, math.MaxInt64)) }

// assessJudge sets the phase and message of a judge's result that is not
// decided yet: Failed on the judge's Fail (final), Error after too many
// consecutive errors reading the counters, Successful on its first Pass in
// a blocking run (a background run keeps judging), Successful when the run
// is terminated (stopped, not judged), otherwise Running — and never
// Successful on no data.
func assessJudge(r *v1alpha1.MetricResult, blocking, terminating bool) {
	if r.Phase.Completed() {
		return
	}
	var verdict v1alpha1.JudgeVerdict
	if r.Judge != nil {
		verdict = r.Judge.Verdict
	}
	switch {
	case verdict == v1alpha1.JudgeFail:
		r.Phase, r.Message = v1alpha1.AnalysisFailed, r.Judge.Message
	case r.ConsecutiveError > v1alpha1.DefaultConsecutiveErrorLimit:
		r.Phase = v1alpha1.AnalysisError
		r.Message = fmt.Sprintf("%d consecutive errors, more than %d%s",
			r.ConsecutiveError, v1alpha1.DefaultConsecutiveErrorLimit, last(*r, v1alpha1.AnalysisError))
	case blocking && verdict == v1alpha1.JudgePass:
		r.Phase, r.Message = v1alpha1.AnalysisSuccessful, "passed: "+r.Judge.Message
	case terminating:
		r.Phase = v1alpha1.AnalysisSuccessful
		r.Message = fmt.Sprintf("stopped after %d evaluations", r.Count)
		if r.Judge != nil {
			r.Message += fmt.Sprintf(", last %s: %s", strings.ToLower(string(verdict)), r.Judge.Message)
		}
	case r.Count+r.Error == 0:
		r.Phase, r.Message = v1alpha1.AnalysisPending, "waiting for the first window"
	default:
		r.Phase, r.Message = v1alpha1.AnalysisRunning, describe(r.Judge)
	}
}

// describe says what a running judge thinks, verdict first.
func describe(res *v1alpha1.JudgeResult) string {
	if res == nil {
		return "no window judged yet"
	}
	return strings.ToLower(string(res.Verdict)) + ": " + res.Message
}

// Hold says whether a run's judges keep the rollout from raising the
// canary's weight now, and why: a judge with holdWeight that has not
// passed (or not judged a window yet), in a run that is not decided. A
// judge that passed in a blocking run is done and holds nothing.
func Hold(spec v1alpha1.AnalysisRunSpec, status v1alpha1.AnalysisRunStatus) (bool, string) {
	if status.Phase.Completed() || spec.Terminate {
		return false, ""
	}
	for _, j := range spec.Judges {
		if !v1alpha1.Bool(j.HoldWeight) {
			continue
		}
		var r *v1alpha1.MetricResult
		for i := range status.MetricResults {
			if status.MetricResults[i].Name == j.Name {
				r = &status.MetricResults[i]
			}
		}
		switch {
		case r != nil && r.Phase.Completed():
		case r == nil || r.Judge == nil:
			return true, j.Name + ": no window judged yet"
		case r.Judge.HoldWeight:
			return true, j.Name + ": " + strings.TrimPrefix(r.Judge.Message, "holding the weight: ")
		}
	}
	return false, ""
}
