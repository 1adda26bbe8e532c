package dashboard

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis"
	"fledge.dev/fledge/internal/analysis/stats"
	"fledge.dev/fledge/internal/metrics"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// counts is one version's window: n requests, k failed, all taking latency seconds.
func counts(n, k uint64, latency float64) metrics.Counts {
	c := metrics.Counts{Requests: n, Errors: k, Buckets: make([]uint64, len(metrics.Buckets)+1), SumSeconds: float64(n) * latency}
	i := 0
	for i < len(metrics.Buckets) && metrics.Buckets[i] < latency {
		i++
	}
	c.Buckets[i] = n
	return c
}

// judged runs the real judge over windows, as the run manager does, and
// returns the run whose status holds its persisted evidence.
func judged(t *testing.T, j v1alpha1.Judge, windows ...stats.Window) *v1alpha1.AnalysisRun {
	t.Helper()
	j.Default()
	mr := v1alpha1.MetricResult{Name: j.Name, Phase: v1alpha1.AnalysisRunning}
	at := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)
	for _, w := range windows {
		at = at.Add(time.Second)
		ms, res := analysis.JudgeWindow(j, mr.Judge, w, nil, at, at)
		mr.Measurements = append(mr.Measurements, ms)
		mr.Judge = res
		mr.Count++
	}
	// Through JSON, as the store and the API server keep it.
	run := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: "web-judge"},
		Spec:       v1alpha1.AnalysisRunSpec{Judges: []v1alpha1.Judge{j}},
		Status:     v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisRunning, MetricResults: []v1alpha1.MetricResult{mr}},
	}
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	var out v1alpha1.AnalysisRun
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func repeat(n int, w stats.Window) []stats.Window {
	out := make([]stats.Window, n)
	for i := range out {
		out[i] = w
	}
	return out
}

func onlyJudge(t *testing.T, run *v1alpha1.AnalysisRun) JudgeView {
	t.Helper()
	views := runViews([]*v1alpha1.AnalysisRun{run})
	if len(views) != 1 || len(views[0].Judges) != 1 {
		t.Fatalf("want one run with one judge, got %+v", views)
	}
	return views[0].Judges[0]
}

// A canary as good as stable: the judge passes, the view says so with the
// judge's own numbers, and the interval lies left of the pass line.
func TestJudgeViewPass(t *testing.T) {
	good := stats.Window{Canary: counts(100, 1, 0.002), Stable: counts(900, 9, 0.002)}
	run := judged(t, v1alpha1.Judge{MaxCanaryFailures: 20}, repeat(40, good)...)
	res := run.Status.MetricResults[0].Judge
	v := onlyJudge(t, run)

	if v.Verdict != "Pass" || v.Reason != res.Reason || v.Explanation != res.Message || v.Hold {
		t.Fatalf("verdict %s (%s) hold %v, want the judge's Pass without hold: %+v", v.Verdict, v.Reason, v.Hold, res)
	}
	if v.CanaryRequests != 4000 || v.StableRequests != 36000 || v.Windows != 40 {
		t.Errorf("requests %d/%d over %d windows, want 4000/36000 over 40", v.CanaryRequests, v.StableRequests, v.Windows)
	}
	if v.MaxRelativeRisk != 1 || v.PassRelativeRisk != 2 || v.Alpha != 0.01 || v.MinRequests != 100 || !v.HoldWeight {
		t.Errorf("thresholds %+v, want the defaults", v)
	}
	if len(v.Tests) != 2 || v.Tests[0].Name != "errors" || v.Tests[1].Name != "slow requests" {
		t.Fatalf("tests %+v, want errors and slow requests", v.Tests)
	}
	e := v.Tests[0]
	if e.CanaryRate != res.Errors.CanaryRate || e.StableRate != res.Errors.StableRate || e.Upper != res.Errors.Upper ||
		e.Lower != res.Errors.Lower || e.RelativeRisk != res.Errors.RelativeRisk || e.Boundary != res.Errors.Boundary {
		t.Errorf("errors test %+v differs from the judge's %+v", e, res.Errors)
	}
	if e.CanaryRate != "0.01" || e.CanaryEvents != 40 || e.StableEvents != 360 {
		t.Errorf("errors: rate %s, events %d/%d, want 0.01 and 40/360", e.CanaryRate, e.CanaryEvents, e.StableEvents)
	}
	if e.State != "within" || e.Evidence != 0 {
		t.Errorf("errors test state %s evidence %g, want within and no evidence against", e.State, e.Evidence)
	}
	s := e.Sketch
	if s.Lower == nil || s.Estimate == nil || s.Upper == nil || !(*s.Lower < *s.Estimate && *s.Estimate < *s.Upper && *s.Upper <= s.Pass) {
		t.Errorf("sketch %+v (%s %s %s): want lower < estimate < upper <= pass", s, e.Lower, e.RelativeRisk, e.Upper)
	}
	if !(s.Tolerance < s.Pass) || math.Abs(s.One-s.Tolerance) > 1e-9 {
		t.Errorf("sketch %+v: tolerance 1 must sit at 1× and below pass", s)
	}
	if slow := v.Tests[1]; slow.State != "quiet" || slow.Threshold == "" {
		t.Errorf("slow requests %+v: want no slow request on either version, at a placed threshold", slow)
	}
	if b := v.Budget; b.Limit != 20 || b.Exhausted || b.Spent < 0 || b.Spent >= 1 || b.CanaryFailures != 40 {
		t.Errorf("budget %+v, want 40 failures, not exhausted, within 20", b)
	}
}

