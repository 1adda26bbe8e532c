package analysis

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/stats"
	"fledge.dev/fledge/internal/metrics"
)

// judgeSpec is a defaulted judge changed by f.
func judgeSpec(f func(*v1alpha1.Judge)) v1alpha1.Judge {
	t := v1alpha1.AnalysisTemplateSpec{Judge: &v1alpha1.Judge{}}
	if f != nil {
		f(t.Judge)
	}
	t.Default()
	return *t.Judge
}

// window is a second of traffic: nc canary requests of which kc fail, ns
// stable of which ks fail, all taking latency seconds.
func window(nc, kc, ns, ks uint64, latency float64) stats.Window {
	h := func(n uint64) []uint64 {
		b := make([]uint64, len(metrics.Buckets)+1)
		b[sort.SearchFloat64s(metrics.Buckets, latency)] = n
		return b
	}
	return stats.Window{
		Canary: metrics.Counts{Requests: nc, Errors: kc, Buckets: h(nc)},
		Stable: metrics.Counts{Requests: ns, Errors: ks, Buckets: h(ns)},
	}
}

// TestJudgeDefaultsMatchStats checks that the API's defaults and ranges
// are the statistics': a defaulted `judge: {}` is stats' zero Config, and
// the API accepts a config exactly when stats does.
func TestJudgeDefaultsMatchStats(t *testing.T) {
	got := JudgeConfig(judgeSpec(nil))
	want := stats.Config{}.WithDefaults()
	if got != want {
		t.Errorf("defaulted judge %+v, stats' defaults %+v", got, want)
	}
	if got := JudgeConfig(judgeSpec(func(j *v1alpha1.Judge) { j.MaxRelativeRisk = v1alpha1.Dec(1.5) })); got.PassRelativeRisk != 3 {
		t.Errorf("passRelativeRisk defaults to %g with maxRelativeRisk 1.5, want 3 as stats", got.PassRelativeRisk)
	}
	tests := map[string]func(*v1alpha1.Judge){
		"alpha 0.5":             func(j *v1alpha1.Judge) { j.Alpha = v1alpha1.Dec(0.5) },
		"alpha above 0.5":       func(j *v1alpha1.Judge) { j.Alpha = v1alpha1.Dec(0.5000001) },
		"tolerance 0.1":         func(j *v1alpha1.Judge) { j.MaxRelativeRisk = v1alpha1.Dec(0.1) },
		"tolerance below 0.1":   func(j *v1alpha1.Judge) { j.MaxRelativeRisk = v1alpha1.Dec(0.0999) },
		"tolerance 100":         func(j *v1alpha1.Judge) { j.MaxRelativeRisk = v1alpha1.Dec(100) },
		"tolerance above 100":   func(j *v1alpha1.Judge) { j.MaxRelativeRisk = v1alpha1.Dec(100.5) },
		"pass at 1024×":         func(j *v1alpha1.Judge) { j.PassRelativeRisk = v1alpha1.Dec(1024) },
		"pass above 1024×":      func(j *v1alpha1.Judge) { j.PassRelativeRisk = v1alpha1.Dec(1025) },
		"pass at the tolerance": func(j *v1alpha1.Judge) { j.PassRelativeRisk = v1alpha1.Dec(1) },
		"quantile 0.5":          func(j *v1alpha1.Judge) { j.Latency = &v1alpha1.JudgeLatency{StableQuantile: v1alpha1.Dec(0.5)} },
		"quantile below 0.5":    func(j *v1alpha1.Judge) { j.Latency = &v1alpha1.JudgeLatency{StableQuantile: v1alpha1.Dec(0.49)} },
		"quantile 0.9999":       func(j *v1alpha1.Judge) { j.Latency = &v1alpha1.JudgeLatency{StableQuantile: v1alpha1.Dec(0.9999)} },
		"quantile above 0.9999": func(j *v1alpha1.Judge) { j.Latency = &v1alpha1.JudgeLatency{StableQuantile: v1alpha1.Dec(0.99995)} },
		"a budget":              func(j *v1alpha1.Judge) { j.MaxCanaryFailures = 3 },
		"a negative budget":     func(j *v1alpha1.Judge) { j.MaxCanaryFailures = -3 },
		"a threshold":           func(j *v1alpha1.Judge) { j.Latency = &v1alpha1.JudgeLatency{Threshold: v1alpha1.Seconds(1)} },
		"a negative threshold": func(j *v1alpha1.Judge) {
			j.Latency = &v1alpha1.JudgeLatency{Threshold: &v1alpha1.Duration{Duration: -1}}
		},
		"latency off, no threshold": func(j *v1alpha1.Judge) { j.Latency = &v1alpha1.JudgeLatency{Disabled: true} },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			j := judgeSpec(f)
			tpl := v1alpha1.AnalysisTemplate{Spec: v1alpha1.AnalysisTemplateSpec{Judge: &j}}
			tpl.APIVersion, tpl.Kind, tpl.Name = v1alpha1.APIVersion, v1alpha1.KindTemplate, "t"
			apiErr := tpl.Validate()
			statsErr := JudgeConfig(j).WithDefaults().Validate()
			if (apiErr == nil) != (statsErr == nil) {
				t.Errorf("the API says %v, stats says %v", apiErr, statsErr)
			}
		})
	}
}

