package rollout

import (
	"math/rand"
	"testing"
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
