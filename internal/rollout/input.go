package rollout

import (
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// Input is everything the engine needs to decide: the defaulted spec, the
// last status, what the edges observed, the time and the user's command.
type Input struct {
	// Rollout holds the defaulted, valid spec and the status last decided.
	Rollout *v1alpha1.Rollout
	// DesiredRevision is the revision id of the spec's template (assigned by
	// the edge: a new id when the template is new, the old id when it is equal
	// to a revision in history).
	DesiredRevision string
	// Now is the time of the decision; the engine reads no clock.
	Now time.Time
	// Replicas is what runs, per revision.
	Replicas map[string]ReplicaObservation
	// Traffic is what the router reports as applied.
	Traffic Traffic
	// Analysis is the phase of each analysis run the edge knows, by name.
	Analysis map[string]RunObservation
	// Command is the user's command, if any, to apply in this decision.
	Command Command
	// Gates is the last answer of the webhook gates the edge checks (those
	// the last Decision asked for), by type; a gate not listed is closed.
	Gates map[v1alpha1.WebhookType]GateObservation
	// PromoteWith is the command a user promotes with, for the messages
	// of a rollout waiting for one; empty: "fledge promote" (the daemon's
	// CLI; the Kubernetes controller names kubectl's plugin).
	PromoteWith string
}

// promoteWith is the command the status messages tell a user to run.
func (in Input) promoteWith() string {
	if in.PromoteWith == "" {
		return "fledge promote"
	}
	return in.PromoteWith
}

// ReplicaObservation counts the replicas of one revision.
type ReplicaObservation struct {
	// Replicas is how many are running or starting (not terminating).
	Replicas int32
	// Ready is how many pass their readiness probe (and minReadySeconds).
	Ready int32
}

// RunObservation is the state of one analysis run.
type RunObservation struct {
	Phase   v1alpha1.AnalysisPhase
	Message string
	// HoldWeight says the run keeps the canary's weight from rising now (a
	// judge that has not passed yet); HoldReason says why, for the status.
	HoldWeight bool
	HoldReason string
	// InconclusivePolicy is what an Inconclusive or Error verdict of the
	// run does: pause (Pause, or unset) or abort (Abort).
	InconclusivePolicy v1alpha1.InconclusivePolicy
}

// Command is a user's command; the zero value is none.
type Command string

// The commands.
const (
	CommandNone        Command = ""
	CommandPromote     Command = "promote"      // end the current step (a pause, an analysis) and go on
	CommandPromoteFull Command = "promote-full" // skip every remaining step and analysis (their runs are terminated)
	CommandAbort       Command = "abort"        // traffic back to stable, canary scaled down
	CommandRetry       Command = "retry"        // start an aborted rollout again from step 0
	CommandPause       Command = "pause"        // hold where it is
	CommandResume      Command = "resume"       // lift a user or inconclusive pause; with none, end a pause that waits for a human
)

// Traffic is the desired (in a Decision) or applied (in an Input) state of
// the router.
type Traffic struct {
	// Stable is the revision that takes the traffic not sent to Canary.
	Stable string
	// Canary is the revision being released; empty when none.
	Canary string
	// CanaryWeight is the percentage (0-100) sent to Canary.
	CanaryWeight int32
	// HeaderRoutes send matching requests to Canary whatever the weight.
	HeaderRoutes []v1alpha1.SetHeaderRoute
	// MirrorRoutes copy matching requests to Canary.
	MirrorRoutes []v1alpha1.SetMirrorRoute
	// Preview is the revision served on the preview address; empty: none.
	Preview string
}

// Decision is what the engine decided: the next status and the desired state
// of the edges, which they reach in the order given by the engine's
// invariants (the engine only scales a canary down once the Input shows its
// traffic already gone).
type Decision struct {
	// Status is the next status, to persist before acting.
	Status v1alpha1.RolloutStatus
	// Replicas is the desired replica count of every revision that should
	// run; a revision not listed should have none.
	Replicas map[string]int32
	// Traffic is the desired router state.
	Traffic Traffic
	// Analysis lists the runs that should be running; a run the edge has that
	// is not listed is terminated.
	Analysis []RunSpec
	// Events say what changed, for the history and the logs.
	Events []Event
	// RequeueAfter asks to be called again within this time even if nothing
	// is observed to change (a pause ending, a scale-down delay); zero: no
	// timer is needed.
	RequeueAfter time.Duration
	// CommandError says why Input.Command did not apply (nothing to abort,
	// nothing to retry...); empty when it applied or there was none.
	CommandError string
	// Gates lists the webhook gates the edge should check (and re-check
	// every few seconds) for the next decision; post-rollout, listed in the
	// decision that promotes, is called once and its answer ignored.
	Gates []v1alpha1.WebhookType
}

// RunSpec is an analysis run the rollout depends on.
type RunSpec struct {
	// Name is unique per rollout, revision, role and attempt.
	Name string
	// Revision is the revision the run judges.
	Revision string
	// Analysis lists the templates and arguments.
	Analysis v1alpha1.RolloutAnalysis
	// Blocking runs end and decide a step; background runs go on.
	Blocking bool
}

// Event is one transition worth telling.
type Event struct {
	// Type is Normal or Warning.
	Type string
	// Reason is a CamelCase word (RolloutStarted, StepCompleted, Aborted...).
	Reason  string
	Message string
}

// Event types.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)