// TestJudgeWindow feeds a canary failing 10% of its requests (stable 0.1%)
// through JudgeWindow, persisting each result as the run manager does,
// and checks the verdicts, the evidence and the measurements.
func TestJudgeWindow(t *testing.T) {
	j := judgeSpec(func(j *v1alpha1.Judge) { j.Latency = &v1alpha1.JudgeLatency{Disabled: true} })
	var res *v1alpha1.JudgeResult
	var phases []v1alpha1.AnalysisPhase
	for i := range 30 {
		end := t0.Add(time.Duration(i+1) * time.Second)
		ms, next := JudgeWindow(j, res, window(20, 2, 380, 0, 0.01), nil, end, end)
		phases = append(phases, ms.Phase)
		if next == nil || ms.Value != string(next.Verdict) || ms.Message != next.Message {
			t.Fatalf("window %d: measurement %+v, result %+v", i+1, ms, next)
		}
		res = persisted(t, next)
		if res.Verdict == v1alpha1.JudgeFail {
			break
		}
	}
	if res.Verdict != v1alpha1.JudgeFail || res.Reason != string(stats.ReasonErrors) || !strings.HasPrefix(res.Message, "errors: ") {
		t.Fatalf("after %d windows: %s %s %q, want Fail on errors", len(phases), res.Verdict, res.Reason, res.Message)
	}
	if n := len(phases); n > 5 || phases[n-1] != v1alpha1.AnalysisFailed || phases[0] != v1alpha1.AnalysisInconclusive {
		t.Errorf("measurement phases %v: want waiting, then failed within 5 windows", phases)
	}
	e := res.Errors
	if res.Windows != int64(len(phases)) || res.CanaryRequests != 20*res.Windows || e.CanaryEvents != 2*res.Windows || e.StableEvents != 0 ||
		!e.Rejected || e.Upper != "+Inf" || e.Boundary != "100" || e.LikelihoodRatio == "" || !res.HoldWeight || res.Latency != nil {
		res.State = nil
		t.Errorf("evidence %+v", res)
	}
}

// persisted sends a result through JSON, as the store does.
func persisted(t *testing.T, r *v1alpha1.JudgeResult) *v1alpha1.JudgeResult {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out v1alpha1.JudgeResult
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// TestJudgeWindowResumes checks that the evidence carried in the result is
// the evidence: a judge fed through persisted results decides as one fed
// in one go.
func TestJudgeWindowResumes(t *testing.T) {
	j := judgeSpec(nil)
	windows := []stats.Window{window(10, 0, 190, 1, 0.01), window(12, 1, 188, 0, 0.012), window(9, 2, 191, 0, 0.01)}
	direct, err := stats.New(JudgeConfig(j))
	if err != nil {
		t.Fatal(err)
	}
	var res *v1alpha1.JudgeResult
	for i, w := range windows {
		if err := direct.Add(w); err != nil {
			t.Fatal(err)
		}
		_, next := JudgeWindow(j, res, w, nil, t0.Add(time.Duration(i)*time.Second), t0)
		res = persisted(t, next)
	}
	want := Result(j, direct.Decide())
	res.State = nil
	if !reflect.DeepEqual(res, want) {
		t.Errorf("resumed judge:\n%+v\nwant\n%+v", res, want)
	}
}

func TestJudgeWindowErrors(t *testing.T) {
	j := judgeSpec(nil)
	_, first := JudgeWindow(j, nil, window(10, 0, 190, 0, 0.01), nil, t0, t0)
	reset := window(10, 0, 190, 0, 0.01)
	reset.Canary.Requests = 1 << 62 // a counter that went backwards, subtracted
	corrupt := *first
	corrupt.State = json.RawMessage(`{"version": 99}`)
	tests := map[string]struct {
		prev *v1alpha1.JudgeResult
		w    stats.Window
		err  error
		want string
	}{
		"the provider failed":    {prev: first, w: window(1, 0, 1, 0, 0.01), err: errors.New("no stable revision"), want: "no stable revision"},
		"a counter reset":        {prev: first, w: reset, want: "counter reset"},
		"evidence that is wrong": {prev: &corrupt, w: window(1, 0, 1, 0, 0.01), want: "cannot resume the judge's evidence"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ms, res := JudgeWindow(j, tc.prev, tc.w, tc.err, t0, t0)
			if ms.Phase != v1alpha1.AnalysisError || !strings.Contains(ms.Message, tc.want) {
				t.Errorf("measurement %+v, want Error containing %q", ms, tc.want)
			}
			if res != tc.prev {
				t.Errorf("the evidence changed on an error")
			}
		})
	}
}

