package run

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
)

func TestRunSuccessful(t *testing.T) {
	f := newFixture(t)
	f.load(t, "2", 0)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	if obs := f.m.Observations()["web-r2-step-1"]; obs.Phase != v1alpha1.AnalysisRunning {
		t.Fatalf("a started run is %s (%s), want Running", obs.Phase, obs.Message)
	}
	obs := f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisSuccessful)
	if !strings.Contains(obs.Message, "3 of 3 measurements successful") {
		t.Errorf("message %q", obs.Message)
	}
	saved := f.store.get(t, "web", "web-r2-step-1")
	r := saved.Status.MetricResults[0]
	if saved.Status.Phase != v1alpha1.AnalysisSuccessful || r.Count != 3 || len(r.Measurements) != 3 || r.NextMeasurementAt != nil {
		t.Fatalf("saved run %s with %d measurements (count %d, next %v), want Successful with 3 and none next",
			saved.Status.Phase, len(r.Measurements), r.Count, r.NextMeasurementAt)
	}
	if saved.Labels[LabelRevision] != "2" || saved.Labels[LabelStableRevision] != "1" || saved.Labels[LabelRollout] != "web" {
		t.Errorf("labels %v", saved.Labels)
	}
	// Each measurement covers the interval that just ended: the first one
	// an interval after the start, each next one an interval later.
	live := f.m.Runs()[0]
	prev := live.Status.StartedAt.Time
	for i, ms := range live.Status.MetricResults[0].Measurements {
		if gap := ms.StartedAt.Sub(prev); gap < 100*time.Millisecond {
			t.Errorf("measurement %d taken %v after the previous one (or the start), want at least the interval", i, gap)
		}
		prev = ms.StartedAt.Time
	}
	for i, ms := range r.Measurements {
		if ms.Phase != v1alpha1.AnalysisSuccessful || ms.Value != "1" || !strings.Contains(ms.Message, "canary revision 2") {
			t.Errorf("measurement %d: %s %q %q", i, ms.Phase, ms.Value, ms.Message)
		}
	}
}

func TestRunFailed(t *testing.T) {
	f := newFixture(t, func(tm *v1alpha1.NamedAnalysisTemplate) {
		one := int32(1)
		tm.Metrics[0].FailureLimit = &one
	})
	f.load(t, "2", 5) // 80% success
	f.load(t, "1", 0) // stable is fine, and not judged
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	obs := f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisFailed)
	for _, want := range []string{`metric "success-rate" failed`, "2 of 2 measurements failed, more than failureLimit 1", "; last: 0.", "successCondition result >= 0.95 is not met"} {
		if !strings.Contains(obs.Message, want) {
			t.Errorf("message %q does not contain %q", obs.Message, want)
		}
	}
}

func TestRunInconclusiveWithoutData(t *testing.T) {
	f := newFixture(t)
	f.load(t, "1", 0) // only stable has traffic
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	obs := f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisInconclusive)
	if !regexp.MustCompile(`no requests to canary revision 2 in the last 1\d\dms`).MatchString(obs.Message) {
		t.Errorf("message %q", obs.Message)
	}
}

func TestRunMeasuresStable(t *testing.T) {
	f := newFixture(t, func(tm *v1alpha1.NamedAnalysisTemplate) {
		tm.Metrics[0].Provider.Builtin.Version = "stable"
	})
	f.load(t, "1", 0)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisSuccessful)
}

func TestTerminate(t *testing.T) {
	f := newFixture(t)
	f.load(t, "2", 0)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-background-1", false)}, env)
	f.waitMeasured(t, "web-r2-background-1", 1)
	if obs := f.m.Observations()["web-r2-background-1"]; obs.Phase != v1alpha1.AnalysisRunning {
		t.Fatalf("a background run is %s, want Running until terminated", obs.Phase)
	}

	f.m.Ensure(nil, env)
	obs := f.m.Observations()["web-r2-background-1"]
	if obs.Phase != v1alpha1.AnalysisSuccessful || !strings.Contains(obs.Message, "terminated before a verdict") {
		t.Fatalf("terminated run: %s (%s), want Successful, terminated", obs.Phase, obs.Message)
	}
	saved := f.store.get(t, "web", "web-r2-background-1")
	if !saved.Spec.Terminate || saved.Status.Phase != v1alpha1.AnalysisSuccessful || saved.Status.MetricResults[0].NextMeasurementAt != nil {
		t.Errorf("saved: terminate %v, phase %s, next %v", saved.Spec.Terminate, saved.Status.Phase, saved.Status.MetricResults[0].NextMeasurementAt)
	}

	// Listed again, it starts over: being stopped was no verdict.
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-background-1", false)}, env)
	runs := f.m.Runs()
	if len(runs) != 1 || runs[0].Spec.Terminate || runs[0].Status.Phase != v1alpha1.AnalysisRunning {
		t.Fatalf("listed again: %d runs, terminate %v, phase %s; want one running afresh", len(runs), runs[0].Spec.Terminate, runs[0].Status.Phase)
	}
}

