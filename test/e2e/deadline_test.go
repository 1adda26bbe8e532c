package e2e

import (
	"strings"
	"testing"
	"time"
)

// A canary that never becomes ready (it would listen after an hour) makes
// no progress: at progressDeadlineSeconds the release is aborted, and the
// users, whose requests all along went to stable, never notice.
func TestCanaryNeverReadyHitsProgressDeadline(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	const deadline = 5 * time.Second
	strategy := canaryStrategy(listen, "setWeight: 50", "pause: {}", "setWeight: 100")
	extra := []string{"progressDeadlineSeconds: 5"}
	startStable(h, spec{version: "v1", strategy: strategy, extra: extra})

	users := startLoad(t, listen, 2, 20*time.Millisecond, "GET /")
	slow := spec{version: "v2", args: []string{"--startup-delay", "1h"}, strategy: strategy, extra: extra}
	applied := time.Now()
	h.must("apply", "-f", h.writeSpec("v2.yaml", slow.yaml()))
	h.waitFor("web", "revision 2's replica to start (not ready)", func(s status) bool {
		return s.CanaryRevision == "2" && s.Replicas.Updated > 0
	})
	canary := h.replicas("web-2-")
	if len(canary) == 0 {
		t.Fatal("revision 2 runs no replica")
	}

	s := h.waitFor("web", "the progress deadline to abort revision 2", func(s status) bool {
		return s.Phase == "Degraded" && s.Abort
	})
	// The status keeps times to the second, rounded up: the deadline may
	// come up to a second late, never early.
	if took := time.Since(applied); took < deadline {
		t.Errorf("aborted %s after the apply, before the %s deadline", took.Round(time.Millisecond), deadline)
	}
	if !strings.Contains(s.Message, "progress deadline") {
		t.Errorf("message %q does not name the progress deadline", s.Message)
	}
	if s.CanaryWeight != 0 || s.StableRevision != "1" || s.CanaryRevision != "2" {
		t.Errorf("aborted with weight %d, stable %q, canary %q; want 0, 1, 2", s.CanaryWeight, s.StableRevision, s.CanaryRevision)
	}
	h.waitGone("the canary's replica to be stopped", canary)

	users.stop()
	if n, errs, vs, first := users.result(); errs > 0 || vs["v1"] != n || n == 0 {
		t.Errorf("users sent %d requests: %d errors, versions %v; want all served by v1: %v", n, errs, vs, first)
	}
	if c := versions(t, listen, 50); c["v1"] != 50 {
		t.Errorf("after the abort, 50 requests went %v, want all to v1", c)
	}
}
