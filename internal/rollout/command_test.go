package rollout

import (
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// TestCommands applies each command in the states where it means something
// (and where it does not: a refused command changes nothing, which every
// row also checks through the contract).
func TestCommands(t *testing.T) {
	bg := runName("2", roleBackground, 1)
	step3 := stepRun("2", 3, 2)
	withBackground := holding(backgroundSlot, bg, v1alpha1.AnalysisRunning)
	// States of the example, releasing revision "2".
	waitingForReplicas := example(releasing("2", 0, 0))
	timedPause := example(releasing("2", 1, 5), withBackground, pausedFor(v1alpha1.PauseCanaryStep))
	analysing := example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisRunning))
	inconclusiveStep := example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisInconclusive),
		pausedFor(v1alpha1.PauseInconclusive))
	inconclusiveBackground := example(releasing("2", 4, 50), holding(backgroundSlot, bg, v1alpha1.AnalysisInconclusive),
		pausedFor(v1alpha1.PauseInconclusive))
	atGate := example(releasing("2", 5, 50), withBackground, pausedFor(v1alpha1.PauseCanaryStep))
	userPausedAtGate := example(releasing("2", 5, 50), withBackground, pausedFor(v1alpha1.PauseCanaryStep, v1alpha1.PauseUser))
	userPaused := example(releasing("2", 4, 50), withBackground, pausedFor(v1alpha1.PauseUser))
	promoting := example(releasing("2", 7, 50), withBackground)
	abortedAt3 := example(releasing("2", 3, 0), wasAborted())
	steady := example()
	// Blue-green states, 2 replicas, releasing revision "2".
	blueGreenAt := func(step int32, weight int32, opts ...rolloutOption) *v1alpha1.Rollout {
		base := []rolloutOption{replicas(2), blueGreen(prePromotion("smoke"), postPromotion("error-rate")), releasing("2", step, weight),
			withStatus(func(s *v1alpha1.RolloutStatus) { s.PreviewReadyAt = mt(0) })}
		return newRollout(append(base, opts...)...)
	}
	pre, post := runName("2", rolePre, 1), runName("2", rolePost, 1)

	runCases(t, map[string]case_{
		// pause
		"pause holds a rollout where it is: no weight rises": {
			rollout: waitingForReplicas,
			input:   []inputOption{command(CommandPause), ready("2", 1)},
			want:    []check{phase(v1alpha1.PhasePaused), pauses(v1alpha1.PauseUser), weight(0), events("Paused"), message("paused by user")},
		},
		"pause twice is refused": {
			rollout: userPaused,
			input:   []inputOption{command(CommandPause), ready("2", 1), applied("2", 50)},
			want:    []check{refused("already paused"), pauses(v1alpha1.PauseUser)},
		},
		"pause without a rollout holds the next one": {
			rollout: steady,
			input:   []inputOption{command(CommandPause), ready("1", 2)},
			want:    []check{phase(v1alpha1.PhasePaused), pauses(v1alpha1.PauseUser), message("paused by user")},
		},

		// resume
		"resume lifts a user pause and restarts the progress clock": {
			rollout: userPaused,
			input:   []inputOption{command(CommandResume), ready("2", 1), applied("2", 5), now(time.Hour)},
			want: []check{phase(v1alpha1.PhaseProgressing), pauses(), events("Resumed"), atStep(4),
				statusHas("progress at now", func(s v1alpha1.RolloutStatus) bool { return s.ProgressAt.Equal(mt(time.Hour)) })},
		},
		"resume after an inconclusive step analysis runs it again, fresh": {
			rollout: inconclusiveStep,
			input:   []inputOption{command(CommandResume), ready("2", 1), applied("2", 5)},
			want: []check{phase(v1alpha1.PhaseProgressing), pauses(), atStep(3), runs(stepRun("2", 3, 3), bg),
				events("Resumed", "AnalysisStarted")},
		},
		"resume after an inconclusive background analysis starts a fresh one": {
			rollout: inconclusiveBackground,
			input:   []inputOption{command(CommandResume), ready("2", 1), applied("2", 5)},
			want:    []check{pauses(), atStep(4), runs(runName("2", roleBackground, 2)), events("Resumed", "AnalysisStarted")},
		},
		"resume ends an indefinite pause": {
			rollout: atGate,
			input:   []inputOption{command(CommandResume), ready("2", 1), applied("2", 50)},
			want:    []check{atStep(6), pauses(), events("StepCompleted"), message("2 before weight 100%: 1/2")},
		},
		"resume lifts a user pause at an indefinite pause, not the pause itself": {
			rollout: userPausedAtGate,
			input:   []inputOption{command(CommandResume), ready("2", 1), applied("2", 50)},
			want:    []check{atStep(5), phase(v1alpha1.PhasePaused), pauses(v1alpha1.PauseCanaryStep), events("Resumed")},
		},
		"resume does not end a timed pause": {
			rollout: timedPause,
			input:   []inputOption{command(CommandResume), ready("2", 1), applied("2", 5)},
			want:    []check{refused("not paused"), atStep(1)},
		},
		"resume of a rollout that is not paused is refused": {
			rollout: analysing,
			input:   []inputOption{command(CommandResume), ready("2", 1), applied("2", 5)},
			want:    []check{refused("not paused")},
		},
		"resume does not lift spec.paused, and says so": {
			rollout: example(releasing("2", 4, 50), withBackground, specPaused()),
			input:   []inputOption{command(CommandResume), ready("2", 1), applied("2", 50)},
			want:    []check{refused("spec.paused"), phase(v1alpha1.PhasePaused)},
		},
		"resume promotes a blue-green awaiting promotion": {
			rollout: blueGreenAt(bgAwait, 0, alsoBlueGreen(manualPromotion), pausedFor(v1alpha1.PausePreviewPromotion)),
			input:   []inputOption{command(CommandResume), ready("2", 1)},
			want:    []check{atStep(bgSwitch), pauses(), scaled(map[string]int32{"1": 2, "2": 2})},
		},

		// abort
		"abort sends the traffic back to stable; the canary stays until the router confirms": {
			rollout: analysing,
			input:   []inputOption{command(CommandAbort), ready("2", 1), applied("2", 5)},
			want: []check{phase(v1alpha1.PhaseDegraded), isAborted(true), weight(0), traffic(Traffic{Stable: "1"}), runs(),
				scaled(map[string]int32{"1": 2, "2": 1}), events("Aborted"), message("aborted by user")},
		},
		"an aborted canary is scaled to nothing once the router sends it nothing": {
			rollout: abortedAt3,
			input:   []inputOption{ready("2", 1), routes(Traffic{Stable: "1"})},
			want:    []check{phase(v1alpha1.PhaseDegraded), scaled(map[string]int32{"1": 2}), events()},
		},
		"abort at a pause drops the pause": {
			rollout: atGate,
			input:   []inputOption{command(CommandAbort), ready("2", 1), applied("2", 50)},
			want:    []check{isAborted(true), pauses(), phase(v1alpha1.PhaseDegraded)},
		},
		"abort while promoting": {
			rollout: promoting,
			input:   []inputOption{command(CommandAbort), running("2", 2, 1), applied("2", 50)},
			want:    []check{isAborted(true), revisions("1", "2")},
		},
		"abort of a blue-green after the switch switches back to the warm old revision": {
			rollout: blueGreenAt(bgPost, 100, holding(postSlot, post, v1alpha1.AnalysisRunning)),
			input:   []inputOption{command(CommandAbort), ready("2", 2), applied("2", 100)},
			want:    []check{isAborted(true), traffic(Traffic{Stable: "1"}), scaled(map[string]int32{"1": 2, "2": 2}), runs()},
		},
		"abort twice is refused": {
			rollout: abortedAt3,
			input:   []inputOption{command(CommandAbort)},
			want:    []check{refused("aborted"), isAborted(true)},
		},
		"abort without a rollout is refused": {
			rollout: steady,
			input:   []inputOption{command(CommandAbort)},
			want:    []check{refused("no rollout")},
		},

		// retry
		"retry starts an aborted rollout again from the first step, as a new attempt": {
			rollout: abortedAt3,
			input:   []inputOption{command(CommandRetry), ready("2", 1), routes(Traffic{Stable: "1"})},
			want: []check{phase(v1alpha1.PhaseProgressing), isAborted(false), atStep(0), weight(5), events("Retried", "WeightChanged"),
				statusHas("attempt 2", func(s v1alpha1.RolloutStatus) bool { return s.Attempt == 2 })},
		},
		"retry names fresh runs": {
			rollout: example(releasing("2", 1, 0), wasAborted(), holding(backgroundSlot, bg, v1alpha1.AnalysisFailed), background(0, "error-rate")),
			input:   []inputOption{command(CommandRetry), ready("2", 1)},
			want:    []check{runs(runName("2", roleBackground, 2))},
		},
		"retry of a rollout that is not aborted is refused": {
			rollout: analysing,
			input:   []inputOption{command(CommandRetry), ready("2", 1), applied("2", 5)},
			want:    []check{refused("not aborted")},
		},

		// promote
		"promote ends an indefinite pause": {
			rollout: atGate,
			input:   []inputOption{command(CommandPromote), ready("2", 2), applied("2", 50)},
			want:    []check{atStep(6), weight(100), pauses()},
		},
		"promote ends an analysis step; its run is terminated": {
			rollout: analysing,
			input:   []inputOption{command(CommandPromote), ready("2", 1), applied("2", 5)},
			want:    []check{atStep(4), runs(bg), weight(50)},
		},
		"promote ends a timed pause": {
			rollout: timedPause,
			input:   []inputOption{command(CommandPromote), ready("2", 1), applied("2", 5)},
			want:    []check{atStep(2), pauses()},
		},
		"promote skips a setWeight waiting for replicas, without raising the weight": {
			rollout: waitingForReplicas,
			input:   []inputOption{command(CommandPromote), running("2", 1, 0)},
			want:    []check{atStep(1), weight(0), phase(v1alpha1.PhasePaused)},
		},
		"promote while paused by a user ends the step; the user's pause stays": {
			rollout: userPausedAtGate,
			input:   []inputOption{command(CommandPromote), ready("2", 2), applied("2", 50)},
			want:    []check{atStep(6), pauses(v1alpha1.PauseUser), weight(50), phase(v1alpha1.PhasePaused)},
		},
		"promote after the last step is refused": {
			rollout: promoting,
			input:   []inputOption{command(CommandPromote), running("2", 2, 1), applied("2", 50)},
			want:    []check{refused("all steps are done")},
		},
		"promote of an aborted rollout is refused": {
			rollout: abortedAt3,
			input:   []inputOption{command(CommandPromote)},
			want:    []check{refused("retry")},
		},
		"promote without a rollout is refused": {
			rollout: steady,
			input:   []inputOption{command(CommandPromote)},
			want:    []check{refused("no rollout")},
		},
		"promote of a blue-green preview goes to the switch, skipping its analysis": {
			rollout: blueGreenAt(bgPreview, 0, holding(preSlot, pre, v1alpha1.AnalysisRunning)),
			input:   []inputOption{command(CommandPromote), ready("2", 2)},
			want:    []check{atStep(bgSwitch), weight(100), runs()},
		},
		"promote of a blue-green awaiting promotion switches": {
			rollout: blueGreenAt(bgAwait, 0, alsoBlueGreen(manualPromotion), pausedFor(v1alpha1.PausePreviewPromotion)),
			input:   []inputOption{command(CommandPromote), ready("2", 1)},
			want:    []check{atStep(bgSwitch), pauses(), message("before the switch: 1/2")},
		},
		"promote during a blue-green switch is refused: the switch cannot be skipped": {
			rollout: blueGreenAt(bgSwitch, 0),
			input:   []inputOption{command(CommandPromote), running("2", 2, 1)},
			want:    []check{refused("switch"), atStep(bgSwitch)},
		},
		"promote of a blue-green post-promotion analysis skips it": {
			rollout: blueGreenAt(bgPost, 100, holding(postSlot, post, v1alpha1.AnalysisRunning)),
			input:   []inputOption{command(CommandPromote), ready("2", 2), applied("2", 100)},
			want:    []check{revisions("2", ""), phase(v1alpha1.PhaseHealthy), runs()},
		},

		// promote --full
		"promote --full skips the steps and terminates the runs; the canary scales to full first": {
			rollout: timedPause,
			input:   []inputOption{command(CommandPromoteFull), ready("2", 1), applied("2", 5)},
			want: []check{phase(v1alpha1.PhaseProgressing), pauses(), runs(), weight(5), scaled(map[string]int32{"1": 2, "2": 2}),
				events("PromotedFull"), statusHas("promoteFull", func(s v1alpha1.RolloutStatus) bool { return s.PromoteFull })},
		},
		"promote --full sends all traffic once the canary is full": {
			rollout: analysing,
			input:   []inputOption{command(CommandPromoteFull), ready("2", 2), applied("2", 5)},
			want:    []check{weight(100), runs(), message("router to send it 100%")},
		},
		"promote --full lifts a user's pause": {
			rollout: userPaused,
			input:   []inputOption{command(CommandPromoteFull), ready("2", 2), applied("2", 50)},
			want:    []check{pauses(), weight(100)},
		},
		"promote --full of an aborted rollout releases it after all": {
			rollout: abortedAt3,
			input:   []inputOption{command(CommandPromoteFull), ready("2", 2), routes(Traffic{Stable: "1"})},
			want:    []check{isAborted(false), weight(100), phase(v1alpha1.PhaseProgressing)},
		},
		"promote --full of a blue-green aborted after its switch switches again": {
			rollout: blueGreenAt(bgPost, 0, wasAborted()),
			input:   []inputOption{command(CommandPromoteFull), ready("2", 2), routes(Traffic{Stable: "1"})},
			want:    []check{isAborted(false), atStep(bgSwitch), weight(100), revisions("1", "2")},
		},
		"promote --full of a blue-green preview scales it to full and switches": {
			rollout: blueGreenAt(bgPreview, 0, holding(preSlot, pre, v1alpha1.AnalysisRunning)),
			input:   []inputOption{command(CommandPromoteFull), running("2", 2, 1)},
			want:    []check{atStep(bgPreview), runs(), scaled(map[string]int32{"1": 2, "2": 2})},
		},
		"promote --full without a rollout is refused": {
			rollout: steady,
			input:   []inputOption{command(CommandPromoteFull)},
			want:    []check{refused("no rollout")},
		},

		"an unknown command is refused": {
			rollout: analysing,
			input:   []inputOption{command("dance"), ready("2", 1), applied("2", 5)},
			want:    []check{refused("unknown command dance")},
		},
	})
}