func TestDecidedRunIsNotTerminated(t *testing.T) {
	f := newFixture(t)
	f.load(t, "1", 0)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisInconclusive)
	f.m.Ensure(nil, env)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	if obs := f.m.Observations()["web-r2-step-1"]; obs.Phase != v1alpha1.AnalysisInconclusive {
		t.Errorf("a decided run unlisted and listed again is %s, want its verdict Inconclusive", obs.Phase)
	}
}

func TestRestore(t *testing.T) {
	f := newFixture(t, func(tm *v1alpha1.NamedAnalysisTemplate) {
		five := int32(5)
		tm.Metrics[0].Count = &five
	})
	f.load(t, "2", 0)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	f.waitMeasured(t, "web-r2-step-1", 2)
	f.stop()
	before := f.store.get(t, "web", "web-r2-step-1")
	taken := before.Status.MetricResults[0].Count
	if before.Status.Phase != v1alpha1.AnalysisRunning || taken < 2 || taken >= 5 {
		t.Fatalf("saved before the restart: %s with %d measurements, want Running with 2 to 4", before.Status.Phase, taken)
	}

	// A new manager, as after a daemon restart.
	f.m = f.manager(v1alpha1.NamedAnalysisTemplate{}) // templates are not needed to resume
	f.m.Restore([]*v1alpha1.AnalysisRun{before})
	f.run(t, f.m)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisSuccessful)
	after := f.store.get(t, "web", "web-r2-step-1")
	r := after.Status.MetricResults[0]
	if r.Count != 5 || len(r.Measurements) != 5 {
		t.Fatalf("after the restart: count %d, %d measurements; want 5 in all", r.Count, len(r.Measurements))
	}
	if !r.Measurements[0].StartedAt.Equal(before.Status.MetricResults[0].Measurements[0].StartedAt) {
		t.Error("the measurements taken before the restart were not kept")
	}
	if !after.Status.StartedAt.Equal(before.Status.StartedAt) {
		t.Error("the restored run started again")
	}
}

func TestRestoreUnlistedIsTerminated(t *testing.T) {
	f := newFixture(t)
	f.load(t, "2", 0)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-background-1", false)}, env)
	f.waitMeasured(t, "web-r2-background-1", 1)
	f.stop()
	saved := f.store.get(t, "web", "web-r2-background-1")

	f.m = f.manager(v1alpha1.NamedAnalysisTemplate{})
	f.m.Restore([]*v1alpha1.AnalysisRun{saved})
	if obs := f.m.Observations()["web-r2-background-1"]; obs.Phase != v1alpha1.AnalysisRunning {
		t.Fatalf("restored: %s, want Running", obs.Phase)
	}
	f.m.Ensure(nil, env)
	if obs := f.m.Observations()["web-r2-background-1"]; obs.Phase != v1alpha1.AnalysisSuccessful {
		t.Errorf("restored then not listed: %s, want terminated Successful", obs.Phase)
	}
}

func TestRunThatCannotStart(t *testing.T) {
	tests := map[string]struct {
		opt  templateOption
		spec func(*rollout.RunSpec)
		want string
	}{
		"unknown template": {
			spec: func(s *rollout.RunSpec) { s.Analysis.Templates[0].TemplateName = "latency" },
			want: `no analysis template "latency" in the rollout's analysisTemplates (have "rate")`,
		},
		"argument without a value": {
			opt:  func(tm *v1alpha1.NamedAnalysisTemplate) { tm.Args = []v1alpha1.Argument{{Name: "route"}} },
			want: `template "rate": argument "route" has no value`,
		},
		"unknown provider": {
			opt:  func(tm *v1alpha1.NamedAnalysisTemplate) { tm.Metrics[0].Provider.Builtin = nil },
			want: `metric "success-rate": exactly one provider must be set`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var opts []templateOption
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			f := newFixture(t, opts...)
			s := spec("web-r2-step-1", true)
			if tc.spec != nil {
				tc.spec(&s)
			}
			f.m.Ensure([]rollout.RunSpec{s}, env)
			obs := f.m.Observations()["web-r2-step-1"]
			if obs.Phase != v1alpha1.AnalysisError || !strings.Contains(obs.Message, tc.want) {
				t.Errorf("run %s (%s), want Error with %q", obs.Phase, obs.Message, tc.want)
			}
			if saved := f.store.get(t, "web", "web-r2-step-1"); saved.Status.Phase != v1alpha1.AnalysisError {
				t.Errorf("saved %s, want Error", saved.Status.Phase)
			}
		})
	}
}

func TestArgsReachTheProvider(t *testing.T) {
	f := newFixture(t, func(tm *v1alpha1.NamedAnalysisTemplate) {
		def := "GET /nothing"
		tm.Args = []v1alpha1.Argument{{Name: "route", Value: &def}}
		tm.Metrics[0].Provider.Builtin.Route = "{{ args.route }}"
	})
	f.load(t, "2", 0)
	s := spec("web-r2-step-1", true)
	s.Analysis.Args = []v1alpha1.AnalysisRunArgument{{Name: "route", Value: "/"}}
	f.m.Ensure([]rollout.RunSpec{s}, env)
	f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisSuccessful)
	r := f.m.Runs()[0]
	if got := r.Spec.Metrics[0].Provider.Builtin.Route; got != "/" {
		t.Errorf("route %q, want the run's argument /", got)
	}
	if len(r.Spec.Args) != 1 || r.Spec.Args[0] != (v1alpha1.AnalysisRunArgument{Name: "route", Value: "/"}) {
		t.Errorf("args %v", r.Spec.Args)
	}
	if ms := r.Status.MetricResults[0].Measurements[0]; !strings.Contains(ms.Message, "on route /") {
		t.Errorf("measurement message %q does not name the route", ms.Message)
	}
}

