package analysis

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// counters are the MetricResult counters a test expects.
type counters struct{ count, successful, failed, inconclusive, errors, consecutive int32 }

func countersOf(r v1alpha1.MetricResult) counters {
	return counters{r.Count, r.Successful, r.Failed, r.Inconclusive, r.Error, r.ConsecutiveError}
}

func TestAssessMetric(t *testing.T) {
	sec := time.Second
	tests := map[string]struct {
		metric     v1alpha1.Metric
		blocking   bool
		terminate  bool
		phases     string
		want       v1alpha1.AnalysisPhase
		wantRun    v1alpha1.AnalysisPhase
		wantCounts *counters
		wantInMsg  string
	}{
		"nothing measured yet": {metric: metric(every(sec)), blocking: true, want: v1alpha1.AnalysisPending, wantRun: v1alpha1.AnalysisRunning},

		// Counts.
		"blocking, no interval: one value decides": {
			metric: metric(), blocking: true, phases: "S", want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful,
			wantCounts: &counters{count: 1, successful: 1}, wantInMsg: "1 of 1 measurements successful",
		},
		"blocking with an interval: 2 of 3": {
			metric: metric(every(sec)), blocking: true, phases: "SS", want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning,
		},
		"blocking with an interval: 3 of 3": {
			metric: metric(every(sec)), blocking: true, phases: "SSS", want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful,
		},
		"explicit count": {
			metric: metric(every(sec), count(5)), blocking: true, phases: "SSSS", want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning,
		},
		"explicit count reached": {
			metric: metric(every(sec), count(2)), phases: "SS", want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful,
		},
		"background measures on": {
			metric: metric(every(sec)), phases: "SSSSSSSSSSSS", want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning,
			wantCounts: &counters{count: 12, successful: 12},
		},
		"background without an interval takes one": {
			metric: metric(), phases: "S", want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful,
		},
		"errors are not measurements": {
			metric: metric(), blocking: true, phases: "E", want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning,
			wantCounts: &counters{errors: 1, consecutive: 1},
		},
		"a value after an error counts": {
			metric: metric(), blocking: true, phases: "ES", want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful,
			wantCounts: &counters{count: 1, successful: 1, errors: 1},
		},

		// failureLimit.
		"first failure fails with the default limit": {
			metric: metric(every(sec)), blocking: true, phases: "SF", want: v1alpha1.AnalysisFailed, wantRun: v1alpha1.AnalysisFailed,
			wantInMsg: "1 of 2 measurements failed, more than failureLimit 0; last: F",
		},
		"failures up to the limit are tolerated": {
			metric: metric(every(sec), failureLimit(1)), blocking: true, phases: "FS", want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning,
		},
		"failures above the limit fail": {
			metric: metric(every(sec), failureLimit(1)), blocking: true, phases: "FSF", want: v1alpha1.AnalysisFailed, wantRun: v1alpha1.AnalysisFailed,
		},
		"tolerated failures do not stop success at the count": {
			metric: metric(every(sec), failureLimit(1)), blocking: true, phases: "SFS", want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful,
			wantInMsg: "2 of 3 measurements successful",
		},

		// inconclusiveLimit.
		"first inconclusive with the default limit": {
			metric: metric(every(sec)), blocking: true, phases: "I", want: v1alpha1.AnalysisInconclusive, wantRun: v1alpha1.AnalysisInconclusive,
			wantInMsg: "more than inconclusiveLimit 0",
		},
		"inconclusive up to the limit": {
			metric: metric(every(sec), inconclusiveLimit(2)), blocking: true, phases: "II", want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning,
		},
		"tolerated inconclusive measurements count (Argo)": {
			metric: metric(every(sec), inconclusiveLimit(2)), blocking: true, phases: "IIS", want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful,
		},
		"inconclusive above the limit, later": {
			metric: metric(every(sec), count(5), inconclusiveLimit(2)), phases: "IISI", want: v1alpha1.AnalysisInconclusive, wantRun: v1alpha1.AnalysisInconclusive,
		},
		"failure beats inconclusive": {
			metric: metric(every(sec)), blocking: true, phases: "FI", want: v1alpha1.AnalysisFailed, wantRun: v1alpha1.AnalysisFailed,
		},

		// consecutiveErrorLimit.
		"errors up to the default limit": {
			metric: metric(every(sec)), blocking: true, phases: "EEEE", want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning,
		},
		"errors above the default limit": {
			metric: metric(every(sec)), blocking: true, phases: "EEEEE", want: v1alpha1.AnalysisError, wantRun: v1alpha1.AnalysisError,
			wantInMsg: "5 consecutive errors, more than consecutiveErrorLimit 4",
		},
		"errors above a set limit": {
			metric: metric(every(sec), errorLimit(1)), blocking: true, phases: "EE", want: v1alpha1.AnalysisError, wantRun: v1alpha1.AnalysisError,
		},
		"a limit of 0 errs at the first error": {
			metric: metric(every(sec), errorLimit(0)), blocking: true, phases: "E", want: v1alpha1.AnalysisError, wantRun: v1alpha1.AnalysisError,
		},
		"a value resets consecutive errors": {
			metric: metric(every(sec), errorLimit(2)), blocking: true, phases: "EESEE", want: v1alpha1.AnalysisRunning, wantRun: v1alpha1.AnalysisRunning,
			wantCounts: &counters{count: 1, successful: 1, errors: 4, consecutive: 2},
		},

		// terminate.
		"terminated before any measurement": {
			metric: metric(every(sec)), blocking: true, terminate: true, want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful,
		},
		"terminated background run": {
			metric: metric(every(sec)), terminate: true, phases: "SSF", want: v1alpha1.AnalysisFailed, wantRun: v1alpha1.AnalysisFailed,
		},
		"terminated with tolerated failures": {
			metric: metric(every(sec), failureLimit(3)), terminate: true, phases: "SSF", want: v1alpha1.AnalysisSuccessful, wantRun: v1alpha1.AnalysisSuccessful,
			wantInMsg: "stopped after 3 measurements, 2 successful",
		},
		"terminated while inconclusive": {
			metric: metric(every(sec)), terminate: true, phases: "I", want: v1alpha1.AnalysisInconclusive, wantRun: v1alpha1.AnalysisInconclusive,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{tc.metric}, Blocking: tc.blocking, Terminate: tc.terminate}
			status := v1alpha1.AnalysisRunStatus{MetricResults: []v1alpha1.MetricResult{{Name: "m", Measurements: measurements(tc.phases)}}}
			got := Assess(spec, status, t0)
			r := got.MetricResults[0]
			if r.Phase != tc.want || got.Phase != tc.wantRun {
				t.Fatalf("metric %s (%s), run %s (%s); want metric %s, run %s", r.Phase, r.Message, got.Phase, got.Message, tc.want, tc.wantRun)
			}
			if tc.wantCounts != nil && countersOf(r) != *tc.wantCounts {
				t.Errorf("counters %+v, want %+v", countersOf(r), *tc.wantCounts)
			}
			if !strings.Contains(r.Message, tc.wantInMsg) {
				t.Errorf("metric message %q does not contain %q", r.Message, tc.wantInMsg)
			}
			if tc.wantRun.Completed() && tc.wantRun != v1alpha1.AnalysisSuccessful && !strings.Contains(got.Message, r.Message) {
				t.Errorf("run message %q does not tell the metric's %q", got.Message, r.Message)
			}
			if _, more := NextMeasurement(tc.metric, r, t0); more != (r.NextMeasurementAt != nil) || r.Phase.Completed() && more {
				t.Errorf("NextMeasurementAt %v, but NextMeasurement says %v", r.NextMeasurementAt, more)
			}
			again := Assess(spec, got, t0.Add(time.Hour))
			if !reflect.DeepEqual(again, got) {
				t.Errorf("assessing again changed the status:\n%+v\n%+v", got, again)
			}
		})
	}
}