// A canary failing five times as often: the judge fails it; the view
// shows the rejection, the evidence at the boundary and the budget spent.
func TestJudgeViewFail(t *testing.T) {
	bad := stats.Window{Canary: counts(100, 10, 0.002), Stable: counts(900, 18, 0.002)}
	run := judged(t, v1alpha1.Judge{MaxCanaryFailures: 50}, repeat(30, bad)...)
	res := run.Status.MetricResults[0].Judge
	if res.Verdict != v1alpha1.JudgeFail {
		t.Fatalf("the judge says %s (%s), want Fail", res.Verdict, res.Message)
	}
	v := onlyJudge(t, run)
	if v.Verdict != "Fail" || v.Reason != res.Reason {
		t.Fatalf("verdict %s %s, want Fail %s", v.Verdict, v.Reason, res.Reason)
	}
	e := v.Tests[0]
	if res.Reason == string(stats.ReasonErrors) && (e.State != "worse" || e.Evidence != 1 || !e.Rejected) {
		t.Errorf("errors test %+v: want worse, rejected, evidence at the boundary", e)
	}
	if s := e.Sketch; s.Lower == nil || *s.Lower <= s.Tolerance {
		t.Errorf("sketch %+v: a rejected canary's lower bound is above the tolerance", s)
	}
	if res.Reason == string(stats.ReasonBudget) && (v.Budget.Spent != 1 || !v.Budget.Exhausted) {
		t.Errorf("budget %+v, want spent", v.Budget)
	}
}

// Too little traffic: the judge waits and holds the weight; the view says
// why, and a test without a bound yet draws no interval.
func TestJudgeViewWaitHolds(t *testing.T) {
	run := judged(t, v1alpha1.Judge{}, stats.Window{Canary: counts(5, 0, 0.002), Stable: counts(95, 0, 0.002)})
	v := onlyJudge(t, run)
	if v.Verdict != "Wait" || v.Reason != "TooLittleTraffic" || !v.Hold || v.HoldReason == "" {
		t.Fatalf("verdict %s %s hold %v (%q), want a held Wait for traffic", v.Verdict, v.Reason, v.Hold, v.HoldReason)
	}
	if v.Tests[0].State != "quiet" || v.Budget.Limit != 0 || v.Budget.Spent != 0 {
		t.Errorf("errors %+v budget %+v: want quiet and no budget", v.Tests[0], v.Budget)
	}
}

// Before the first window the judge is listed, pending, holding the weight.
func TestJudgeViewBeforeFirstWindow(t *testing.T) {
	j := v1alpha1.Judge{}
	j.Default()
	run := &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{Judges: []v1alpha1.Judge{j}}}
	v := onlyJudge(t, run)
	if v.Phase != "Pending" || v.Verdict != "" || !v.Hold || len(v.Tests) != 0 {
		t.Errorf("view %+v: want pending, no verdict, holding, no tests", v)
	}
}

func TestInterval(t *testing.T) {
	inf := math.Inf(1)
	tests := map[string]struct {
		lower, est, upper     float64
		lowerOpen, upperOpen  bool
		wantLower, wantUpper  float64
		estimateNil, lowerNil bool
	}{
		"inside":         {lower: 0.5, est: 1, upper: 1.5, wantLower: -1, wantUpper: -1},
		"unbounded":      {lower: 0, est: inf, upper: inf, lowerOpen: true, upperOpen: true, wantLower: 0, wantUpper: 1},
		"undefined rate": {lower: math.NaN(), est: math.NaN(), upper: inf, upperOpen: true, wantLower: -1, wantUpper: 1, estimateNil: true, lowerNil: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := interval(tt.lower, tt.est, tt.upper, 1, 2)
			if s.LowerOpen != tt.lowerOpen || s.UpperOpen != tt.upperOpen {
				t.Errorf("open %v/%v, want %v/%v", s.LowerOpen, s.UpperOpen, tt.lowerOpen, tt.upperOpen)
			}
			if (s.Estimate == nil) != tt.estimateNil || (s.Lower == nil) != tt.lowerNil {
				t.Fatalf("positions %+v", s)
			}
			if tt.wantLower >= 0 && *s.Lower != tt.wantLower {
				t.Errorf("lower at %g, want %g", *s.Lower, tt.wantLower)
			}
			if tt.wantUpper >= 0 && *s.Upper != tt.wantUpper {
				t.Errorf("upper at %g, want %g", *s.Upper, tt.wantUpper)
			}
			for _, p := range []float64{s.One, s.Tolerance, s.Pass} {
				if p <= 0 || p >= 1 {
					t.Errorf("threshold at %g: must be inside the axis %+v", p, s)
				}
			}
			if !(s.Min < 1 && s.Max > 2) {
				t.Errorf("axis %g..%g must hold 1 and the pass line with room", s.Min, s.Max)
			}
		})
	}
}
