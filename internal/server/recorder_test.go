package server

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner/store"
)

func named(names ...string) []*v1alpha1.Rollout {
	var rs []*v1alpha1.Rollout
	for _, n := range names {
		rs = append(rs, &v1alpha1.Rollout{ObjectMeta: objectMeta(n)})
	}
	return rs
}

func TestRecorderWrites(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := NewRecorder()
	r.Record("web", []store.Event{{Time: t0, Reason: "RolloutStarted"}, {Time: t0.Add(time.Second), Reason: "WeightChanged"}}, 3*time.Millisecond)
	r.Record("web", []store.Event{{Time: t0.Add(2 * time.Second), Reason: "WeightChanged"}}, 20*time.Second)
	r.Record("web", nil, 700*time.Microsecond)
	r.Record("gone", []store.Event{{Time: t0, Reason: "RolloutStarted"}}, time.Millisecond)
	stored := map[string][]store.Event{"web": {
		{Time: t0.Add(-time.Hour), Reason: "Applied"},        // older than the process: from the store
		{Time: t0.Add(-time.Hour), Reason: "WeightChanged"},  // the recorder's is newer
		{Time: t0.Add(time.Hour), Reason: "RolloutStarted"}}} // the store's is newer

	var buf bytes.Buffer
	r.write(&buf, named("web"), stored)
	text := buf.String()
	for _, want := range []string{
		`fledge_rollout_events_total{rollout="web",reason="RolloutStarted"} 1`,
		`fledge_rollout_events_total{rollout="web",reason="WeightChanged"} 2`,
		`fledge_rollout_event_timestamp_seconds{rollout="web",reason="Applied"} 1.6999964e+09`,
		`fledge_rollout_event_timestamp_seconds{rollout="web",reason="RolloutStarted"} 1.7000036e+09`,
		`fledge_rollout_event_timestamp_seconds{rollout="web",reason="WeightChanged"} 1.700000002e+09`,
		`fledge_rollout_decision_duration_seconds_bucket{rollout="web",le="0.001"} 1`,
		`fledge_rollout_decision_duration_seconds_bucket{rollout="web",le="0.005"} 2`,
		`fledge_rollout_decision_duration_seconds_bucket{rollout="web",le="10"} 2`,
		`fledge_rollout_decision_duration_seconds_bucket{rollout="web",le="+Inf"} 3`,
		`fledge_rollout_decision_duration_seconds_sum{rollout="web"} 20.0037`,
		`fledge_rollout_decision_duration_seconds_count{rollout="web"} 3`,
		"# TYPE fledge_rollout_events_total counter",
		"# TYPE fledge_rollout_event_timestamp_seconds gauge",
		"# TYPE fledge_rollout_decision_duration_seconds histogram",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "gone") {
		t.Errorf("a rollout that is no longer listed is still written:\n%s", text)
	}
	// Forgotten, not hidden: a rollout of that name created again starts
	// from nothing.
	buf.Reset()
	r.write(&buf, named("gone"), nil)
	if strings.Contains(buf.String(), `fledge_rollout_decision_duration_seconds_count{rollout="gone"}`) {
		t.Errorf("a deleted rollout's counts are kept:\n%s", buf.String())
	}
}

// Without a Recorder, /metrics still declares the families (empty) and
// the stored markers.
func TestNilRecorderWritesStoredMarkers(t *testing.T) {
	var r *Recorder
	r.Record("web", []store.Event{{Reason: "X"}}, time.Second)
	var buf bytes.Buffer
	r.write(&buf, named("web"), map[string][]store.Event{"web": {{Time: time.Unix(10, 0), Reason: "Applied"}}})
	text := buf.String()
	for _, want := range []string{
		"# TYPE fledge_rollout_events_total counter\n",
		`fledge_rollout_event_timestamp_seconds{rollout="web",reason="Applied"} 10` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "fledge_rollout_events_total{") {
		t.Errorf("counts without a recorder:\n%s", text)
	}
}
