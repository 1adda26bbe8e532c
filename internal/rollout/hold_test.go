package rollout

import (
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// holds observes a run that is Running and holds the weight, for why.
func holds(name, why string) inputOption {
	return func(in *Input) {
		in.Analysis[name] = RunObservation{Phase: v1alpha1.AnalysisRunning, HoldWeight: true, HoldReason: why}
	}
}

// withPolicy observes a run in phase under an inconclusive policy.
func withPolicy(name string, phase v1alpha1.AnalysisPhase, policy v1alpha1.InconclusivePolicy) inputOption {
	return func(in *Input) {
		in.Analysis[name] = RunObservation{Phase: phase, Message: "3 of 3 measurements inconclusive", InconclusivePolicy: policy}
	}
}

// TestWeightHold covers the judge's hold on the canary's weight: a
// background run that holds keeps setWeight steps and the promotion from
// raising the weight, and says why; nothing else is held.
func TestWeightHold(t *testing.T) {
	bg := runName("2", roleBackground, 1)
	step3 := stepRun("2", 3, 2)
	withBackground := holding(backgroundSlot, bg, v1alpha1.AnalysisRunning)
	const why = "judge: the canary's relative risk of failures could be up to 3.1× (passes at ≤ 2×)"
	held := message("holding weight at 5%: " + why + " (analysis " + bg + ")")
	runCases(t, map[string]case_{
		"a held weight does not rise to the next step's": {
			rollout: example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 2), applied("2", 5), observed(step3, v1alpha1.AnalysisSuccessful), holds(bg, why)},
			want: []check{phase(v1alpha1.PhaseProgressing), atStep(4), weight(5), held, runs(bg),
				events("AnalysisSuccessful", "StepCompleted"), scaled(map[string]int32{"1": 2, "2": 1})},
		},
		"held at the step, the weight rises once the judge passes": {
			rollout: example(releasing("2", 4, 5), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 5), observed(bg, v1alpha1.AnalysisRunning)},
			want:    []check{atStep(4), weight(50), events("WeightChanged"), message("router to apply weight 50%")},
		},
		"the hold is not a pause: it does not count against the deadline": {
			rollout: example(releasing("2", 4, 5), withBackground, deadline(30, true)),
			input:   []inputOption{ready("2", 1), applied("2", 5), holds(bg, why), now(time.Hour)},
			want:    []check{phase(v1alpha1.PhaseProgressing), isAborted(false), weight(5), held, pauses()},
		},
		"a lower weight is not held": {
			rollout: newRollout(steps(setWeight(50), setWeight(10)), background(0, "judge"), releasing("2", 1, 50),
				holding(backgroundSlot, bg, v1alpha1.AnalysisRunning)),
			input: []inputOption{ready("2", 1), applied("2", 50), holds(bg, why)},
			want:  []check{weight(10), events("WeightChanged")},
		},
		"the first weight is not held: without traffic there is nothing to judge": {
			rollout: newRollout(steps(setWeight(10), setWeight(50)), background(0, "judge"), releasing("2", 0, 0),
				holding(backgroundSlot, bg, v1alpha1.AnalysisPending)),
			input: []inputOption{ready("2", 1), applied("2", 0), holds(bg, "judge: no data")},
			want:  []check{weight(10), events("WeightChanged")},
		},
		"the promotion to 100% is held": {
			rollout: newRollout(steps(setWeight(20)), background(0, "judge"), releasing("2", 1, 20),
				holding(backgroundSlot, bg, v1alpha1.AnalysisRunning)),
			input: []inputOption{ready("2", 1), applied("2", 20), holds(bg, "judge: too little traffic")},
			want: []check{phase(v1alpha1.PhaseProgressing), weight(20), revisions("1", "2"), events(),
				message("holding weight at 20%: judge: too little traffic (analysis " + bg + ")")},
		},
		"a decided run holds nothing": {
			rollout: example(releasing("2", 4, 5), holding(backgroundSlot, bg, v1alpha1.AnalysisSuccessful)),
			input:   []inputOption{ready("2", 1), applied("2", 5), holds(bg, why)},
			want:    []check{weight(50)},
		},
		"promote --full overrides the hold, and says so": {
			rollout: example(releasing("2", 4, 5), withBackground),
			input:   []inputOption{ready("2", 2), applied("2", 5), holds(bg, why), command(CommandPromoteFull)},
			want: []check{weight(100), runs(), events("PromotedFull", "WeightChanged"),
				statusHas("promote --full", func(s v1alpha1.RolloutStatus) bool { return s.PromoteFull })},
		},
		"promote ends the step, not the hold": {
			rollout: example(releasing("2", 4, 5), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 5), holds(bg, why), command(CommandPromote)},
			want:    []check{atStep(5), weight(5), pauses(v1alpha1.PauseCanaryStep), events("StepCompleted")},
		},
	})
}

