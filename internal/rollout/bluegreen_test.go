package rollout

import (
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// TestBlueGreenSteps covers the four implicit steps of a blue-green rollout
// (preview, await, switch, post-promotion) and the promotion after them.
// Revision "2" replaces stable "1"; 3 replicas, a preview of 1.
func TestBlueGreenSteps(t *testing.T) {
	pre, post := runName("2", rolePre, 1), runName("2", rolePost, 2)
	rollout := func(opts ...rolloutOption) *v1alpha1.Rollout {
		base := []rolloutOption{replicas(3), blueGreen(previewReplicas(1), prePromotion("smoke"), postPromotion("error-rate"))}
		return newRollout(append(base, opts...)...)
	}
	readyAt := withStatus(func(s *v1alpha1.RolloutStatus) { s.PreviewReadyAt = mt(0) })
	previewTraffic := Traffic{Stable: "1", Canary: "2", Preview: "2"}
	runCases(t, map[string]case_{
		"the preview scales to its replica count and takes no traffic": {
			rollout: rollout(releasing("2", bgPreview, 0)),
			input:   []inputOption{running("2", 1, 0)},
			want: []check{phase(v1alpha1.PhaseProgressing), atStep(bgPreview), weight(0), message("preview revision 2: 0/1"),
				scaled(map[string]int32{"1": 3, "2": 1}), traffic(previewTraffic), runs()},
		},
		"a ready preview starts the pre-promotion analysis": {
			rollout: rollout(releasing("2", bgPreview, 0)),
			input:   []inputOption{ready("2", 1)},
			want: []check{atStep(bgPreview), runs(pre), events("PreviewReady", "AnalysisStarted"),
				statusHas("preview ready at t0", func(s v1alpha1.RolloutStatus) bool { return s.PreviewReadyAt.Equal(mt(0)) })},
		},
		"a successful pre-promotion analysis leads to the switch, which scales to full first": {
			rollout: rollout(releasing("2", bgPreview, 0), readyAt, holding(preSlot, pre, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), observed(pre, v1alpha1.AnalysisSuccessful)},
			want: []check{atStep(bgSwitch), weight(0), message("before the switch: 1/3"), scaled(map[string]int32{"1": 3, "2": 3}),
				events("AnalysisSuccessful", "StepCompleted", "StepCompleted")},
		},
		"a failed pre-promotion analysis aborts; the preview goes": {
			rollout: rollout(releasing("2", bgPreview, 0), readyAt, holding(preSlot, pre, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), observed(pre, v1alpha1.AnalysisFailed)},
			want: []check{phase(v1alpha1.PhaseDegraded), isAborted(true), traffic(Traffic{Stable: "1"}), runs(),
				scaled(map[string]int32{"1": 3, "2": 1})}, // kept until the router drops the preview
		},
		"an aborted preview is scaled down once the router dropped it": {
			rollout: rollout(releasing("2", bgPreview, 0), wasAborted()),
			input:   []inputOption{ready("2", 1), routes(Traffic{Stable: "1"})},
			want:    []check{phase(v1alpha1.PhaseDegraded), scaled(map[string]int32{"1": 3})},
		},
		"an inconclusive pre-promotion analysis pauses": {
			rollout: rollout(releasing("2", bgPreview, 0), readyAt, holding(preSlot, pre, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 1), observed(pre, v1alpha1.AnalysisInconclusive)},
			want:    []check{phase(v1alpha1.PhasePaused), atStep(bgPreview), pauses(v1alpha1.PauseInconclusive), scaled(map[string]int32{"1": 3, "2": 1})},
		},
		"auto-promotion waits its delay from when the preview was ready": {
			rollout: rollout(releasing("2", bgAwait, 0), readyAt, alsoBlueGreen(autoPromotionAfter(60))),
			input:   []inputOption{ready("2", 1), now(20 * time.Second)},
			want: []check{phase(v1alpha1.PhaseProgressing), atStep(bgAwait), requeue(40 * time.Second), message("auto-promotion of revision 2 in 40s"),
				scaled(map[string]int32{"1": 3, "2": 1})},
		},
		"auto-promotion switches once its delay is over": {
			rollout: rollout(releasing("2", bgAwait, 0), readyAt, alsoBlueGreen(autoPromotionAfter(60))),
			input:   []inputOption{ready("2", 1), now(60 * time.Second)},
			want:    []check{atStep(bgSwitch), scaled(map[string]int32{"1": 3, "2": 3})},
		},
		"without auto-promotion, the preview waits for a human": {
			rollout: rollout(releasing("2", bgAwait, 0), readyAt, alsoBlueGreen(manualPromotion)),
			input:   []inputOption{ready("2", 1), now(time.Hour)},
			want: []check{phase(v1alpha1.PhasePaused), atStep(bgAwait), pauses(v1alpha1.PausePreviewPromotion), requeue(0),
				message("fledge promote"), scaled(map[string]int32{"1": 3, "2": 1})},
		},
		"the switch sends all traffic once the new revision is full": {
			rollout: rollout(releasing("2", bgSwitch, 0), readyAt),
			input:   []inputOption{ready("2", 3)},
			want: []check{atStep(bgSwitch), weight(100), events("Switched"), message("router to switch"),
				traffic(Traffic{Stable: "1", Canary: "2", CanaryWeight: 100, Preview: "2"})},
		},
		"the switch applied starts the post-promotion analysis, the old revision still warm": {
			rollout: rollout(releasing("2", bgSwitch, 100), readyAt, holding(preSlot, pre, v1alpha1.AnalysisSuccessful)),
			input:   []inputOption{ready("2", 3), applied("2", 100)},
			want: []check{atStep(bgPost), weight(100), runs(pre, post), scaled(map[string]int32{"1": 3, "2": 3}),
				events("StepCompleted", "AnalysisStarted")},
		},
		"a failed post-promotion analysis sends the traffic back to the warm old revision": {
			rollout: rollout(releasing("2", bgPost, 100), readyAt, holding(postSlot, post, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 3), applied("2", 100), observed(post, v1alpha1.AnalysisFailed)},
			want: []check{phase(v1alpha1.PhaseDegraded), isAborted(true), weight(0), traffic(Traffic{Stable: "1"}),
				scaled(map[string]int32{"1": 3, "2": 3}), revisions("1", "2")},
		},
		"a successful post-promotion analysis promotes": {
			rollout: rollout(releasing("2", bgPost, 100), readyAt, holding(postSlot, post, v1alpha1.AnalysisRunning)),
			input:   []inputOption{ready("2", 3), applied("2", 100), observed(post, v1alpha1.AnalysisSuccessful)},
			want: []check{phase(v1alpha1.PhaseHealthy), revisions("2", ""), atStep(blueGreenSteps), traffic(Traffic{Stable: "2"}),
				scaled(map[string]int32{"1": 3, "2": 3}), runs(), requeue(30 * time.Second),
				events("AnalysisSuccessful", "StepCompleted", "Promoted")},
		},
		"without analyses, a ready preview goes straight to the switch": {
			rollout: newRollout(replicas(2), blueGreen(), releasing("2", bgPreview, 0)),
			input:   []inputOption{ready("2", 2)},
			want:    []check{atStep(bgSwitch), weight(100), events("PreviewReady", "StepCompleted", "StepCompleted", "Switched")},
		},
		"the preview defaults to full scale": {
			rollout: newRollout(replicas(2), blueGreen(), releasing("2", bgPreview, 0)),
			input:   []inputOption{running("2", 1, 1)},
			want:    []check{atStep(bgPreview), scaled(map[string]int32{"1": 2, "2": 2})},
		},
		"a paused blue-green keeps its preview's scale": {
			rollout: rollout(releasing("2", bgAwait, 0), readyAt, alsoBlueGreen(manualPromotion), pausedFor(v1alpha1.PauseUser)),
			input:   []inputOption{ready("2", 1)},
			want:    []check{phase(v1alpha1.PhasePaused), scaled(map[string]int32{"1": 3, "2": 1})},
		},
	})
}
