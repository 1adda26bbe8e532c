package rollout

import (
	"fmt"
	"math/rand"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

// TestInvariants drives many random worlds (specs, observations, lags,
// commands, template changes, undos) and checks every decision against the
// engine's contract (see contractViolations).
func TestInvariants(t *testing.T) {
	worlds, ticks := 400, 200
	if testing.Short() {
		worlds = 50
	}
	seen := map[string]int{}
	for seed := int64(1); seed <= int64(worlds); seed++ {
		rng := rand.New(rand.NewSource(seed))
		w := newWorld(rng, randomRollout(rng, 1))
		for i := 0; i < ticks; i++ {
			if errs := w.tick(); len(errs) > 0 {
				t.Fatalf("seed %d, tick %d: %v\nspec: %+v\nlast decisions:\n%s", seed, i, errs, w.ro.Spec.Strategy, w.lastTrace(12))
			}
		}
		for k, v := range w.seen {
			seen[k] += v
		}
	}
	// The worlds must have gone everywhere, or the invariants prove little.
	for _, reason := range []string{
		"InitialRevision", "RolloutStarted", "RolloutRestarted", "RolloutCanceled", "StepCompleted", "WeightChanged",
		"Switched", "PreviewReady", "AnalysisStarted", "AnalysisFailed", "AnalysisInconclusive", "Promoted", "ScaledDown",
		"PromotedThroughSteps", "Aborted", "ProgressDeadlineExceeded", "Retried", "PromotedFull", "Paused", "Resumed",
		"WeightHeld", "AnalysisInconclusiveAbort",
	} {
		if seen[reason] == 0 {
			t.Errorf("no world saw a %s event; seen: %v", reason, seen)
		}
	}
	t.Logf("events seen: %v", seen)
}

// TestGateInvariants drives random canaries with every webhook gate, whose
// answers change at random, and checks what the gates promise: the weight
// never rises while the confirm-traffic-increase gate is closed, the first
// traffic waits for pre-rollout, and nothing is promoted past a closed
// confirm-promotion gate.
func TestGateInvariants(t *testing.T) {
	worlds, ticks := 200, 200
	if testing.Short() {
		worlds = 30
	}
	seen := map[string]int{}
	for seed := int64(1); seed <= int64(worlds); seed++ {
		rng := rand.New(rand.NewSource(seed))
		ro := randomRollout(rng, 1)
		if ro.Spec.Strategy.Canary == nil {
			continue
		}
		hooks(v1alpha1.WebhookTypes...)(ro)
		w := newWorld(rng, ro)
		var last map[v1alpha1.WebhookType]GateObservation
		w.gates = func() map[v1alpha1.WebhookType]GateObservation {
			last = map[v1alpha1.WebhookType]GateObservation{}
			for _, typ := range v1alpha1.WebhookTypes {
				open := rng.Intn(100) < 60
				if typ == v1alpha1.WebhookRollback {
					open = rng.Intn(100) < 2
				}
				last[typ] = GateObservation{Open: open, Failed: !open && rng.Intn(100) < 3}
			}
			return last
		}
		for i := 0; i < ticks; i++ {
			before := w.ro.Status
			if errs := w.tick(); len(errs) > 0 {
				t.Fatalf("seed %d, tick %d: %v\nlast decisions:\n%s", seed, i, errs, w.lastTrace(12))
			}
			d := w.target
			for _, err := range gateViolations(before, last, d) {
				t.Fatalf("seed %d, tick %d: %v\nlast decisions:\n%s", seed, i, err, w.lastTrace(12))
			}
		}
		for k, v := range w.seen {
			seen[k] += v
		}
	}
	for _, reason := range []string{"WeightChanged", "Promoted", "PreRolloutFailed", "RollbackRequested"} {
		if seen[reason] == 0 {
			t.Errorf("no world saw a %s event; seen: %v", reason, seen)
		}
	}
}

// gateViolations checks one decision against the gates it was given.
func gateViolations(before v1alpha1.RolloutStatus, gates map[v1alpha1.WebhookType]GateObservation, d Decision) []error {
	var errs []error
	sameCanary := d.Status.CanaryRevision == before.CanaryRevision && before.CanaryRevision != ""
	if sameCanary && d.Status.CanaryWeight > before.CanaryWeight {
		if !gates[v1alpha1.WebhookConfirmTrafficIncrease].Open {
			errs = append(errs, fmt.Errorf("weight rose %d%% -> %d%% while confirm-traffic-increase was closed", before.CanaryWeight, d.Status.CanaryWeight))
		}
		if before.CanaryWeight == 0 && !gates[v1alpha1.WebhookPreRollout].Open {
			errs = append(errs, fmt.Errorf("first traffic (%d%%) while pre-rollout was closed", d.Status.CanaryWeight))
		}
	}
	for _, ev := range d.Events {
		if ev.Reason == "Promoted" && before.CanaryRevision != "" && !gates[v1alpha1.WebhookConfirmPromotion].Open {
			errs = append(errs, fmt.Errorf("revision %s promoted while confirm-promotion was closed", before.CanaryRevision))
		}
	}
	return errs
}