// TestPromoteFullOverrideIsRecorded checks the event of a promote --full
// that overrides a hold names the run that held.
func TestPromoteFullOverrideIsRecorded(t *testing.T) {
	bg := runName("2", roleBackground, 1)
	ro := example(releasing("2", 4, 5), holding(backgroundSlot, bg, v1alpha1.AnalysisRunning))
	d := Decide(newInput(ro, ready("2", 2), applied("2", 5), holds(bg, "judge: waiting"), command(CommandPromoteFull)))
	if len(d.Events) == 0 || !strings.Contains(d.Events[0].Message, "overriding the weight hold of analysis "+bg+" at 5%") {
		t.Errorf("events %+v, want the override recorded", d.Events)
	}
}

// TestInconclusivePolicy covers inconclusivePolicy: Abort rolls the canary
// back where Pause (the default) pauses, for step and background runs.
func TestInconclusivePolicy(t *testing.T) {
	bg := runName("2", roleBackground, 1)
	step3 := stepRun("2", 3, 2)
	pre := runName("2", rolePre, 1)
	withBackground := holding(backgroundSlot, bg, v1alpha1.AnalysisRunning)
	runCases(t, map[string]case_{
		"a step analysis inconclusive, policy Abort": {
			rollout: example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), applied("2", 5), withPolicy(step3, v1alpha1.AnalysisInconclusive, v1alpha1.InconclusiveAbort)},
			want: []check{phase(v1alpha1.PhaseDegraded), isAborted(true), weight(0), pauses(), runs(),
				message("rollout aborted: analysis " + step3 + " is Inconclusive (inconclusivePolicy Abort): 3 of 3 measurements inconclusive"),
				events("AnalysisInconclusive", "AnalysisInconclusiveAbort")},
		},
		"a step analysis inconclusive, policy Pause": {
			rollout: example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), applied("2", 5), withPolicy(step3, v1alpha1.AnalysisInconclusive, v1alpha1.InconclusivePause)},
			want:    []check{phase(v1alpha1.PhasePaused), isAborted(false), pauses(v1alpha1.PauseInconclusive)},
		},
		"a background analysis in error, policy Abort": {
			rollout: example(releasing("2", 4, 50), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 50), withPolicy(bg, v1alpha1.AnalysisError, v1alpha1.InconclusiveAbort)},
			want:    []check{phase(v1alpha1.PhaseDegraded), isAborted(true), weight(0), message("is Error (inconclusivePolicy Abort)")},
		},
		"a background analysis in error, no policy observed": {
			rollout: example(releasing("2", 4, 50), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 50), withPolicy(bg, v1alpha1.AnalysisError, "")},
			want:    []check{phase(v1alpha1.PhasePaused), isAborted(false), pauses(v1alpha1.PauseInconclusive)},
		},
		"a pre-promotion analysis inconclusive, policy Abort": {
			rollout: newRollout(blueGreen(prePromotion("smoke")), releasing("2", bgPreview, 0), holding(preSlot, pre, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), withPolicy(pre, v1alpha1.AnalysisInconclusive, v1alpha1.InconclusiveAbort)},
			want:    []check{phase(v1alpha1.PhaseDegraded), isAborted(true), runs()},
		},
	})
}