// judgeRun is a run with one judge and its result, holding the given
// verdict after n evaluations (none when verdict is empty).
func judgeRun(blocking bool, verdict v1alpha1.JudgeVerdict, n int32) (v1alpha1.AnalysisRunSpec, v1alpha1.AnalysisRunStatus) {
	spec := v1alpha1.AnalysisRunSpec{Judges: []v1alpha1.Judge{judgeSpec(nil)}, Blocking: blocking}
	r := v1alpha1.MetricResult{Name: "judge", Phase: v1alpha1.AnalysisPending}
	if verdict != "" {
		r.Phase, r.Count, r.Inconclusive = v1alpha1.AnalysisRunning, n, n
		r.Judge = &v1alpha1.JudgeResult{Verdict: verdict, Message: "the judge's message", HoldWeight: verdict != v1alpha1.JudgePass}
		r.Measurements = measurements(strings.Repeat("I", int(n)))
	}
	return spec, v1alpha1.AnalysisRunStatus{StartedAt: at(0), Phase: v1alpha1.AnalysisRunning, MetricResults: []v1alpha1.MetricResult{r}}
}

// TestAssessJudge checks the phase of a judge's result and of its run.
func TestAssessJudge(t *testing.T) {
	tests := map[string]struct {
		blocking, terminate bool
		verdict             v1alpha1.JudgeVerdict
		errors              int32
		want, wantRun       v1alpha1.AnalysisPhase
		wantMsg             string // in the run's message
	}{
		"nothing judged yet":         {want: v1alpha1.AnalysisPending, wantRun: v1alpha1.AnalysisRunning, wantMsg: `judge "judge": waiting for the first window`},
		"waiting":                    {verdict: v1alpha1.JudgeWait, want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning, wantMsg: `judge "judge": wait: the judge's message`},
		"waiting, blocking":          {blocking: true, verdict: v1alpha1.JudgeWait, want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning},
		"a pass ends a blocking run": {blocking: true, verdict: v1alpha1.JudgePass, want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful, wantMsg: `judge "judge": passed: the judge's message`},
		"a background judge goes on": {verdict: v1alpha1.JudgePass, want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning, wantMsg: "pass: the judge's message"},
		"a fail ends the run":        {verdict: v1alpha1.JudgeFail, want: v1alpha1.AnalysisFailed, wantRun: v1alpha1.AnalysisFailed, wantMsg: `judge "judge" failed: the judge's message`},
		"a fail ends a blocking run": {blocking: true, verdict: v1alpha1.JudgeFail, want: v1alpha1.AnalysisFailed, wantRun: v1alpha1.AnalysisFailed},
		"terminated while waiting":   {terminate: true, verdict: v1alpha1.JudgeWait, want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful, wantMsg: "stopped after 3 evaluations, last wait"},
		"terminated before any data": {terminate: true, want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful, wantMsg: "stopped after 0 evaluations"},
		"the counters cannot be read": {verdict: v1alpha1.JudgeWait, errors: v1alpha1.DefaultConsecutiveErrorLimit + 1,
			want: v1alpha1.AnalysisError, wantRun: v1alpha1.AnalysisError, wantMsg: "5 consecutive errors, more than 4; last: no counters"},
		"a few errors are tolerated": {verdict: v1alpha1.JudgeWait, errors: 2, want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec, status := judgeRun(tc.blocking, tc.verdict, 3)
			spec.Terminate = tc.terminate
			r := &status.MetricResults[0]
			for range tc.errors {
				r.Measurements = append(r.Measurements, v1alpha1.Measurement{Phase: v1alpha1.AnalysisError, Message: "no counters", StartedAt: at(time.Hour)})
			}
			out := Assess(spec, status, t0.Add(time.Minute))
			got := out.MetricResults[0]
			if got.Phase != tc.want || out.Phase != tc.wantRun || !strings.Contains(out.Message, tc.wantMsg) {
				t.Errorf("judge %s (%q), run %s (%q); want %s, %s containing %q", got.Phase, got.Message, out.Phase, out.Message, tc.want, tc.wantRun, tc.wantMsg)
			}
			if again := Assess(spec, out, t0.Add(time.Minute)); !reflect.DeepEqual(again, out) {
				t.Errorf("assessing twice changed the status:\n%+v\n%+v", out, again)
			}
			if next := got.NextMeasurementAt; got.Phase.Completed() != (next == nil) {
				t.Errorf("next evaluation %v with phase %s", next, got.Phase)
			}
		})
	}
}

