package analysis

import (
	"reflect"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// FuzzAssess checks Assess's invariants over any sequence of measurements
// fed a few at a time: counters add up, at most MaxMeasurements are kept,
// a verdict never changes, a decided metric schedules nothing, and
// assessing again changes nothing.
func FuzzAssess(f *testing.F) {
	f.Add("SSFIE", uint8(1), uint8(0), uint8(4), uint8(3), true, false)
	f.Add("EEEEEEEEEEEESSSSSSSSSSSSFF", uint8(2), uint8(3), uint8(1), uint8(0), false, true)
	f.Fuzz(func(t *testing.T, phases string, fl, il, el, batch uint8, blocking, terminate bool) {
		m := metric(every(time.Second), failureLimit(int32(fl%4)), inconclusiveLimit(int32(il%4)), errorLimit(int32(el%6)))
		spec := v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}, Blocking: blocking}
		all := measurements(phases)
		st := Assess(spec, v1alpha1.AnalysisRunStatus{}, t0)
		step := int(batch%4) + 1
		var fed int
		var verdict v1alpha1.AnalysisPhase
		for fed < len(all) {
			n := min(step, len(all)-fed)
			r := &st.MetricResults[0]
			r.Measurements = append(r.Measurements, all[fed:fed+n]...)
			fed += n
			if fed == len(all) {
				spec.Terminate = terminate
			}
			st = Assess(spec, st, t0)
			r = &st.MetricResults[0]
			if got := int(r.Count + r.Error); got != fed {
				t.Fatalf("after %d measurements the counters count %d", fed, got)
			}
			if r.Successful+r.Failed+r.Inconclusive != r.Count || r.ConsecutiveError > r.Error {
				t.Fatalf("counters do not add up: %+v", countersOf(*r))
			}
			if len(r.Measurements) > MaxMeasurements {
				t.Fatalf("kept %d measurements", len(r.Measurements))
			}
			if verdict != "" && st.Phase != verdict {
				t.Fatalf("verdict %s changed to %s", verdict, st.Phase)
			}
			if st.Phase.Completed() {
				verdict = st.Phase
			}
			if r.Phase.Completed() && r.NextMeasurementAt != nil {
				t.Fatalf("metric %s still schedules a measurement", r.Phase)
			}
			if again := Assess(spec, st, t0.Add(time.Minute)); !reflect.DeepEqual(again, st) {
				t.Fatal("assessing again changed the status")
			}
		}
		if terminate && len(all) > 0 && !st.Phase.Completed() {
			t.Fatalf("a terminated run is %s", st.Phase)
		}
	})
}
