package e2e

import (
	"strings"
	"testing"
	"time"
)

// `fledge undo` during a canary goes back to the stable revision: the
// release is aborted and withdrawn (all traffic to stable at once, the
// canary's replicas stopped), the template is stable's again and the
// rollout is Healthy, with no new revision promoted.
func TestUndoDuringCanaryGoesBackToStable(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	strategy := canaryStrategy(listen, "setWeight: 40", "pause: {}", "setWeight: 100")
	startStable(h, spec{version: "v1", strategy: strategy})
	h.must("apply", "-f", h.writeSpec("v2.yaml", spec{version: "v2", strategy: strategy}.yaml()))
	h.waitFor("web", "the pause at 40%", func(s status) bool {
		return s.Phase == "Paused" && s.CurrentStepIndex == 1 && s.CanaryWeight == 40
	})
	canary := h.replicas("web-2-")
	stable := h.replicas("web-1-")

	users := startLoad(t, listen, 2, 10*time.Millisecond, "GET /")
	if out := h.must("undo", "web"); !strings.Contains(out, "rolled back to revision 1") {
		t.Errorf("fledge undo web said %q, want it rolled back to revision 1", out)
	}
	s, _, err := h.status("web")
	if err != nil {
		t.Fatal(err)
	}
	if s.Phase != "Healthy" || s.StableRevision != "1" || s.CanaryRevision != "" || s.DesiredRevision != "1" || s.CanaryWeight != 0 {
		t.Errorf("once undo returned: phase %s, stable %q, canary %q, desired %q, weight %d; want Healthy, 1, none, 1, 0",
			s.Phase, s.StableRevision, s.CanaryRevision, s.DesiredRevision, s.CanaryWeight)
	}
	h.waitGone("the canary's replicas to exit", canary)
	users.stop()
	if n, errs, _, first := users.result(); errs > 0 {
		t.Errorf("users saw %d errors in %d requests during the undo: %v", errs, n, first)
	}
	if c := versions(t, listen, 50); c["v1"] != 50 {
		t.Errorf("after the undo, 50 requests went %v, want all to v1", c)
	}
	for name, r := range stable {
		if !r.alive() {
			t.Errorf("stable replica %s (pid %d) was replaced: undo to stable should keep it", name, r.PID)
		}
	}
	if hist := h.must("history", "web"); strings.Count(strings.TrimSpace(hist), "\n") != 2 {
		t.Errorf("fledge history web lists other than revisions 1 and 2:\n%s", hist)
	}
}