// TestAssessJudgeWithMetrics checks that a judge and a metric decide a run
// together: the run succeeds once both did, and a judge's failure stops
// the metric.
func TestAssessJudgeWithMetrics(t *testing.T) {
	spec, status := judgeRun(true, v1alpha1.JudgePass, 3)
	spec.Metrics = []v1alpha1.Metric{metric(named("rate"), every(time.Second))}
	status.MetricResults = append(status.MetricResults, v1alpha1.MetricResult{Name: "rate", Measurements: measurements("SS")})
	out := Assess(spec, status, t0.Add(time.Minute))
	if out.Phase != v1alpha1.AnalysisRunning || out.MetricResults[1].Phase != v1alpha1.AnalysisSuccessful || out.MetricResults[0].Name != "rate" {
		t.Fatalf("judge passed, metric 2 of 3: run %s, results %+v", out.Phase, out.MetricResults)
	}
	out.MetricResults[0].Measurements = append(out.MetricResults[0].Measurements, measurements("SSS")[2])
	if out = Assess(spec, out, t0.Add(time.Minute)); out.Phase != v1alpha1.AnalysisSuccessful ||
		!strings.Contains(out.Message, `metric "rate": 3 of 3`) || !strings.Contains(out.Message, `judge "judge": passed`) {
		t.Errorf("both done: run %s %q", out.Phase, out.Message)
	}

	spec, status = judgeRun(false, v1alpha1.JudgeFail, 3)
	spec.Metrics = []v1alpha1.Metric{metric(named("rate"), every(time.Second))}
	out = Assess(spec, status, t0.Add(time.Minute))
	if out.Phase != v1alpha1.AnalysisFailed || out.MetricResults[0].Phase != v1alpha1.AnalysisSuccessful || out.MetricResults[0].NextMeasurementAt != nil {
		t.Errorf("judge failed: run %s, metric %+v", out.Phase, out.MetricResults[0])
	}
}

func TestHold(t *testing.T) {
	off := judgeSpec(func(j *v1alpha1.Judge) { j.HoldWeight = new(bool) })
	tests := map[string]struct {
		blocking  bool
		verdict   v1alpha1.JudgeVerdict
		change    func(*v1alpha1.AnalysisRunSpec, *v1alpha1.AnalysisRunStatus)
		want      bool
		wantInMsg string
	}{
		"before the first window":   {want: true, wantInMsg: "judge: no window judged yet"},
		"waiting":                   {verdict: v1alpha1.JudgeWait, want: true, wantInMsg: "judge: the judge's message"},
		"passing in the background": {verdict: v1alpha1.JudgePass},
		"passed a blocking run":     {blocking: true, verdict: v1alpha1.JudgePass},
		"failed":                    {verdict: v1alpha1.JudgeFail},
		"waiting, holdWeight off": {verdict: v1alpha1.JudgeWait,
			change: func(s *v1alpha1.AnalysisRunSpec, _ *v1alpha1.AnalysisRunStatus) { s.Judges[0] = off }},
		"terminated": {verdict: v1alpha1.JudgeWait,
			change: func(s *v1alpha1.AnalysisRunSpec, _ *v1alpha1.AnalysisRunStatus) { s.Terminate = true }},
		"a run without judges": {verdict: v1alpha1.JudgeWait,
			change: func(s *v1alpha1.AnalysisRunSpec, _ *v1alpha1.AnalysisRunStatus) { s.Judges = nil }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec, status := judgeRun(tc.blocking, tc.verdict, 3)
			if tc.change != nil {
				tc.change(&spec, &status)
			}
			status = Assess(spec, status, t0.Add(time.Minute))
			held, why := Hold(spec, status)
			if held != tc.want || !strings.Contains(why, tc.wantInMsg) || held == (why == "") {
				t.Errorf("Hold = %v %q, want %v containing %q", held, why, tc.want, tc.wantInMsg)
			}
		})
	}
}

// TestJudgeConfigPrometheusWithoutLatency checks that a judge reading
// Prometheus without a latency query has its latency tests off (all of
// alpha to the errors), and with one keeps them.
func TestJudgeConfigPrometheusWithoutLatency(t *testing.T) {
	j := v1alpha1.Judge{Prometheus: &v1alpha1.JudgePrometheus{Address: "http://p", Requests: "r", Failures: "f"}}
	j.Default()
	if cfg := JudgeConfig(j); !cfg.Latency.Disabled {
		t.Errorf("no latency query: latency tests on, want off")
	}
	j.Prometheus.Latency = "h_bucket"
	if cfg := JudgeConfig(j); cfg.Latency.Disabled {
		t.Errorf("a latency query: latency tests off, want on")
	}
}