func TestRemembersTheLastUnlistedRuns(t *testing.T) {
	f := newFixture(t)
	var names []string
	for i := range KeepUnlisted + 5 {
		name := "web-r2-step-" + string(rune('a'+i))
		names = append(names, name)
		f.m.Ensure([]rollout.RunSpec{spec(name, true)}, env)
	}
	f.m.Ensure([]rollout.RunSpec{spec("web-r3-step-1", true)}, env)
	obs := f.m.Observations()
	if len(obs) != KeepUnlisted+1 {
		t.Fatalf("remembers %d runs, want %d unlisted and the listed one", len(obs), KeepUnlisted)
	}
	for _, name := range names[:5] {
		if _, ok := obs[name]; ok {
			t.Errorf("remembers %s, one of the oldest", name)
		}
	}
	for _, name := range append(names[5:], "web-r3-step-1") {
		if _, ok := obs[name]; !ok {
			t.Errorf("forgot %s", name)
		}
	}
}

func TestRunsAreCopies(t *testing.T) {
	f := newFixture(t)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	runs := f.m.Runs()
	runs[0].Status.Phase = v1alpha1.AnalysisFailed
	runs[0].Labels[LabelRevision] = "9"
	runs[0].Status.MetricResults[0].Name = "x"
	again := f.m.Runs()[0]
	if again.Status.Phase != v1alpha1.AnalysisRunning || again.Labels[LabelRevision] != "2" || again.Status.MetricResults[0].Name != "success-rate" {
		t.Error("changing a run Runs returned changed the manager's")
	}
}

func TestStartTwice(t *testing.T) {
	m := NewManager(Config{Rollout: "web"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Start(ctx); err != nil {
		t.Fatalf("Start: %v, want nil when ctx ends", err)
	}
	if err := m.Start(ctx); err == nil {
		t.Error("a second Start: want an error")
	}
}

// After a restart the builtin counters start again at zero: an overdue
// measurement must not judge the downtime as a window without data (which
// would pause the rollout); the first window is a whole interval after the
// run resumed.
func TestRestoreSkipsTheDowntime(t *testing.T) {
	f := newFixture(t, func(tm *v1alpha1.NamedAnalysisTemplate) {
		tm.Metrics[0].Interval = &v1alpha1.Duration{Duration: time.Second}
		two := int32(2)
		tm.Metrics[0].Count = &two
	})
	f.load(t, "2", 0)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	f.waitMeasured(t, "web-r2-step-1", 1)
	f.stop()
	before := f.store.get(t, "web", "web-r2-step-1")
	taken := len(before.Status.MetricResults[0].Measurements)
	// The daemon was down for an hour: the next measurement is long overdue.
	hourAgo := func(tm *metav1.Time) {
		if tm != nil {
			*tm = metav1.NewTime(tm.Add(-time.Hour))
		}
	}
	hourAgo(before.Status.StartedAt)
	for i := range before.Status.MetricResults[0].Measurements {
		hourAgo(before.Status.MetricResults[0].Measurements[i].StartedAt)
		hourAgo(before.Status.MetricResults[0].Measurements[i].FinishedAt)
	}
	hourAgo(before.Status.MetricResults[0].NextMeasurementAt)

	// A new process: nothing counted yet. The test's traffic moves to the
	// new counters at once (load follows f.live), so a measurement taken as
	// soon as the run resumes would judge a window of almost no requests.
	f.setRegistry(metrics.New())
	f.m = f.manager(v1alpha1.NamedAnalysisTemplate{})
	resumed := time.Now()
	f.m.Restore([]*v1alpha1.AnalysisRun{before})
	f.run(t, f.m)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisSuccessful)
	r := f.store.get(t, "web", "web-r2-step-1").Status.MetricResults[0]
	if r.Inconclusive != 0 {
		t.Fatalf("%d inconclusive measurements after the restart, want none: %+v", r.Inconclusive, r.Measurements)
	}
	// The manager's own copy keeps the times to the nanosecond (the store's
	// JSON keeps seconds): the first measurement after the restart waits a
	// whole interval from the resumption, not from the overdue schedule.
	for _, run := range f.m.Runs() {
		if run.Name != "web-r2-step-1" {
			continue
		}
		first := run.Status.MetricResults[0].Measurements[taken]
		if waited := first.StartedAt.Time.Sub(resumed); waited < time.Second {
			t.Errorf("the first measurement after the restart was taken %v after the run resumed, want a whole interval (1s)", waited)
		}
		return
	}
	t.Fatal("the manager no longer lists run web-r2-step-1")
}
