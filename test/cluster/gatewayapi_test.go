package cluster

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

func healthy(st *v1alpha1.RolloutStatus) bool {
	return st.Phase == v1alpha1.PhaseHealthy && st.StableRevision != "" && st.ReadyReplicas >= 2
}

// TestExampleGatewayAPI applies examples/kubernetes/gateway-api as it is,
// releases a new template through its steps (setWeight 5, pause) and reads
// the weights back from the HTTPRoute at each step.
func TestExampleGatewayAPI(t *testing.T) {
	ns := namespace(t)
	startController(t)
	applyDir(t, ns, filepath.Join(root, "examples", "kubernetes", "gateway-api"))
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	if s, c := weights(t, ns, "web"); s != 100 || c != 0 {
		t.Fatalf("steady HTTPRoute weights: stable %d canary %d, want 100/0", s, c)
	}

	setText(t, ns, "web", "v2")
	st := waitStatus(t, ns, "web", "paused at 5%", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 5
	})
	if s, c := weights(t, ns, "web"); s != 95 || c != 5 {
		t.Fatalf("HTTPRoute weights at step 1: stable %d canary %d, want 95/5", s, c)
	}
	if got := selects(t, ns, "web-canary"); got != st.CanaryRevision {
		t.Fatalf("web-canary selects revision %q, want the canary %q", got, st.CanaryRevision)
	}
	if got := selects(t, ns, "web-stable"); got != first {
		t.Fatalf("web-stable selects revision %q, want the stable %q", got, first)
	}

	command(t, ns, "web", "promote")
	done := waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision != first
	})
	// The status is persisted before it is applied: the route follows.
	eventually(t, 10*time.Second, "HTTPRoute back to 100/0 on the new stable", func() (bool, string) {
		s, c := weights(t, ns, "web")
		return s == 100 && c == 0, fmt.Sprintf("stable %d canary %d", s, c)
	})
	if got := selects(t, ns, "web-stable"); got != done.StableRevision {
		t.Fatalf("web-stable selects %q after promotion, want %q", got, done.StableRevision)
	}
	if _, ok := rolloutOf(t, ns, "web").Annotations["fledge.dev/command"]; ok {
		t.Fatal("the promote command was not cleared once applied")
	}
}
