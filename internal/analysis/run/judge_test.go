package run

import (
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
)

// withJudge replaces the test template's metric by a judge evaluated every
// 100ms, changed by f.
func withJudge(f func(*v1alpha1.Judge)) templateOption {
	return func(tm *v1alpha1.NamedAnalysisTemplate) {
		j := &v1alpha1.Judge{Interval: &v1alpha1.Duration{Duration: 100 * time.Millisecond}, Latency: &v1alpha1.JudgeLatency{Disabled: true}}
		if f != nil {
			f(j)
		}
		tm.Metrics, tm.Judge = nil, j
	}
}

// judgeResult is the latest result of a run's judge.
func (f *fixture) judgeResult(t *testing.T, name string) (v1alpha1.MetricResult, bool) {
	t.Helper()
	for _, r := range f.m.Runs() {
		if r.Name != name {
			continue
		}
		for _, res := range r.Status.MetricResults {
			if res.Name == "judge" {
				return res, true
			}
		}
	}
	return v1alpha1.MetricResult{}, false
}

// TestJudgeFailsABadCanary runs a background judge on a canary failing one
// request in five (stable none): the run fails on the judge's budget.
func TestJudgeFailsABadCanary(t *testing.T) {
	f := newFixture(t, withJudge(func(j *v1alpha1.Judge) { j.MaxCanaryFailures = 3 }))
	f.load(t, "1", 0)
	f.load(t, "2", 5)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-background-1", false)}, env)
	if obs := f.m.Observations()["web-r2-background-1"]; !obs.HoldWeight || obs.HoldReason != "judge: no window judged yet" || obs.InconclusivePolicy != v1alpha1.InconclusivePause {
		t.Errorf("before the first window: %+v, want the weight held, policy Pause", obs)
	}
	obs := f.waitPhase(t, "web-r2-background-1", v1alpha1.AnalysisFailed)
	if !strings.Contains(obs.Message, `judge "judge" failed: budget exhausted`) || obs.HoldWeight {
		t.Errorf("failed: %+v, want a budget exhausted message and no hold", obs)
	}
	r, _ := f.judgeResult(t, "web-r2-background-1")
	if j := r.Judge; j == nil || j.Verdict != v1alpha1.JudgeFail || j.Reason != "BudgetExhausted" || !j.Budget.Exhausted || j.Budget.Limit != 3 ||
		j.CanaryRequests == 0 || j.StableRequests == 0 || len(j.State) == 0 {
		t.Errorf("judge result %+v", j)
	}
	saved := f.store.get(t, "web", "web-r2-background-1")
	if saved.Status.Phase != v1alpha1.AnalysisFailed || saved.Status.MetricResults[0].Judge == nil {
		t.Errorf("saved: %s %+v", saved.Status.Phase, saved.Status.MetricResults)
	}
}

