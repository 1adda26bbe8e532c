package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RolloutPhase is the overall state of a rollout.
// +kubebuilder:validation:Enum=Healthy;Progressing;Paused;Degraded
type RolloutPhase string

// The phases. Healthy: the desired version is stable and fully available.
// Progressing: a release or a scale is under way. Paused: waiting for a pause
// to end or a human. Degraded: aborted, or the deadline passed.
const (
	PhaseHealthy     RolloutPhase = "Healthy"
	PhaseProgressing RolloutPhase = "Progressing"
	PhasePaused      RolloutPhase = "Paused"
	PhaseDegraded    RolloutPhase = "Degraded"
)

// PauseReason says why a rollout is paused.
type PauseReason string

// The pause reasons.
const (
	PauseCanaryStep        PauseReason = "CanaryPauseStep"
	PauseUser              PauseReason = "UserPaused"
	PauseInconclusive      PauseReason = "InconclusiveAnalysis"
	PauseBlueGreen         PauseReason = "BlueGreenPause"
	PausePreviewPromotion  PauseReason = "AwaitingPromotion"
	PauseProgressDeadline  PauseReason = "ProgressDeadlineExceeded"
	PauseAnalysisRunFailed PauseReason = "AnalysisRunFailed"
)

// PauseCondition is one reason the rollout is paused, since when.
type PauseCondition struct {
	Reason    PauseReason `json:"reason"`
	StartTime metav1.Time `json:"startTime"`
}

// RolloutStatus is what Fledge observed and decided. It is written only by
// the rollout engine (internal/rollout) through the edges that persist it.
type RolloutStatus struct {
	// Phase is Healthy, Progressing, Paused or Degraded.
	Phase RolloutPhase `json:"phase,omitempty"`
	// Message explains the phase in a sentence.
	Message string `json:"message,omitempty"`

	// StableRevision is the revision that takes traffic by default.
	StableRevision string `json:"stableRevision,omitempty"`
	// CanaryRevision is the revision being released; empty when none is.
	CanaryRevision string `json:"canaryRevision"`
	// CurrentStepIndex is the step being executed; len(steps) when all are done.
	CurrentStepIndex int32 `json:"currentStepIndex"`
	// CanaryWeight is the percentage of traffic the router was told to send
	// to the canary (for blue-green: 100 once switched).
	CanaryWeight int32 `json:"canaryWeight"`

	// Replicas counts every running replica; ReadyReplicas those ready;
	// UpdatedReplicas those of the desired revision.
	Replicas        int32 `json:"replicas"`
	ReadyReplicas   int32 `json:"readyReplicas"`
	UpdatedReplicas int32 `json:"updatedReplicas"`
	// UpdatedReadyReplicas counts the ready replicas of the desired revision.
	UpdatedReadyReplicas int32 `json:"updatedReadyReplicas"`
	// Selector is the label selector of the workload's pods, in the string
	// form of a label query, for the /scale subresource: a
	// HorizontalPodAutoscaler reads it to find the pods whose metrics count.
	Selector string `json:"selector,omitempty"`

	// Abort is set by `fledge abort`, a failed analysis or the deadline: the
	// canary gets no traffic and is scaled down until retry or a new version.
	Abort     bool         `json:"abort,omitempty"`
	AbortedAt *metav1.Time `json:"abortedAt,omitempty"`
	// PromoteFull skips the remaining steps and analyses (`promote --full`, undo).
	PromoteFull bool `json:"promoteFull,omitempty"`
	// PauseConditions list why the rollout is paused.
	PauseConditions []PauseCondition `json:"pauseConditions,omitempty"`

	// Attempt counts the attempts at releasing CanaryRevision (retry adds one);
	// it names analysis runs so that a retry starts fresh ones.
	Attempt int32 `json:"attempt,omitempty"`
	// StepStartedAt is when the current step began (pause durations).
	StepStartedAt *metav1.Time `json:"stepStartedAt,omitempty"`
	// ProgressAt is the last time the rollout made progress (the deadline's origin).
	ProgressAt *metav1.Time `json:"progressAt,omitempty"`
	// PreviewReadyAt is when the blue-green preview became fully ready.
	PreviewReadyAt *metav1.Time `json:"previewReadyAt,omitempty"`

	// RunSeq numbers the analysis runs the rollout has started, so that each
	// run (after a retry, a resume) gets a fresh name.
	RunSeq int32 `json:"runSeq,omitempty"`
	// Analysis runs the rollout currently depends on, by role.
	StepAnalysisRun       *RunRef `json:"stepAnalysisRun,omitempty"`
	BackgroundAnalysisRun *RunRef `json:"backgroundAnalysisRun,omitempty"`
	PrePromotionRun       *RunRef `json:"prePromotionRun,omitempty"`
	PostPromotionRun      *RunRef `json:"postPromotionRun,omitempty"`

	// ScaleDowns are previous revisions kept warm until a time.
	ScaleDowns []ScaleDown `json:"scaleDowns,omitempty"`

	// Conditions in the Kubernetes style: Available, Progressing, Paused,
	// Completed, InvalidSpec.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RunRef names an analysis run and its last known phase.
type RunRef struct {
	Name    string        `json:"name"`
	Phase   AnalysisPhase `json:"phase,omitempty"`
	Message string        `json:"message,omitempty"`
}

// ScaleDown keeps a revision running until At.
type ScaleDown struct {
	Revision string      `json:"revision"`
	At       metav1.Time `json:"at"`
}
