package cli

import (
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

func TestDescribeStep(t *testing.T) {
	cases := map[string]struct {
		edit func(*v1alpha1.Rollout)
		want string
	}{
		"timed pause":   {func(r *v1alpha1.Rollout) {}, "pause: 30s (18s left)"},
		"pause overdue": {func(r *v1alpha1.Rollout) { r.Status.StepStartedAt = ago(time.Minute) }, "pause: 30s (0s left)"},
		"aborted pause": {func(r *v1alpha1.Rollout) { r.Status.Abort = true }, "pause: 30s"},
		"set weight":    {func(r *v1alpha1.Rollout) { r.Status.CurrentStepIndex = 2 }, "setWeight: 50"},
		"manual pause":  {func(r *v1alpha1.Rollout) { r.Status.CurrentStepIndex = 5 }, "pause: waiting for promote"},
		"analysis": {func(r *v1alpha1.Rollout) {
			r.Status.CurrentStepIndex = 1
			r.Status.StepAnalysisRun = &v1alpha1.RunRef{Name: "x", Phase: v1alpha1.AnalysisRunning}
		}, "analysis: success-rate (Running)"},
		"analysis not started": {func(r *v1alpha1.Rollout) {
			r.Status.CurrentStepIndex = 1
			r.Status.StepAnalysisRun = nil
		}, "analysis: success-rate (Pending)"},
		"all done":   {func(r *v1alpha1.Rollout) { r.Status.CurrentStepIndex = 7 }, "all steps done"},
		"no release": {func(r *v1alpha1.Rollout) { r.Status.CanaryRevision = "" }, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := web()
			c.edit(r)
			if got := describeStep(r, now); got != c.want {
				t.Errorf("describeStep = %q, want %q", got, c.want)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	cases := map[string]struct {
		done, n int
		want    string
	}{
		"start":  {0, 3, "[□□□] 0/3"},
		"middle": {3, 7, "[■■■□□□□] 3/7"},
		"done":   {7, 7, "[■■■■■■■] 7/7"},
		"beyond": {9, 2, "[■■] 2/2"},
		"none":   {0, 0, "[] 0/0"},
	}
	for name, c := range cases {
		if got := progress(c.done, c.n); got != c.want {
			t.Errorf("%s: progress(%d, %d) = %q, want %q", name, c.done, c.n, got, c.want)
		}
	}
}

func TestSettled(t *testing.T) {
	cases := map[string]struct {
		status   v1alpha1.RolloutStatus
		done, ok bool
	}{
		"released":         {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "2"}, true, true},
		"healthy, not yet": {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "1"}, false, true},
		"canary in flight": {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "2", CanaryRevision: "3"}, false, true},
		"degraded":         {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseDegraded}, true, false},
		"paused":           {v1alpha1.RolloutStatus{Phase: v1alpha1.PhasePaused}, false, false},
		"progressing":      {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseProgressing}, false, false},
	}
	for name, c := range cases {
		r := web()
		r.Status = c.status
		done, ok := settled(r)
		if done != c.done || (done && ok != c.ok) {
			t.Errorf("%s: settled = %v, %v; want %v, %v", name, done, ok, c.done, c.ok)
		}
	}
}

func TestRedrawMovesUpOverThePreviousDraw(t *testing.T) {
	var b strings.Builder
	r := &redrawer{w: &b}
	r.draw("a\nb\nc\n")
	r.draw("d\n")
	want := "\x1b[Ja\nb\nc\n\r\x1b[3A\x1b[Jd\n"
	if b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
	if n := physicalLines("\x1b[32mHealthy\x1b[0m\n"+strings.Repeat("x", 25)+"\n", 10); n != 4 {
		t.Errorf("physicalLines = %d, want 4 (1 + 3 wrapped)", n)
	}
}

func TestStateKeyIgnoresCountdowns(t *testing.T) {
	a := summary{Name: "web", Step: "pause: 30s (18s left)", Message: "paused for 30s (18s left)"}
	b := summary{Name: "web", Step: "pause: 30s (17s left)", Message: "paused for 30s (17s left)"}
	if stateKey(a) != stateKey(b) {
		t.Errorf("a countdown changed the state key:\n%s\n%s", stateKey(a), stateKey(b))
	}
	b.Message = "rollout aborted"
	if stateKey(a) == stateKey(b) {
		t.Error("a new message did not change the state key")
	}
}