// TestJudgePassesAGoodCanary runs a judge in a blocking run on a canary as
// good as stable: it waits (holding the weight) for minRequests, then
// passes and the run ends Successful.
func TestJudgePassesAGoodCanary(t *testing.T) {
	f := newFixture(t, withJudge(func(j *v1alpha1.Judge) { n := int64(200); j.MinRequests = &n }))
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	// No traffic yet: the judge waits, and says why.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r, ok := f.judgeResult(t, "web-r2-step-1"); ok && r.Judge != nil {
			obs := f.m.Observations()["web-r2-step-1"]
			if r.Judge.Verdict != v1alpha1.JudgeWait || r.Judge.Reason != "NoData" || r.Phase != v1alpha1.AnalysisRunning ||
				!obs.HoldWeight || !strings.Contains(obs.Message, "wait: no data") {
				t.Fatalf("without traffic: %+v, observed %+v", r.Judge, obs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no evaluation within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.load(t, "1", 0)
	f.load(t, "2", 0)
	obs := f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisSuccessful)
	if obs.HoldWeight || !strings.Contains(obs.Message, "passed: within tolerance") {
		t.Errorf("passed: %+v", obs)
	}
	r, _ := f.judgeResult(t, "web-r2-step-1")
	if r.Judge.CanaryRequests < 200 || r.NextMeasurementAt != nil {
		t.Errorf("passed on %d canary requests, next evaluation %v", r.Judge.CanaryRequests, r.NextMeasurementAt)
	}
}

// TestJudgeResumesItsEvidence restarts the manager, with a new metrics
// registry as a restarted daemon has, and checks that the judge goes on
// from the evidence it saved: requests seen before the restart still
// count, and none is counted twice.
func TestJudgeResumesItsEvidence(t *testing.T) {
	f := newFixture(t, withJudge(func(j *v1alpha1.Judge) { j.MinRequests = new(int64(1 << 40)) }))
	for range 300 {
		f.reg.Observe(metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}, false, time.Millisecond)
	}
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-background-1", false)}, env)
	for range 30 {
		f.reg.Observe(metrics.Key{Rollout: "web", Revision: "2", Route: "GET /"}, false, time.Millisecond)
		f.reg.Observe(metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}, false, time.Millisecond)
	}
	before := f.waitJudged(t, "web-r2-background-1", func(j *v1alpha1.JudgeResult) bool { return j.CanaryRequests == 30 })
	f.stop()
	saved := f.store.get(t, "web", "web-r2-background-1")

	// A new daemon: new counters, starting at zero.
	f.setRegistry(metrics.New())
	f.m = f.manager(v1alpha1.NamedAnalysisTemplate{})
	restarted := time.Now()
	f.m.Restore([]*v1alpha1.AnalysisRun{saved})
	f.run(t, f.m)
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-background-1", false)}, env)
	for i := range 12 {
		f.reg.Observe(metrics.Key{Rollout: "web", Revision: "2", Route: "GET /"}, i == 0, time.Millisecond)
		f.reg.Observe(metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}, false, time.Millisecond)
	}
	seen := f.waitJudged(t, "web-r2-background-1", func(j *v1alpha1.JudgeResult) bool { return j.CanaryRequests >= 42 })
	after := f.waitJudged(t, "web-r2-background-1", func(j *v1alpha1.JudgeResult) bool { return j.Windows >= seen.Windows+2 })
	if after.CanaryRequests != 42 || after.Budget.CanaryFailures != 1 || after.Windows <= before.Windows {
		t.Errorf("after the restart: %d canary requests (%d failed) in %d windows; want 30 + 12 (1 failed) in more than %d",
			after.CanaryRequests, after.Budget.CanaryFailures, after.Windows, before.Windows)
	}
	r, _ := f.judgeResult(t, "web-r2-background-1")
	for _, ms := range r.Measurements {
		if s := ms.StartedAt.Time; s.After(restarted) && s.Before(restarted.Add(100*time.Millisecond)) {
			t.Errorf("an evaluation at restart%+v: the first window after a restart is a whole interval", s.Sub(restarted))
		}
	}
}

// waitJudged waits until a run's judge result satisfies ok.
func (f *fixture) waitJudged(t *testing.T, name string, ok func(*v1alpha1.JudgeResult) bool) *v1alpha1.JudgeResult {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last *v1alpha1.JudgeResult
	for time.Now().Before(deadline) {
		if r, found := f.judgeResult(t, name); found && r.Judge != nil {
			if last = r.Judge; ok(last) {
				return last
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("run %s: judge result %+v after 10s", name, last)
	return nil
}

// TestInconclusivePolicyIsObserved checks that a template's Abort policy
// reaches the rollout engine with the run's phase.
func TestInconclusivePolicyIsObserved(t *testing.T) {
	f := newFixture(t, func(tm *v1alpha1.NamedAnalysisTemplate) { tm.InconclusivePolicy = v1alpha1.InconclusiveAbort })
	f.m.Ensure([]rollout.RunSpec{spec("web-r2-step-1", true)}, env)
	obs := f.waitPhase(t, "web-r2-step-1", v1alpha1.AnalysisInconclusive) // no traffic: no data
	if obs.InconclusivePolicy != v1alpha1.InconclusiveAbort || obs.HoldWeight {
		t.Errorf("observed %+v, want policy Abort and no hold (no judge)", obs)
	}
}

func TestResolveJudges(t *testing.T) {
	str := func(s string) *string { return &s }
	templates := []v1alpha1.NamedAnalysisTemplate{
		{Name: "login", AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{
			Args:  []v1alpha1.Argument{{Name: "path", Value: str("/login")}},
			Judge: &v1alpha1.Judge{Name: "login", Route: "POST {{args.path}}", MaxCanaryFailures: 2},
		}},
		{Name: "all", AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{
			Judge: &v1alpha1.Judge{}, InconclusivePolicy: v1alpha1.InconclusiveAbort,
		}},
	}
	got, err := resolve(v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "login"}, {TemplateName: "all"}}}, templates, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.judges) != 2 || got.judges[0].Route != "POST /login" || got.judges[0].MaxCanaryFailures != 2 ||
		got.judges[1].Name != "judge" || got.judges[1].Interval == nil || got.judges[1].Alpha == nil || got.policy != v1alpha1.InconclusiveAbort {
		t.Errorf("resolved %+v policy %s", got.judges, got.policy)
	}
	if templates[0].Judge.Route != "POST {{args.path}}" || templates[1].Judge.Alpha != nil {
		t.Error("resolve changed the rollout's templates")
	}
	one, err := resolve(v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "login"}}}, templates, env)
	if err != nil || one.policy != v1alpha1.InconclusivePause {
		t.Errorf("policy %q %v, want Pause by default", one.policy, err)
	}
}