func TestAssessRun(t *testing.T) {
	sec := time.Second
	a, b := metric(named("a"), every(sec)), metric(named("b"), every(sec))
	result := func(name, phases string, dryRun bool) v1alpha1.MetricResult {
		return v1alpha1.MetricResult{Name: name, Measurements: measurements(phases), DryRun: dryRun}
	}
	tests := map[string]struct {
		metrics   []v1alpha1.Metric
		results   []v1alpha1.MetricResult
		prior     v1alpha1.AnalysisPhase
		want      v1alpha1.AnalysisPhase
		wantEach  []v1alpha1.AnalysisPhase
		wantInMsg string
	}{
		"all successful": {
			metrics: []v1alpha1.Metric{a, b}, results: []v1alpha1.MetricResult{result("a", "SSS", false), result("b", "SSS", false)},
			want: v1alpha1.AnalysisSuccessful, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisSuccessful},
			wantInMsg: `metric "b": 3 of 3 measurements successful`,
		},
		"one running": {
			metrics: []v1alpha1.Metric{a, b}, results: []v1alpha1.MetricResult{result("a", "SSS", false), result("b", "S", false)},
			want: v1alpha1.AnalysisRunning, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisRunning},
		},
		"a result not started yet": {
			metrics: []v1alpha1.Metric{a, b}, results: []v1alpha1.MetricResult{result("a", "SSS", false)},
			want: v1alpha1.AnalysisRunning, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisPending},
		},
		"a failure ends the run, the other metric stops": {
			metrics: []v1alpha1.Metric{a, b}, results: []v1alpha1.MetricResult{result("a", "S", false), result("b", "F", false)},
			want: v1alpha1.AnalysisFailed, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisFailed},
			wantInMsg: `metric "b" failed: 1 of 1 measurements failed`,
		},
		"failed beats error": {
			metrics: []v1alpha1.Metric{a, b}, results: []v1alpha1.MetricResult{result("a", "EEEEE", false), result("b", "F", false)},
			want: v1alpha1.AnalysisFailed, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisError, v1alpha1.AnalysisFailed},
		},
		"error beats inconclusive": {
			metrics: []v1alpha1.Metric{a, b}, results: []v1alpha1.MetricResult{result("a", "I", false), result("b", "EEEEE", false)},
			want: v1alpha1.AnalysisError, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisInconclusive, v1alpha1.AnalysisError},
		},
		"inconclusive beats running": {
			metrics: []v1alpha1.Metric{a, b}, results: []v1alpha1.MetricResult{result("a", "I", false), result("b", "S", false)},
			want: v1alpha1.AnalysisInconclusive, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisInconclusive, v1alpha1.AnalysisSuccessful},
		},
		"a dry-run failure does not count": {
			metrics: []v1alpha1.Metric{a, b}, results: []v1alpha1.MetricResult{result("a", "SSS", false), result("b", "F", true)},
			want: v1alpha1.AnalysisSuccessful, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisFailed},
			wantInMsg: `dry-run metric "b" failed (not counted)`,
		},
		"a dry-run metric still measuring keeps the run running": {
			metrics: []v1alpha1.Metric{a, b}, results: []v1alpha1.MetricResult{result("a", "SSS", false), result("b", "S", true)},
			want: v1alpha1.AnalysisRunning, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisRunning},
		},
		"a verdict is final": {
			metrics: []v1alpha1.Metric{a}, results: []v1alpha1.MetricResult{{Name: "a", Phase: v1alpha1.AnalysisFailed, Measurements: measurements("SSS")}},
			prior: v1alpha1.AnalysisFailed, want: v1alpha1.AnalysisFailed, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisFailed},
		},
		"a metric verdict is final": {
			metrics: []v1alpha1.Metric{a}, results: []v1alpha1.MetricResult{{Name: "a", Phase: v1alpha1.AnalysisSuccessful, Measurements: measurements("FFF")}},
			want: v1alpha1.AnalysisSuccessful, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisSuccessful},
		},
		"no metrics is an error": {want: v1alpha1.AnalysisError, wantInMsg: "no metrics"},
		"results of unknown metrics are dropped": {
			metrics: []v1alpha1.Metric{a}, results: []v1alpha1.MetricResult{result("zzz", "F", false)},
			want: v1alpha1.AnalysisRunning, wantEach: []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPending},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := v1alpha1.AnalysisRunSpec{Metrics: tc.metrics, Blocking: true}
			got := Assess(spec, v1alpha1.AnalysisRunStatus{Phase: tc.prior, MetricResults: tc.results}, t0)
			if got.Phase != tc.want {
				t.Fatalf("run %s (%s), want %s", got.Phase, got.Message, tc.want)
			}
			var each []v1alpha1.AnalysisPhase
			for _, r := range got.MetricResults {
				each = append(each, r.Phase)
			}
			if !reflect.DeepEqual(each, tc.wantEach) {
				t.Errorf("metric phases %v, want %v", each, tc.wantEach)
			}
			if !strings.Contains(got.Message, tc.wantInMsg) {
				t.Errorf("run message %q does not contain %q", got.Message, tc.wantInMsg)
			}
		})
	}
}

