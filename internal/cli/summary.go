package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner"
	"fledge.dev/fledge/internal/runner/store"
)

// summary is what `fledge status` shows, and its -o json/yaml form.
type summary struct {
	Name    string                `json:"name"`
	Phase   v1alpha1.RolloutPhase `json:"phase"`
	Message string                `json:"message"`
	// Strategy is "canary" or "blueGreen".
	Strategy string `json:"strategy"`
	// CurrentStepIndex is the step being executed; Steps when all are done.
	CurrentStepIndex int32 `json:"currentStepIndex"`
	Steps            int   `json:"steps"`
	// Step describes the current step, e.g. "pause: 30s (12s left)".
	Step            string                    `json:"step,omitempty"`
	CanaryWeight    int32                     `json:"canaryWeight"`
	StableRevision  string                    `json:"stableRevision"`
	CanaryRevision  string                    `json:"canaryRevision"`
	DesiredRevision string                    `json:"desiredRevision,omitempty"`
	Abort           bool                      `json:"abort"`
	PausedBySpec    bool                      `json:"pausedBySpec,omitempty"`
	PauseConditions []v1alpha1.PauseCondition `json:"pauseConditions"`
	Replicas        replicaSummary            `json:"replicas"`
	AnalysisRuns    []runSummary              `json:"analysisRuns"`
	Events          []store.Event             `json:"events,omitempty"`
}

type replicaSummary struct {
	Desired      int32 `json:"desired"`
	Running      int32 `json:"running"`
	Ready        int32 `json:"ready"`
	Updated      int32 `json:"updated"`
	UpdatedReady int32 `json:"updatedReady"`
}

type runSummary struct {
	Name string `json:"name"`
	// Role is why the rollout waits on it: step, background, prePromotion,
	// postPromotion; empty for a run it no longer depends on.
	Role    string                 `json:"role,omitempty"`
	Phase   v1alpha1.AnalysisPhase `json:"phase"`
	Message string                 `json:"message,omitempty"`
	Started *time.Time             `json:"startedAt,omitempty"`
}

// maxEvents is how many of the last events status shows.
const maxEvents = 5

// summarize builds the status view of a rollout at now.
func summarize(ro *v1alpha1.Rollout, runs []*v1alpha1.AnalysisRun, events []store.Event, now time.Time) summary {
	st := ro.Status
	s := summary{
		Name: ro.Name, Phase: st.Phase, Message: st.Message,
		CurrentStepIndex: st.CurrentStepIndex, CanaryWeight: st.CanaryWeight,
		StableRevision: st.StableRevision, CanaryRevision: st.CanaryRevision,
		DesiredRevision: ro.Annotations[runner.AnnotationRevision],
		Abort:           st.Abort, PausedBySpec: ro.Spec.Paused,
		PauseConditions: append([]v1alpha1.PauseCondition{}, st.PauseConditions...),
		Replicas: replicaSummary{
			Desired: v1alpha1.Int32(ro.Spec.Replicas), Running: st.Replicas, Ready: st.ReadyReplicas,
			Updated: st.UpdatedReplicas, UpdatedReady: st.UpdatedReadyReplicas,
		},
		AnalysisRuns: summarizeRuns(st, runs),
	}
	switch {
	case ro.Spec.Strategy.Canary != nil:
		s.Strategy = "canary"
		s.Steps = len(ro.Spec.Strategy.Canary.Steps)
		s.Step = describeStep(ro, now)
	case ro.Spec.Strategy.BlueGreen != nil:
		s.Strategy = "blueGreen"
		s.Step = describeBlueGreen(st)
	}
	if len(events) > maxEvents {
		events = events[len(events)-maxEvents:]
	}
	s.Events = events
	return s
}

