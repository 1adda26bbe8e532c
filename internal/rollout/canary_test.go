package rollout

import (
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// TestCanarySteps covers each kind of step of the example (2
// replicas; setWeight 5, pause 30s, setHeaderRoute testers, analysis,
// setWeight 50, pause {}, setWeight 100; background analysis from step 1),
// one transition per row. The canary is revision "2", stable "1".
func TestCanarySteps(t *testing.T) {
	bg := runName("2", roleBackground, 1)
	step3 := stepRun("2", 3, 2)
	testers := v1alpha1.SetHeaderRoute{Name: "testers", Match: []v1alpha1.HeaderRoutingMatch{testerHeader}}
	withBackground := holding(backgroundSlot, bg, v1alpha1.AnalysisRunning)
	runCases(t, map[string]case_{
		"setWeight waits for a ready canary replica before raising the weight": {
			rollout: example(releasing("2", 0, 0)),
			input:   []inputOption{running("2", 1, 0), applied("2", 0)},
			want: []check{phase(v1alpha1.PhaseProgressing), atStep(0), weight(0), message("0/1 replicas ready"),
				scaled(map[string]int32{"1": 2, "2": 1}), events()},
		},
		"setWeight raises the weight once the canary is ready, then waits for the router": {
			rollout: example(releasing("2", 0, 0)),
			input:   []inputOption{ready("2", 1), applied("2", 0)},
			want: []check{phase(v1alpha1.PhaseProgressing), atStep(0), weight(5), message("router to apply weight 5%"),
				events("WeightChanged"),
				traffic(Traffic{Stable: "1", Canary: "2", CanaryWeight: 5, Preview: "2"})},
		},
		"setWeight completes when the router applied it; the timed pause starts, and the background analysis": {
			rollout: example(releasing("2", 0, 5)),
			input:   []inputOption{ready("2", 1), applied("2", 5)},
			want: []check{phase(v1alpha1.PhasePaused), atStep(1), weight(5), pauses(v1alpha1.PauseCanaryStep),
				requeue(30 * time.Second), runs(bg), events("StepCompleted", "AnalysisStarted"),
				statusHas("the step clock restarted", func(s v1alpha1.RolloutStatus) bool { return s.StepStartedAt.Equal(mt(0)) })},
		},
		"a timed pause waits for what is left of it": {
			rollout: example(releasing("2", 1, 5), withBackground, pausedFor(v1alpha1.PauseCanaryStep)),
			input:   []inputOption{ready("2", 1), applied("2", 5), now(12 * time.Second)},
			want:    []check{phase(v1alpha1.PhasePaused), atStep(1), requeue(18 * time.Second), message("18s left"), events()},
		},
		"a clock started within a second counts from the next whole one, as the status keeps whole seconds": {
			rollout: example(releasing("2", 0, 5)),
			input:   []inputOption{ready("2", 1), applied("2", 5), now(900 * time.Millisecond)},
			want: []check{atStep(1), pauses(v1alpha1.PauseCanaryStep), requeue(30 * time.Second),
				statusHas("the step clock at 1s, not 0s", func(s v1alpha1.RolloutStatus) bool { return s.StepStartedAt.Equal(mt(time.Second)) })},
		},
		"so a timed pause never ends early: 29.9s after its recorded start, 30.8s after the real one": {
			rollout: example(releasing("2", 1, 5), withBackground, pausedFor(v1alpha1.PauseCanaryStep),
				withStatus(func(s *v1alpha1.RolloutStatus) { s.StepStartedAt = mt(time.Second) })),
			input: []inputOption{ready("2", 1), applied("2", 5), now(30*time.Second + 900*time.Millisecond)},
			want:  []check{phase(v1alpha1.PhasePaused), atStep(1), requeue(100 * time.Millisecond), events()},
		},
		"a timed pause ends after its duration; the header route is asked for": {
			rollout: example(releasing("2", 1, 5), withBackground, pausedFor(v1alpha1.PauseCanaryStep)),
			input:   []inputOption{ready("2", 1), applied("2", 5), now(30 * time.Second)},
			want: []check{phase(v1alpha1.PhaseProgressing), atStep(2), pauses(), message("header route \"testers\""),
				traffic(Traffic{Stable: "1", Canary: "2", CanaryWeight: 5, Preview: "2", HeaderRoutes: []v1alpha1.SetHeaderRoute{testers}}),
				events("StepCompleted")},
		},
		"setHeaderRoute completes when the router applied it; the step analysis starts": {
			rollout: example(releasing("2", 2, 5), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 5), withHeaderRoutes(testers)},
			want: []check{phase(v1alpha1.PhaseProgressing), atStep(3), runs(step3, bg), message("waiting for analysis " + step3),
				events("StepCompleted", "AnalysisStarted")},
		},
		"a route reported with an empty list where the spec has none is applied": {
			rollout: newRollout(steps(mirrorRoute("shadow", new(int32(10))), pauseUntilPromoted()), releasing("2", 0, 0)),
			input: []inputOption{ready("2", 1), routes(Traffic{Stable: "1", Canary: "2", Preview: "2", MirrorRoutes: []v1alpha1.SetMirrorRoute{
				{Name: "shadow", Percentage: new(int32(10)), Match: []v1alpha1.RouteMatch{}}}})},
			want: []check{atStep(1)},
		},
		"a header route applied differently is not applied": {
			rollout: example(releasing("2", 2, 5), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 5), withHeaderRoutes(v1alpha1.SetHeaderRoute{Name: "testers"})},
			want:    []check{atStep(2), message("header route")},
		},
		"a running step analysis holds the step": {
			rollout: example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisPending)),
			input:   []inputOption{ready("2", 1), applied("2", 5), observed(step3, v1alpha1.AnalysisRunning)},
			want:    []check{phase(v1alpha1.PhaseProgressing), atStep(3), runs(step3, bg), events()},
		},
		"a successful step analysis completes the step; setWeight 50 needs one replica of two": {
			rollout: example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), applied("2", 5), observed(step3, v1alpha1.AnalysisSuccessful)},
			want: []check{phase(v1alpha1.PhaseProgressing), atStep(4), weight(50), runs(bg),
				events("AnalysisSuccessful", "StepCompleted", "WeightChanged"), scaled(map[string]int32{"1": 2, "2": 1}),
				statusHas("no step run", func(s v1alpha1.RolloutStatus) bool { return s.StepAnalysisRun == nil })},
		},
		"a failed step analysis aborts; the canary keeps its replicas while the router still sends it traffic": {
			rollout: example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), applied("2", 5), observed(step3, v1alpha1.AnalysisFailed)},
			want: []check{phase(v1alpha1.PhaseDegraded), isAborted(true), weight(0), runs(), message("analysis " + step3 + " failed"),
				traffic(Traffic{Stable: "1"}), scaled(map[string]int32{"1": 2, "2": 1}), events("AnalysisFailed", "AnalysisFailed")},
		},
		"an inconclusive step analysis pauses": {
			rollout: example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), applied("2", 5), observed(step3, v1alpha1.AnalysisInconclusive)},
			want: []check{phase(v1alpha1.PhasePaused), atStep(3), weight(5), pauses(v1alpha1.PauseInconclusive),
				runs(step3, bg), events("AnalysisInconclusive", "AnalysisInconclusive")},
		},
		"a step analysis in error pauses as inconclusive": {
			rollout: example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), applied("2", 5), observed(step3, v1alpha1.AnalysisError)},
			want:    []check{phase(v1alpha1.PhasePaused), atStep(3), pauses(v1alpha1.PauseInconclusive)},
		},
		"an inconclusive pause holds until resumed, even when the run is seen again": {
			rollout: example(releasing("2", 3, 5), withBackground, holding(stepSlot, step3, v1alpha1.AnalysisInconclusive), pausedFor(v1alpha1.PauseInconclusive)),
			input:   []inputOption{ready("2", 1), applied("2", 5), observed(step3, v1alpha1.AnalysisSuccessful)},
			want:    []check{phase(v1alpha1.PhasePaused), atStep(3), pauses(v1alpha1.PauseInconclusive), events()},
		},
		"setWeight 50 waits for the router; the canary is scaled for it": {
			rollout: example(releasing("2", 4, 50), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 5)},
			want:    []check{atStep(4), weight(50), message("weight 50%"), scaled(map[string]int32{"1": 2, "2": 1})},
		},
		"an indefinite pause waits for a human, without a timer": {
			rollout: example(releasing("2", 4, 50), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 50)},
			want: []check{phase(v1alpha1.PhasePaused), atStep(5), pauses(v1alpha1.PauseCanaryStep), requeue(0),
				message("fledge promote"), events("StepCompleted")},
		},
		"an indefinite pause names the edge's promote command": {
			rollout: example(releasing("2", 4, 50), withBackground),
			input: []inputOption{ready("2", 1), applied("2", 50),
				func(in *Input) { in.PromoteWith = "kubectl fledge promote" }},
			want: []check{phase(v1alpha1.PhasePaused), atStep(5), message("waiting for `kubectl fledge promote`")},
		},
		"an indefinite pause does not end with time": {
			rollout: example(releasing("2", 5, 50), withBackground, pausedFor(v1alpha1.PauseCanaryStep)),
			input:   []inputOption{ready("2", 1), applied("2", 50), now(24 * time.Hour)},
			want:    []check{phase(v1alpha1.PhasePaused), atStep(5), events()},
		},
		"setWeight 100 scales the canary to full first": {
			rollout: example(releasing("2", 6, 50), withBackground),
			input:   []inputOption{running("2", 2, 1), applied("2", 50)},
			want:    []check{atStep(6), weight(50), message("1/2 replicas ready"), scaled(map[string]int32{"1": 2, "2": 2})},
		},
		"the last step applied promotes: the canary is stable, the old one warm for the delay": {
			rollout: example(releasing("2", 6, 100), withBackground),
			input:   []inputOption{ready("2", 2), applied("2", 100)},
			want: []check{phase(v1alpha1.PhaseHealthy), revisions("2", ""), atStep(7), weight(0), runs(),
				traffic(Traffic{Stable: "2"}), scaled(map[string]int32{"1": 2, "2": 2}), requeue(30 * time.Second),
				events("StepCompleted", "Promoted"),
				statusHas("revision 1 warm until t0+30s", func(s v1alpha1.RolloutStatus) bool {
					return len(s.ScaleDowns) == 1 && s.ScaleDowns[0].Revision == "1" && s.ScaleDowns[0].At.Equal(mt(30*time.Second))
				})},
		},
		"the previous stable revision is scaled down once its delay is over": {
			rollout: example(withStatus(func(s *v1alpha1.RolloutStatus) {
				s.StableRevision, s.CurrentStepIndex = "2", 7
				s.ScaleDowns = []v1alpha1.ScaleDown{{Revision: "1", At: *mt(30 * time.Second)}}
			})),
			input: []inputOption{ready("2", 2), ready("1", 2), now(30 * time.Second), routes(Traffic{Stable: "2"})},
			want:  []check{phase(v1alpha1.PhaseHealthy), scaled(map[string]int32{"2": 2}), events("ScaledDown"), requeue(0)},
		},
		"a background analysis does not start before its starting step": {
			rollout: example(releasing("2", 0, 0)),
			input:   []inputOption{ready("2", 1), applied("2", 0)},
			want:    []check{runs()},
		},
		"a failed background analysis aborts": {
			rollout: example(releasing("2", 4, 50), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 50), observed(bg, v1alpha1.AnalysisFailed)},
			want: []check{phase(v1alpha1.PhaseDegraded), isAborted(true), weight(0), atStep(4), runs(), traffic(Traffic{Stable: "1"}),
				message("background analysis " + bg + " failed")},
		},
		"an inconclusive background analysis pauses where it is": {
			rollout: example(releasing("2", 4, 50), withBackground),
			input:   []inputOption{ready("2", 1), applied("2", 50), observed(bg, v1alpha1.AnalysisInconclusive)},
			want:    []check{phase(v1alpha1.PhasePaused), atStep(4), weight(50), pauses(v1alpha1.PauseInconclusive), runs(bg)},
		},
		"the background analysis goes on while promoting, and its failure still aborts": {
			rollout: example(releasing("2", 7, 50), withBackground),
			input:   []inputOption{ready("2", 2), applied("2", 50), observed(bg, v1alpha1.AnalysisFailed)},
			want:    []check{isAborted(true), revisions("1", "2")},
		},
		"a weight going down keeps the replicas the router still needs": {
			rollout: newRollout(replicas(4), steps(setWeight(100), setWeight(25)), releasing("2", 1, 100)),
			input:   []inputOption{ready("2", 4), applied("2", 100)},
			want:    []check{atStep(1), weight(25), scaled(map[string]int32{"1": 4, "2": 4})},
		},
		"once the router lowered the weight, the canary scales down to it": {
			rollout: newRollout(replicas(4), steps(setWeight(100), setWeight(25), pauseUntilPromoted()), releasing("2", 1, 25)),
			input:   []inputOption{ready("2", 4), applied("2", 25)},
			want:    []check{atStep(2), weight(25), scaled(map[string]int32{"1": 4, "2": 1})},
		},
		"a mirror route completes when the router applied it": {
			rollout: newRollout(steps(mirrorRoute("shadow", new(int32(50)), v1alpha1.RouteMatch{Path: &v1alpha1.StringMatch{Prefix: "/api"}}), pauseUntilPromoted()),
				releasing("2", 0, 0)),
			input: []inputOption{ready("2", 1), routes(Traffic{Stable: "1", Canary: "2", Preview: "2", MirrorRoutes: []v1alpha1.SetMirrorRoute{
				{Name: "shadow", Percentage: new(int32(50)), Match: []v1alpha1.RouteMatch{{Path: &v1alpha1.StringMatch{Prefix: "/api"}}}}}})},
			want: []check{atStep(1), phase(v1alpha1.PhasePaused)},
		},
		"a mirror route not yet applied holds the step": {
			rollout: newRollout(steps(mirrorRoute("shadow", nil, v1alpha1.RouteMatch{}), pauseUntilPromoted()), releasing("2", 0, 0)),
			input:   []inputOption{ready("2", 1)},
			want:    []check{atStep(0), message("mirror route \"shadow\"")},
		},
		"a header route without match removes the route, complete once the router dropped it": {
			rollout: newRollout(steps(headerRoute("testers", testerHeader), headerRoute("testers"), pauseUntilPromoted()), releasing("2", 1, 0)),
			input:   []inputOption{ready("2", 1)},
			want:    []check{atStep(2), traffic(Traffic{Stable: "1", Canary: "2", Preview: "2"})},
		},
		"a canary without steps is promoted as soon as it is full and routed": {
			rollout: newRollout(replicas(2), releasing("2", 0, 0)),
			input:   []inputOption{ready("2", 2), applied("2", 0)},
			want:    []check{atStep(0), weight(100), message("router to send it 100%"), scaled(map[string]int32{"1": 2, "2": 2})},
		},
		"promoting waits for the canary at full scale before weight 100": {
			rollout: newRollout(replicas(3), steps(setWeight(20)), releasing("2", 1, 20)),
			input:   []inputOption{running("2", 3, 2), applied("2", 20)},
			want:    []check{atStep(1), weight(20), message("2/3 replicas ready"), scaled(map[string]int32{"1": 3, "2": 3})},
		},
		"a paused canary still scales for the step it is at, but raises no weight": {
			rollout: example(releasing("2", 6, 50), withBackground, specPaused()),
			input:   []inputOption{ready("2", 2), applied("2", 50)},
			want:    []check{phase(v1alpha1.PhasePaused), atStep(6), weight(50), scaled(map[string]int32{"1": 2, "2": 2}), message("spec.paused")},
		},
	})
}