func TestAssessKeepsTheLastMeasurements(t *testing.T) {
	spec := v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{metric(every(time.Second), failureLimit(100))}}
	status := v1alpha1.AnalysisRunStatus{MetricResults: []v1alpha1.MetricResult{{Name: "m", Measurements: measurements("SSSSSFFFFFFF")}}}
	in := append([]v1alpha1.Measurement(nil), status.MetricResults[0].Measurements...)
	got := Assess(spec, status, t0)
	r := got.MetricResults[0]
	if want := (counters{count: 12, successful: 5, failed: 7}); countersOf(r) != want {
		t.Fatalf("counters %+v, want %+v", countersOf(r), want)
	}
	if !reflect.DeepEqual(r.Measurements, in[2:]) {
		t.Fatalf("kept %d measurements from %v, want the last %d", len(r.Measurements), r.Measurements[0].StartedAt, MaxMeasurements)
	}
	if !reflect.DeepEqual(status.MetricResults[0].Measurements, in) {
		t.Error("Assess modified its argument")
	}
	// Two more: counted once, and the oldest two dropped.
	r.Measurements = append(r.Measurements, measurements("SSSSSFFFFFFFSS")[12:]...)
	got.MetricResults[0] = r
	got = Assess(spec, got, t0)
	if want := (counters{count: 14, successful: 7, failed: 7}); countersOf(got.MetricResults[0]) != want {
		t.Errorf("counters %+v, want %+v", countersOf(got.MetricResults[0]), want)
	}
	if n := len(got.MetricResults[0].Measurements); n != MaxMeasurements {
		t.Errorf("kept %d measurements, want %d", n, MaxMeasurements)
	}
}

func TestAssessStartsAndSchedules(t *testing.T) {
	m := metric(every(5*time.Second), delay(time.Second))
	got := Assess(v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}, Blocking: true}, v1alpha1.AnalysisRunStatus{}, t0)
	if got.StartedAt == nil || !got.StartedAt.Time.Equal(t0) {
		t.Fatalf("StartedAt = %v, want %v", got.StartedAt, t0)
	}
	r := got.MetricResults[0]
	if r.Name != "m" || r.Phase != v1alpha1.AnalysisPending {
		t.Fatalf("metric %q %s, want m Pending", r.Name, r.Phase)
	}
	if r.NextMeasurementAt == nil || !r.NextMeasurementAt.Time.Equal(t0.Add(6*time.Second)) {
		t.Errorf("NextMeasurementAt = %v, want t0+6s", r.NextMeasurementAt)
	}
}