// describeStep says what the current canary step does, and how far it is.
func describeStep(ro *v1alpha1.Rollout, now time.Time) string {
	st := ro.Status
	steps := ro.Spec.Strategy.Canary.Steps
	i := int(st.CurrentStepIndex)
	switch {
	case st.CanaryRevision == "":
		return ""
	case i < 0 || i >= len(steps):
		return "all steps done"
	}
	step := steps[i]
	switch {
	case step.SetWeight != nil:
		return fmt.Sprintf("setWeight: %d", *step.SetWeight)
	case step.Pause != nil && step.Pause.Duration != nil:
		d := step.Pause.Duration.Duration
		text := "pause: " + d.String()
		if st.StepStartedAt != nil && !st.Abort {
			left := max(d-now.Sub(st.StepStartedAt.Time), 0).Round(time.Second)
			text += fmt.Sprintf(" (%s left)", left)
		}
		return text
	case step.Pause != nil:
		return "pause: waiting for promote"
	case step.Analysis != nil:
		var names []string
		for _, t := range step.Analysis.Templates {
			names = append(names, t.TemplateName)
		}
		phase := v1alpha1.AnalysisPending
		if st.StepAnalysisRun != nil && st.StepAnalysisRun.Phase != "" {
			phase = st.StepAnalysisRun.Phase
		}
		return fmt.Sprintf("analysis: %s (%s)", strings.Join(names, ", "), phase)
	case step.SetHeaderRoute != nil:
		return "setHeaderRoute: " + step.SetHeaderRoute.Name
	case step.SetMirrorRoute != nil:
		return fmt.Sprintf("setMirrorRoute: %s (%d%%)", step.SetMirrorRoute.Name, v1alpha1.Int32(step.SetMirrorRoute.Percentage))
	}
	return ""
}

// describeBlueGreen says where a blue-green release stands.
func describeBlueGreen(st v1alpha1.RolloutStatus) string {
	switch {
	case st.CanaryRevision == "":
		return ""
	case st.Abort:
		return fmt.Sprintf("aborted: revision %s is not served", st.CanaryRevision)
	case st.CanaryWeight >= 100:
		return fmt.Sprintf("switched to revision %s", st.CanaryRevision)
	case hasPause(st, v1alpha1.PausePreviewPromotion):
		return fmt.Sprintf("preview of revision %s: waiting for promote", st.CanaryRevision)
	}
	return fmt.Sprintf("preview of revision %s", st.CanaryRevision)
}

func hasPause(st v1alpha1.RolloutStatus, reason v1alpha1.PauseReason) bool {
	for _, c := range st.PauseConditions {
		if c.Reason == reason {
			return true
		}
	}
	return false
}

// summarizeRuns lists the runs, the ones the rollout depends on first, each
// with its role, then the others newest first.
func summarizeRuns(st v1alpha1.RolloutStatus, runs []*v1alpha1.AnalysisRun) []runSummary {
	roles := map[string]string{}
	for role, ref := range map[string]*v1alpha1.RunRef{
		"step": st.StepAnalysisRun, "background": st.BackgroundAnalysisRun,
		"prePromotion": st.PrePromotionRun, "postPromotion": st.PostPromotionRun,
	} {
		if ref != nil {
			roles[ref.Name] = role
		}
	}
	out := []runSummary{}
	for _, r := range runs {
		s := runSummary{Name: r.Name, Role: roles[r.Name], Phase: r.Status.Phase, Message: r.Status.Message}
		if s.Phase == "" {
			s.Phase = v1alpha1.AnalysisPending
		}
		if r.Status.StartedAt != nil {
			t := r.Status.StartedAt.Time
			s.Started = &t
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Role != "") != (b.Role != "") {
			return a.Role != ""
		}
		if a.Started == nil || b.Started == nil {
			return a.Started != nil
		}
		return a.Started.After(*b.Started)
	})
	return out
}

// settled tells whether a watch is over: the desired revision is stable and
// fully released (ok), or the rollout is Degraded (not ok).
func settled(ro *v1alpha1.Rollout) (done, ok bool) {
	st := ro.Status
	switch st.Phase {
	case v1alpha1.PhaseDegraded:
		return true, false
	case v1alpha1.PhaseHealthy:
		desired := ro.Annotations[runner.AnnotationRevision]
		return st.CanaryRevision == "" && (desired == "" || desired == st.StableRevision), true
	}
	return false, false
}
