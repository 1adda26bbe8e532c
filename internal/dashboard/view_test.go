package dashboard

import (
	"reflect"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/run"
	"fledge.dev/fledge/internal/runner/store"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func i32(v int32) *int32 { return &v }

func canary(step, weight int32, stable, canaryRev string) *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
		{SetWeight: i32(20)}, {Pause: &v1alpha1.RolloutPause{}}, {SetWeight: i32(60)},
	}}
	ro.Status = v1alpha1.RolloutStatus{Phase: v1alpha1.PhasePaused, CurrentStepIndex: step, CanaryWeight: weight, StableRevision: stable, CanaryRevision: canaryRev}
	return ro
}

func TestSteps(t *testing.T) {
	tests := map[string]struct {
		current int
		want    []string
	}{
		"first":    {current: 0, want: []string{"current", "pending", "pending"}},
		"middle":   {current: 1, want: []string{"done", "current", "pending"}},
		"all done": {current: 3, want: []string{"done", "done", "done"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, s := range steps(canary(0, 0, "1", "2").Spec.Strategy.Canary.Steps, tt.current) {
				got = append(got, s.State)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("states %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	s := summarize(canary(1, 20, "1", "2"))
	if s.Step != 1 || s.Steps != 3 || s.CanaryWeight != 20 || s.Stable != "1" || s.Canary != "2" || s.Phase != "Paused" || s.Strategy != "canary" {
		t.Errorf("summary %+v", s)
	}
	bg := &v1alpha1.Rollout{}
	bg.Spec.Strategy.BlueGreen = &v1alpha1.BlueGreenStrategy{}
	if s := summarize(bg); s.Strategy != "blueGreen" || s.Phase != "Pending" {
		t.Errorf("blue-green summary %+v", s)
	}
}

func TestMarkerKind(t *testing.T) {
	tests := map[string]struct {
		reason, message, want string
	}{
		"weight":                  {"WeightChanged", "canary weight 20% -> 60%", "weight"},
		"user pause":              {"Paused", "paused by user", "pause"},
		"verdict":                 {"AnalysisSuccessful", "analysis a: Successful", "analysis"},
		"failed verdict":          {"AnalysisFailed", "analysis a: Failed metric x", "analysis"},
		"abort by failed verdict": {"AnalysisFailed", "rollout aborted: analysis a failed: x", "abort"},
		"abort by user":           {"Aborted", "rollout aborted: aborted by user", "abort"},
		"promote":                 {"Promoted", "revision 2 is stable", "promote"},
		"promote full":            {"PromotedFull", "promote --full", "promote"},
		"start":                   {"RolloutStarted", "releasing revision 2", "release"},
		"unknown":                 {"Frobbed", "", "other"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := markerKind(store.Event{Reason: tt.reason, Message: tt.message}); got != tt.want {
				t.Errorf("kind %q, want %q", got, tt.want)
			}
		})
	}
}

func TestActors(t *testing.T) {
	var a actors
	t0 := time.Now()
	a.record("web", t0, t0.Add(time.Second))
	a.record("api", t0.Add(5*time.Second), t0.Add(6*time.Second))
	who := a.who("web")
	tests := map[string]struct {
		e    store.Event
		want string
	}{
		"engine":                      {store.Event{Time: t0, Actor: "fledge"}, "fledge"},
		"no actor recorded":           {store.Event{Time: t0}, "fledge"},
		"user, in a dashboard window": {store.Event{Time: t0.Add(500 * time.Millisecond).Round(0), Actor: "user"}, "dashboard"},
		"user, outside any window":    {store.Event{Time: t0.Add(3 * time.Second), Actor: "user"}, "cli"},
		"user, another rollout's":     {store.Event{Time: t0.Add(5500 * time.Millisecond), Actor: "user"}, "cli"},
		"a named actor":               {store.Event{Time: t0, Actor: "webhook"}, "webhook"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := who(tt.e); got != tt.want {
				t.Errorf("who %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	st := canary(1, 20, "1", "2").Status
	s := split(st, map[string]uint64{"1": 780, "2": 200, "0": 20}, 10*time.Second)
	wantApplied := []Share{{Revision: "1", Role: "stable", Percent: 80}, {Revision: "2", Role: "canary", Percent: 20}}
	if !reflect.DeepEqual(s.Applied, wantApplied) {
		t.Errorf("applied %+v", s.Applied)
	}
	wantObserved := []Share{
		{Revision: "1", Role: "stable", Percent: 78, Requests: 780},
		{Revision: "2", Role: "canary", Percent: 20, Requests: 200},
		{Revision: "0", Role: "previous", Percent: 2, Requests: 20},
	}
	if !reflect.DeepEqual(s.Observed, wantObserved) || s.ObservedTotal != 1000 || s.WindowSeconds != 10 {
		t.Errorf("observed %+v total %d", s.Observed, s.ObservedTotal)
	}
	if s := split(st, nil, time.Second); s.ObservedTotal != 0 || s.Observed[1].Percent != 0 {
		t.Errorf("no traffic: %+v", s)
	}
}

func TestRunViews(t *testing.T) {
	at := func(s int) *metav1.Time { t := metav1.NewTime(time.Unix(int64(1000+s), 0)); return &t }
	metric := v1alpha1.Metric{
		Name: "success-rate", SuccessCondition: "result >= 0.99",
		Provider: v1alpha1.MetricProvider{Builtin: &v1alpha1.BuiltinMetric{SuccessRate: &struct{}{}, Route: "POST /login"}},
	}
	var ms []v1alpha1.Measurement
	for i := range maxMeasurements + 5 {
		ms = append(ms, v1alpha1.Measurement{Phase: v1alpha1.AnalysisSuccessful, Value: "1", FinishedAt: at(i)})
	}
	ms[len(ms)-1] = v1alpha1.Measurement{Phase: v1alpha1.AnalysisFailed, Value: "0.8", FinishedAt: at(99)}
	older := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: "old", Labels: map[string]string{run.LabelRevision: "2"}},
		Spec:       v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{metric}, Blocking: true},
		Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisFailed, StartedAt: at(0), MetricResults: []v1alpha1.MetricResult{
			{Name: "success-rate", Phase: v1alpha1.AnalysisFailed, Measurements: ms, Failed: 1},
		}},
	}
	newer := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "new"}, Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{metric}}, Status: v1alpha1.AnalysisRunStatus{StartedAt: at(50)}}
	notStarted := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "pending"}}

	views := runViews([]*v1alpha1.AnalysisRun{older, newer, notStarted})
	var names []string
	for _, v := range views {
		names = append(names, v.Name)
	}
	if !reflect.DeepEqual(names, []string{"pending", "new", "old"}) {
		t.Fatalf("order %v: want not started, then newest first", names)
	}
	old := views[2]
	m := old.Metrics[0]
	if old.Revision != "2" || !old.Blocking || old.Phase != "Failed" || m.SuccessCondition != "result >= 0.99" || m.Failed != 1 {
		t.Errorf("run view %+v metric %+v", old, m)
	}
	if m.Provider != "builtin successRate of the canary on POST /login" {
		t.Errorf("provider %q", m.Provider)
	}
	if len(m.Measurements) != maxMeasurements || m.Measurements[len(m.Measurements)-1].Value != "0.8" {
		t.Errorf("want the last %d measurements, got %d ending %+v", maxMeasurements, len(m.Measurements), m.Measurements[len(m.Measurements)-1])
	}
	if views[1].Phase != "Pending" || views[1].Metrics[0].Phase != "Pending" {
		t.Errorf("a run without results is Pending: %+v", views[1])
	}
}

func TestDetail(t *testing.T) {
	ro := canary(1, 20, "1", "2")
	ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseCanaryStep}}
	events := []store.Event{{Time: time.Unix(10, 0), Reason: "WeightChanged", Message: "canary weight 0% -> 20%", Type: "Normal", Actor: "fledge"}}
	d := detail(ro, events, nil, (&actors{}).who("web"), map[string]uint64{"1": 8, "2": 2}, 10*time.Second)
	if d.StepList[1].State != "current" || !d.Paused || d.PauseReasons[0] != "CanaryPauseStep" {
		t.Errorf("detail %+v", d)
	}
	if len(d.Markers) != 1 || d.Markers[0].Kind != "weight" || d.Markers[0].Who != "fledge" {
		t.Errorf("markers %+v", d.Markers)
	}
	if !reflect.DeepEqual(d.Revisions, []RevisionRole{{"1", "stable"}, {"2", "canary"}}) {
		t.Errorf("revisions %+v", d.Revisions)
	}
	if d.Analysis == nil || d.Markers == nil || d.StepList == nil {
		t.Error("lists must be [] in JSON, not null")
	}
}
