package rollout

import (
	"fmt"
	"slices"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// GateObservation is the last answer of the webhooks of one type (all of
// them must answer 2xx for the gate to be open).
type GateObservation struct {
	// Open says every webhook of the type answered 2xx.
	Open bool
	// Failed says a webhook answered non-2xx (or not at all) through all its
	// retries; a failed pre-rollout gate aborts the rollout.
	Failed bool
	// Message says which webhook answered what, for the status.
	Message string
	// CheckedAt is when the answer came.
	CheckedAt time.Time
}

// hasGate tells whether the strategy has a webhook of type t.
func (d *decider) hasGate(t v1alpha1.WebhookType) bool {
	for _, h := range d.spec.Strategy.Webhooks() {
		if h.Type == t {
			return true
		}
	}
	return false
}

// poll asks the edge to check the gate of type t.
func (d *decider) poll(t v1alpha1.WebhookType) {
	if !slices.Contains(d.out.Gates, t) {
		d.out.Gates = append(d.out.Gates, t)
	}
}

// gateHolds tells whether the gate of type t (if the strategy has one)
// holds what the rollout is about to do, asks the edge to keep checking it
// while it does, and says so in the status. A gate not yet checked holds.
func (d *decider) gateHolds(t v1alpha1.WebhookType, what string) bool {
	if !d.hasGate(t) {
		return false
	}
	obs, ok := d.in.Gates[t]
	if ok && obs.Open {
		return false
	}
	d.poll(t)
	why := "not answered yet"
	if ok && obs.Message != "" {
		why = obs.Message
	}
	d.wait("%s held by webhook gate %s: %s", what, t, why)
	return true
}

// gatesBeforeWeight holds a weight increase to w: the first traffic waits
// for pre-rollout (whose failure aborts), every increase for
// confirm-traffic-increase.
func (d *decider) gatesBeforeWeight(w int32) bool {
	if d.st.CanaryWeight == 0 && d.preRolloutHolds("the first traffic to the canary") {
		return true
	}
	return d.gateHolds(v1alpha1.WebhookConfirmTrafficIncrease, "weight increase to "+pct(w))
}

// preRolloutHolds holds what waits for the pre-rollout gate (the canary's
// first traffic, the blue-green preview's readiness); a failed pre-rollout
// aborts the rollout.
func (d *decider) preRolloutHolds(what string) bool {
	if !d.hasGate(v1alpha1.WebhookPreRollout) {
		return false
	}
	if obs := d.in.Gates[v1alpha1.WebhookPreRollout]; obs.Failed {
		d.abort("PreRolloutFailed", "pre-rollout webhook failed: %s", obs.Message)
		return true
	}
	return d.gateHolds(v1alpha1.WebhookPreRollout, what)
}

// rollbackRequested polls the rollback gate during a release (canary, or
// blue-green until its promotion completes): a 2xx answer asks for a
// rollback, and the rollout is aborted (Flagger's semantics).
func (d *decider) rollbackRequested() bool {
	if !d.hasGate(v1alpha1.WebhookRollback) {
		return false
	}
	d.poll(v1alpha1.WebhookRollback)
	obs := d.in.Gates[v1alpha1.WebhookRollback]
	if !obs.Open {
		return false
	}
	d.abort("RollbackRequested", "rollback requested by webhook: %s", obs.Message)
	return true
}

func pct(w int32) string { return fmt.Sprintf("%d%%", w) }
