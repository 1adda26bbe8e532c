package rollouts

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner/store"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func rollout(ns, name string) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func lacks(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("lacks %q:\n%s", w, text)
		}
	}
}

func TestRecorderWrites(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := NewRecorder()
	web := ID{Name: "web"}
	r.Record(web, []store.Event{{Time: t0, Reason: "RolloutStarted"}, {Time: t0.Add(time.Second), Reason: "WeightChanged"}}, 3*time.Millisecond)
	r.Record(web, []store.Event{{Time: t0.Add(2 * time.Second), Reason: "WeightChanged"}}, 20*time.Second)
	r.Record(web, nil, 700*time.Microsecond)
	r.Record(ID{Name: "gone"}, []store.Event{{Time: t0, Reason: "RolloutStarted"}}, time.Millisecond)
	stored := map[ID][]store.Event{web: {
		{Time: t0.Add(-time.Hour), Reason: "Applied"},        // older than the process: from the store
		{Time: t0.Add(-time.Hour), Reason: "WeightChanged"},  // the recorder's is newer
		{Time: t0.Add(time.Hour), Reason: "RolloutStarted"}}} // the store's is newer

	var buf bytes.Buffer
	r.Write(&buf, []*v1alpha1.Rollout{rollout("", "web")}, ByName, stored)
	text := buf.String()
	lacks(t, text,
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
	)
	if strings.Contains(text, "gone") {
		t.Errorf("a rollout that is no longer listed is still written:\n%s", text)
	}
	r.mu.Lock()
	_, kept := r.decisions[ID{Name: "gone"}]
	r.mu.Unlock()
	if kept {
		t.Error("a deleted rollout's counts are kept")
	}
}

// On Kubernetes two namespaces may each have a rollout "web": they are
// counted apart and named by namespace too.
func TestRecorderByNamespace(t *testing.T) {
	t0 := time.Unix(100, 0)
	r := NewRecorder()
	r.Record(ID{"prod", "web"}, []store.Event{{Time: t0, Reason: "Promoted"}}, time.Millisecond)
	r.Record(ID{"prod", "web"}, []store.Event{{Time: t0.Add(time.Second), Reason: "Promoted"}}, time.Millisecond)
	r.Record(ID{"test", "web"}, []store.Event{{Time: t0, Reason: "Aborted"}}, time.Second)
	var buf bytes.Buffer
	r.Write(&buf, []*v1alpha1.Rollout{rollout("prod", "web"), rollout("test", "web")}, ByNamespace, nil)
	text := buf.String()
	lacks(t, text,
		`fledge_rollout_events_total{namespace="prod",rollout="web",reason="Promoted"} 2`,
		`fledge_rollout_events_total{namespace="test",rollout="web",reason="Aborted"} 1`,
		`fledge_rollout_event_timestamp_seconds{namespace="prod",rollout="web",reason="Promoted"} 101`,
		`fledge_rollout_decision_duration_seconds_bucket{namespace="prod",rollout="web",le="0.001"} 2`,
		`fledge_rollout_decision_duration_seconds_bucket{namespace="test",rollout="web",le="1"} 1`,
		`fledge_rollout_decision_duration_seconds_count{namespace="test",rollout="web"} 1`,
	)
	if strings.Contains(text, "test\",rollout=\"web\",reason=\"Promoted") {
		t.Errorf("one namespace's events are counted in another's:\n%s", text)
	}
}

// Without a Recorder, the families are still declared (empty) and the
// stored markers written.
func TestNilRecorderWritesStoredMarkers(t *testing.T) {
	var r *Recorder
	r.Record(ID{Name: "web"}, []store.Event{{Reason: "X"}}, time.Second)
	var buf bytes.Buffer
	r.Write(&buf, []*v1alpha1.Rollout{rollout("", "web")}, ByName, map[ID][]store.Event{{Name: "web"}: {{Time: time.Unix(10, 0), Reason: "Applied"}}})
	text := buf.String()
	lacks(t, text,
		"# TYPE fledge_rollout_events_total counter",
		`fledge_rollout_event_timestamp_seconds{rollout="web",reason="Applied"} 10`,
	)
	if strings.Contains(text, "fledge_rollout_events_total{") {
		t.Errorf("counts without a recorder:\n%s", text)
	}
}
