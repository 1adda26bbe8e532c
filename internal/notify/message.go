package notify

import (
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner/store"
)

// Event is a kind of notification, as --notify-events names it.
type Event string

// The events a notification is sent for.
const (
	Started        Event = "started"
	Step           Event = "step"
	Paused         Event = "paused"
	AnalysisFailed Event = "analysisFailed"
	Aborted        Event = "aborted"
	Promoted       Event = "promoted"
)

// Events are every event, in the order a release meets them.
var Events = []Event{Started, Step, Paused, AnalysisFailed, Aborted, Promoted}

// reasons maps the engine's event reasons (internal/rollout) to the
// notification they make. Aborted is not here: any abort is seen as the
// status's Abort turning on, whatever its reason (abortReasons). A pause
// step emits no event: it is seen as the phase turning Paused.
var reasons = map[string]Event{
	"RolloutStarted":       Started, // a release begins
	"RolloutRestarted":     Started, // a newer revision replaces the one being released
	"WeightChanged":        Step,    // the canary's weight moved
	"StepCompleted":        Step,    // a canary step is done
	"PromotedFull":         Step,    // a human skipped the remaining steps
	"PreviewReady":         Step,    // blue-green: the preview is up
	"Switched":             Step,    // blue-green: all traffic goes to the new revision
	"Paused":               Paused,  // a human paused
	"AnalysisInconclusive": Paused,  // an analysis could not decide: waiting for a human
	"AnalysisFailed":       AnalysisFailed,
	"Promoted":             Promoted, // the new revision is stable
}

// abortReasons are the reasons of the events the engine records when it
// aborts; the last one in a decision names the abort.
var abortReasons = map[string]bool{
	"Aborted":                   true, // a human aborted (abort, or undo during a release)
	"AnalysisFailed":            true,
	"AnalysisInconclusiveAbort": true,
	"ProgressDeadlineExceeded":  true,
}

// Change is what one decision of a rollout did.
type Change struct {
	Rollout string
	// Namespace is the rollout's namespace; empty in local mode.
	Namespace string
	// Previous is the status before the decision, Status after it.
	Previous, Status v1alpha1.RolloutStatus
	// Events are the events the decision stored, oldest first.
	Events []store.Event
	// Time is when the decision was made (for what no event dates).
	Time time.Time
}

// Message is one notification: the JSON body of a generic webhook.
type Message struct {
	Rollout   string `json:"rollout"`
	Namespace string `json:"namespace"`
	Event     Event  `json:"event"`
	// Reason is the engine's reason (RolloutStarted, WeightChanged, ...) or,
	// for a pause without an event, the pause condition's.
	Reason   string    `json:"reason"`
	Message  string    `json:"message"`
	Revision Revisions `json:"revision"`
	// Weight is the canary's share of traffic, in percent.
	Weight int32 `json:"weight"`
	// Step is the index of the canary step being executed.
	Step  int32     `json:"step"`
	Phase string    `json:"phase"`
	Time  time.Time `json:"time"`
}

// Revisions are the revisions of a rollout; Canary is empty when no
// release is under way (after a promotion, for one).
type Revisions struct {
	Stable string `json:"stable"`
	Canary string `json:"canary"`
}

// Messages maps a decision to its notifications, at most one per event,
// in the order of Events. Several events of one kind in one decision
// (a weight change and the step it completes) make one message whose
// text joins theirs.
func Messages(c Change) []Message {
	found := map[Event]*Message{}
	add := func(ev Event, reason, text string, at time.Time) {
		if m := found[ev]; m != nil {
			if !strings.Contains(m.Message, text) {
				m.Message += "; " + text
			}
			return
		}
		found[ev] = c.message(ev, reason, text, at)
	}
	var abort *store.Event
	for i, e := range c.Events {
		if ev, ok := reasons[e.Reason]; ok && !(ev == AnalysisFailed && found[ev] != nil) {
			add(ev, e.Reason, e.Message, e.Time)
		}
		if abortReasons[e.Reason] {
			abort = &c.Events[i]
		}
	}
	if c.Status.Abort && !c.Previous.Abort {
		reason, text, at := "Aborted", c.Status.Message, c.Time
		if abort != nil {
			reason, text, at = abort.Reason, abort.Message, abort.Time
		}
		add(Aborted, reason, text, at)
	}
	if c.Status.Phase == v1alpha1.PhasePaused && c.Previous.Phase != v1alpha1.PhasePaused && found[Paused] == nil {
		reason := "Paused"
		if n := len(c.Status.PauseConditions); n > 0 {
			reason = string(c.Status.PauseConditions[n-1].Reason)
		}
		add(Paused, reason, c.Status.Message, c.Time)
	}
	var out []Message
	for _, ev := range Events {
		if m := found[ev]; m != nil {
			out = append(out, *m)
		}
	}
	return out
}

func (c Change) message(ev Event, reason, text string, at time.Time) *Message {
	if at.IsZero() {
		at = c.Time
	}
	return &Message{
		Rollout: c.Rollout, Namespace: c.Namespace, Event: ev, Reason: reason, Message: text,
		Revision: Revisions{Stable: c.Status.StableRevision, Canary: c.Status.CanaryRevision},
		Weight:   c.Status.CanaryWeight, Step: c.Status.CurrentStepIndex, Phase: string(c.Status.Phase),
		Time: at.UTC(),
	}
}
