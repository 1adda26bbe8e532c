package rollout

import (
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// TestRevisions covers how a desired revision is adopted: the first is
// stable at once, a new one starts a rollout, a newer one restarts it, the
// stable one cancels it, and undo goes back to a warm one.
func TestRevisions(t *testing.T) {
	fresh := func(opts ...rolloutOption) *v1alpha1.Rollout {
		r := example(opts...)
		r.Status = v1alpha1.RolloutStatus{}
		return r
	}
	bg := runName("2", roleBackground, 1)
	midway := example(releasing("2", 4, 50), holding(backgroundSlot, bg, v1alpha1.AnalysisRunning))
	runCases(t, map[string]case_{
		"the first revision is stable at once": {
			rollout: fresh(),
			input:   []inputOption{desired("1"), running("1", 0, 0)},
			want: []check{revisions("1", ""), phase(v1alpha1.PhaseProgressing), message("stable revision 1: 0/2"), atStep(7),
				scaled(map[string]int32{"1": 2}), traffic(Traffic{Stable: "1"}), events("InitialRevision")},
		},
		"a fully ready stable revision is healthy": {
			rollout: example(),
			input:   []inputOption{ready("1", 2)},
			want:    []check{phase(v1alpha1.PhaseHealthy), message("revision 1 is stable: 2/2"), events(), requeue(0)},
		},
		"without a desired revision nothing is adopted": {
			rollout: fresh(),
			input:   []inputOption{desired("")},
			want:    []check{revisions("", ""), events()},
		},
		"a new revision starts a rollout at step 0": {
			rollout: example(),
			input:   []inputOption{desired("2")},
			want: []check{revisions("1", "2"), atStep(0), weight(0), phase(v1alpha1.PhaseProgressing), events("RolloutStarted"),
				scaled(map[string]int32{"1": 2, "2": 1}), traffic(Traffic{Stable: "1", Canary: "2", Preview: "2"}),
				statusHas("attempt 1", func(s v1alpha1.RolloutStatus) bool { return s.Attempt == 1 })},
		},
		"a newer revision restarts the rollout; the old canary loses its traffic at once": {
			rollout: midway,
			input:   []inputOption{desired("3"), ready("2", 1), applied("2", 50)},
			want: []check{revisions("1", "3"), atStep(0), weight(0), events("RolloutRestarted"), runs(),
				traffic(Traffic{Stable: "1", Canary: "3", Preview: "3"}),
				scaled(map[string]int32{"1": 2, "2": 1, "3": 1})}, // "2" kept until the router drops it
		},
		"the replaced canary is scaled down once the router routes it nothing": {
			rollout: example(releasing("3", 0, 0)),
			input:   []inputOption{ready("2", 1), running("3", 1, 0), applied("3", 0)},
			want:    []check{scaled(map[string]int32{"1": 2, "3": 1})},
		},
		"the template back to stable cancels the rollout": {
			rollout: midway,
			input:   []inputOption{desired("1"), ready("2", 1), applied("2", 50)},
			want: []check{revisions("1", ""), phase(v1alpha1.PhaseHealthy), events("RolloutCanceled"), runs(),
				traffic(Traffic{Stable: "1"}), scaled(map[string]int32{"1": 2, "2": 1})},
		},
		"cancelling keeps a user's pause": {
			rollout: example(releasing("2", 4, 50), pausedFor(v1alpha1.PauseUser, v1alpha1.PauseCanaryStep)),
			input:   []inputOption{desired("1"), ready("2", 1), applied("2", 50)},
			want:    []check{revisions("1", ""), pauses(v1alpha1.PauseUser), phase(v1alpha1.PhasePaused)},
		},
		"a new revision replaces an aborted one": {
			rollout: example(releasing("2", 3, 0), wasAborted()),
			input:   []inputOption{desired("3")},
			want:    []check{revisions("1", "3"), isAborted(false), atStep(0), phase(v1alpha1.PhaseProgressing)},
		},
		"undo goes back to the warm previous revision with promote --full": {
			rollout: example(withStatus(func(s *v1alpha1.RolloutStatus) {
				s.StableRevision, s.CurrentStepIndex = "2", 7
				s.ScaleDowns = []v1alpha1.ScaleDown{{Revision: "1", At: *mt(30 * time.Second)}}
			})),
			input: []inputOption{desired("1"), command(CommandPromoteFull), ready("2", 2), ready("1", 2), routes(Traffic{Stable: "2"})},
			want: []check{revisions("2", "1"), weight(100), events("RolloutStarted", "PromotedFull", "WeightChanged"),
				scaled(map[string]int32{"1": 2, "2": 2}), traffic(Traffic{Stable: "2", Canary: "1", CanaryWeight: 100, Preview: "1"}),
				statusHas("no scale-down of the revision released", func(s v1alpha1.RolloutStatus) bool { return len(s.ScaleDowns) == 0 })},
		},
		"undo completes once the router sends the old revision everything": {
			rollout: example(withStatus(func(s *v1alpha1.RolloutStatus) {
				s.StableRevision, s.CanaryRevision, s.CurrentStepIndex, s.CanaryWeight, s.PromoteFull = "2", "1", 0, 100, true
				s.Attempt, s.Phase = 1, v1alpha1.PhaseProgressing
			})),
			input: []inputOption{ready("2", 2), ready("1", 2), applied("1", 100), now(5 * time.Second)},
			want: []check{revisions("1", ""), phase(v1alpha1.PhaseHealthy), events("Promoted"),
				statusHas("revision 2 warm for 30s", func(s v1alpha1.RolloutStatus) bool {
					return len(s.ScaleDowns) == 1 && s.ScaleDowns[0].Revision == "2" && s.ScaleDowns[0].At.Equal(mt(35*time.Second))
				})},
		},
		"without a scale-down delay the old stable goes once the router left it": {
			rollout: newRollout(replicas(2), scaleDownDelay(0), releasing("2", 0, 100)),
			input:   []inputOption{ready("2", 2), applied("2", 100)},
			want:    []check{revisions("2", ""), requeue(0), scaled(map[string]int32{"1": 2, "2": 2})}, // "1" still the router's stable
		},
	})
}

// TestProgressDeadline covers the deadline: it runs while the rollout waits
// on replicas or the router, not while it is paused or analysing.
func TestProgressDeadline(t *testing.T) {
	within := func(opts ...rolloutOption) *v1alpha1.Rollout {
		return example(append([]rolloutOption{deadline(60, true)}, opts...)...)
	}
	late := now(61 * time.Second)
	runCases(t, map[string]case_{
		"waiting on replicas past the deadline aborts": {
			rollout: within(releasing("2", 0, 0)),
			input:   []inputOption{running("2", 1, 0), late},
			want: []check{isAborted(true), phase(v1alpha1.PhaseDegraded), events("ProgressDeadlineExceeded"),
				message("no progress for 1m0s (waiting for canary revision 2")},
		},
		"before the deadline, a timer is set for it": {
			rollout: within(releasing("2", 0, 0)),
			input:   []inputOption{running("2", 1, 0), now(20 * time.Second)},
			want:    []check{isAborted(false), phase(v1alpha1.PhaseProgressing), requeue(40 * time.Second)},
		},
		"waiting on the router counts too": {
			rollout: within(releasing("2", 0, 5), readyBefore(1)),
			input:   []inputOption{ready("2", 1), applied("2", 0), late},
			want:    []check{isAborted(true)},
		},
		"without abort, the deadline marks the rollout degraded and it goes on": {
			rollout: example(deadline(60, false), releasing("2", 0, 0)),
			input:   []inputOption{running("2", 1, 0), late},
			want: []check{isAborted(false), phase(v1alpha1.PhaseDegraded), events("ProgressDeadlineExceeded"), message("progress deadline exceeded"),
				traffic(Traffic{Stable: "1", Canary: "2", Preview: "2"})},
		},
		"a degraded rollout that progresses again is progressing": {
			rollout: example(deadline(60, false), releasing("2", 0, 0), withStatus(func(s *v1alpha1.RolloutStatus) { s.Phase = v1alpha1.PhaseDegraded })),
			input:   []inputOption{ready("2", 1), late},
			want:    []check{phase(v1alpha1.PhaseProgressing), weight(5), events("WeightChanged")},
		},
		"a new ready replica of the new revision restarts the clock": {
			rollout: within(releasing("2", 6, 50), readyBefore(0)),
			input:   []inputOption{running("2", 2, 1), applied("2", 50), late},
			want: []check{isAborted(false), requeue(60 * time.Second),
				statusHas("progress now", func(s v1alpha1.RolloutStatus) bool { return s.ProgressAt.Equal(mt(61 * time.Second)) })},
		},
		"a pause step does not count": {
			rollout: within(releasing("2", 5, 50), pausedFor(v1alpha1.PauseCanaryStep)),
			input:   []inputOption{ready("2", 1), applied("2", 50), now(24 * time.Hour)},
			want:    []check{isAborted(false), phase(v1alpha1.PhasePaused)},
		},
		"a user's pause does not count": {
			rollout: within(releasing("2", 0, 0), pausedFor(v1alpha1.PauseUser)),
			input:   []inputOption{running("2", 1, 0), now(24 * time.Hour)},
			want:    []check{isAborted(false), phase(v1alpha1.PhasePaused)},
		},
		"an analysis does not count": {
			rollout: within(releasing("2", 3, 5), holding(stepSlot, stepRun("2", 3, 1), v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), applied("2", 5), now(24 * time.Hour)},
			want:    []check{isAborted(false), phase(v1alpha1.PhaseProgressing), requeue(0)},
		},
		"spec.paused does not count: lifting it restarts the clock": {
			rollout: within(releasing("2", 0, 0), withStatus(func(s *v1alpha1.RolloutStatus) { s.Phase = v1alpha1.PhasePaused })),
			input:   []inputOption{running("2", 1, 0), now(24 * time.Hour)},
			want:    []check{isAborted(false), phase(v1alpha1.PhaseProgressing), requeue(60 * time.Second)},
		},
		"there is no deadline without a rollout": {
			rollout: within(),
			input:   []inputOption{running("1", 2, 1), now(24 * time.Hour)},
			want:    []check{phase(v1alpha1.PhaseProgressing), message("stable revision 1: 1/2"), requeue(0)},
		},
		"a blue-green preview that does not become ready aborts": {
			rollout: newRollout(replicas(2), deadline(60, true), blueGreen(), releasing("2", bgPreview, 0), readyBefore(1)),
			input:   []inputOption{running("2", 2, 1), late},
			want:    []check{isAborted(true), traffic(Traffic{Stable: "1"})},
		},
	})
}

// TestExampleWalkthrough releases a revision with the example spec
// from start to end, deciding each time from the status decided before, as
// the edges do. The router applies each decision's traffic before the next.
func TestExampleWalkthrough(t *testing.T) {
	r := example()
	bg := runName("2", roleBackground, 1)
	step3 := stepRun("2", 3, 2)
	testers := v1alpha1.SetHeaderRoute{Name: "testers", Match: []v1alpha1.HeaderRoutingMatch{testerHeader}}
	var last Decision
	routerApplied := func(in *Input) {
		in.Traffic = last.Traffic
	}
	stages := []struct {
		what  string
		input []inputOption
		want  []check
	}{
		{"a new template starts the rollout", []inputOption{desired("2")},
			[]check{atStep(0), weight(0), events("RolloutStarted"), scaled(map[string]int32{"1": 2, "2": 1})}},
		{"the canary's replica is ready: weight 5%", []inputOption{ready("2", 1), now(5 * time.Second)},
			[]check{atStep(0), weight(5), events("WeightChanged")}},
		{"the router applied 5%: the pause starts, and the background analysis", []inputOption{ready("2", 1), now(6 * time.Second), routerApplied},
			[]check{atStep(1), phase(v1alpha1.PhasePaused), requeue(30 * time.Second), runs(bg), events("StepCompleted", "AnalysisStarted")}},
		{"the pause is over: the header route for testers", []inputOption{ready("2", 1), now(36 * time.Second), routerApplied, observed(bg, v1alpha1.AnalysisRunning)},
			[]check{atStep(2), phase(v1alpha1.PhaseProgressing), events("StepCompleted")}},
		{"the router routes testers: the analysis starts", []inputOption{ready("2", 1), now(37 * time.Second), routerApplied, observed(bg, v1alpha1.AnalysisRunning)},
			[]check{atStep(3), runs(step3, bg), events("StepCompleted", "AnalysisStarted"),
				traffic(Traffic{Stable: "1", Canary: "2", CanaryWeight: 5, Preview: "2", HeaderRoutes: []v1alpha1.SetHeaderRoute{testers}})}},
		{"the analysis passes: weight 50%", []inputOption{ready("2", 1), now(97 * time.Second), routerApplied,
			observed(bg, v1alpha1.AnalysisRunning), observed(step3, v1alpha1.AnalysisSuccessful)},
			[]check{atStep(4), weight(50), runs(bg), events("AnalysisSuccessful", "StepCompleted", "WeightChanged")}},
		{"the router applied 50%: paused until promoted", []inputOption{ready("2", 1), now(98 * time.Second), routerApplied, observed(bg, v1alpha1.AnalysisRunning)},
			[]check{atStep(5), phase(v1alpha1.PhasePaused), pauses(v1alpha1.PauseCanaryStep), requeue(0)}},
		{"a human promotes: the canary scales to full for 100%", []inputOption{ready("2", 1), now(time.Hour), routerApplied,
			observed(bg, v1alpha1.AnalysisRunning), command(CommandPromote)},
			[]check{atStep(6), weight(50), phase(v1alpha1.PhaseProgressing), scaled(map[string]int32{"1": 2, "2": 2})}},
		{"the canary is full: weight 100%", []inputOption{ready("2", 2), now(time.Hour + 10*time.Second), routerApplied, observed(bg, v1alpha1.AnalysisRunning)},
			[]check{atStep(6), weight(100)}},
		{"the router applied 100%: promoted, the old revision warm for 30s", []inputOption{ready("2", 2), now(time.Hour + 11*time.Second), routerApplied,
			observed(bg, v1alpha1.AnalysisRunning)},
			[]check{revisions("2", ""), phase(v1alpha1.PhaseHealthy), runs(), traffic(Traffic{Stable: "2"}), requeue(30 * time.Second),
				scaled(map[string]int32{"1": 2, "2": 2})}},
		{"the delay is over: the old revision goes", []inputOption{ready("2", 2), now(time.Hour + 41*time.Second), routerApplied},
			[]check{phase(v1alpha1.PhaseHealthy), scaled(map[string]int32{"2": 2}), events("ScaledDown"), requeue(0)}},
	}
	for _, s := range stages {
		in := newInput(r, s.input...)
		last = Decide(in)
		for _, c := range s.want {
			c(t, last)
		}
		checkContract(t, in, last)
		if t.Failed() {
			t.Fatalf("at %q: status %+v", s.what, last.Status)
		}
		r.Status = last.Status
	}
}

// TestOddInputs covers inputs validation or the engine itself never makes,
// which a hand-edited status or spec may: the engine goes on sensibly.
func TestOddInputs(t *testing.T) {
	runCases(t, map[string]case_{
		"a spec without a strategy releases at once, as a canary without steps": {
			rollout: newRollout(replicas(2), func(r *v1alpha1.Rollout) { r.Spec.Strategy = v1alpha1.RolloutStrategy{} }, releasing("2", 0, 0)),
			input:   []inputOption{ready("2", 2)},
			want:    []check{weight(100), scaled(map[string]int32{"1": 2, "2": 2})},
		},
		"a timed pause without a step clock starts it now": {
			rollout: example(releasing("2", 1, 5), withStatus(func(s *v1alpha1.RolloutStatus) { s.StepStartedAt = nil })),
			input:   []inputOption{ready("2", 1), applied("2", 5), now(time.Hour)},
			want: []check{atStep(1), requeue(30 * time.Second),
				statusHas("the clock started now", func(s v1alpha1.RolloutStatus) bool { return s.StepStartedAt.Equal(mt(time.Hour)) })},
		},
		"a negative step index starts from the first step": {
			rollout: example(releasing("2", -3, 0)),
			input:   []inputOption{ready("2", 1)},
			want:    []check{atStep(0), weight(5)},
		},
		"a scale-down of the revision now stable is dropped": {
			rollout: example(withStatus(func(s *v1alpha1.RolloutStatus) {
				s.ScaleDowns = []v1alpha1.ScaleDown{{Revision: "1", At: *mt(time.Hour)}}
			})),
			input: []inputOption{ready("1", 2)},
			want:  []check{phase(v1alpha1.PhaseHealthy), statusHas("no scale-downs", func(s v1alpha1.RolloutStatus) bool { return len(s.ScaleDowns) == 0 })},
		},
		"promote of a blue-green held after its last step is refused": {
			rollout: newRollout(replicas(2), blueGreen(), releasing("2", blueGreenSteps, 100), pausedFor(v1alpha1.PauseUser)),
			input:   []inputOption{command(CommandPromote), ready("2", 2), applied("2", 100)},
			want:    []check{refused("all steps are done"), phase(v1alpha1.PhasePaused)},
		},
		"a weight above the replicas' share never asks for more than full": {
			rollout: newRollout(replicas(2), steps(setWeight(400)), releasing("2", 0, 0)),
			input:   []inputOption{running("2", 2, 1)},
			want:    []check{scaled(map[string]int32{"1": 2, "2": 2}), weight(0)},
		},
	})
}
