package e2e

import (
	"testing"
	"time"
)

// Users sending keep-alive requests all through a release (10% -> 50% ->
// promote -> 100%, then the old version's replicas drained and stopped)
// see no error: a weight change drops no request, and neither does a
// replica leaving.
func TestWeightChangesUnderLoadDropNothing(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	strategy := canaryStrategy(listen, "setWeight: 10", "pause: {duration: 2s}", "setWeight: 50", "pause: {}", "setWeight: 100")
	startStable(h, spec{version: "v1", strategy: strategy})
	old := h.replicas("web-1-")

	users := startLoad(t, listen, 8, 5*time.Millisecond, "GET /")
	h.must("apply", "-f", h.writeSpec("v2.yaml", spec{version: "v2", strategy: strategy}.yaml()))
	h.waitFor("web", "the pause at 50%", func(s status) bool {
		return s.Phase == "Paused" && s.CurrentStepIndex == 3 && s.CanaryWeight == 50
	})
	atPause, _, _, _ := users.result()
	h.must("promote", "web")
	h.waitFor("web", "revision 2 promoted", func(s status) bool {
		return s.Phase == "Healthy" && s.StableRevision == "2" && s.CanaryRevision == ""
	})
	h.waitGone("revision 1's replicas to exit", old)
	// Some more requests once the old version is gone.
	h.poll("more requests after the release", func() (bool, string) {
		n, _, _, _ := users.result()
		return n > atPause+500, ""
	})
	users.stop()

	n, errs, vs, first := users.result()
	t.Logf("%d requests during the release: %v", n, vs)
	if errs > 0 {
		t.Errorf("users saw %d errors in %d requests, want none: %v", errs, n, first)
	}
	if vs["v1"] == 0 || vs["v2"] == 0 || len(vs) != 2 {
		t.Errorf("requests went to %v, want v1 and v2 only, both", vs)
	}
}
