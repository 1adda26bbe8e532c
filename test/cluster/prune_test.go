package cluster

import (
	"fmt"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// TestPruneOldRevisions promotes four revisions one after the other with
// revisionHistoryLimit 1: each previous stable revision stays at its
// replicas for scaleDownDelaySeconds, then at 0, and only the most recent
// old revision keeps a Deployment; the older ones are deleted. Undoing to
// a pruned revision still works: its Deployment is created again.
func TestPruneOldRevisions(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setupBlueGreen(t, ns, "  revisionHistoryLimit: 1", `
      scaleDownDelaySeconds: 3
`)
	revs := []string{waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision}
	for _, text := range []string{"v2", "v3", "v4", "v5"} {
		prev := revs[len(revs)-1]
		setText(t, ns, "web", text)
		st := waitStatus(t, ns, "web", text+" promoted", func(st *v1alpha1.RolloutStatus) bool {
			return st.StableRevision != prev && st.CanaryRevision == "" && healthy(st)
		})
		revs = append(revs, st.StableRevision)
		// Bounded all along: the stable, the previous ones still warm, and
		// one more at 0 (the history limit).
		eventually(t, 10*time.Second, "revision Deployments bounded after promoting "+text, func() (bool, string) {
			st := rolloutOf(t, ns, "web").Status
			n := replicaCounts(t, ns, "web")
			return len(n) <= 2+len(st.ScaleDowns), fmt.Sprintf("%d revision Deployments %v, %d warm", len(n), n, len(st.ScaleDowns))
		})
	}
	last, prev := revs[4], revs[3]
	if n := replicaCounts(t, ns, "web")[prev]; n != 2 {
		t.Fatalf("previous revision %s at %d replicas right after the promotion, want 2 (warm for 3s)", prev, n)
	}
	eventually(t, 30*time.Second, "old revisions pruned to revisionHistoryLimit 1", func() (bool, string) {
		n := replicaCounts(t, ns, "web")
		return len(n) == 2 && n[last] == 2 && n[prev] == 0, fmt.Sprintf("revision Deployments %v (want %s: 2, %s: 0)", n, last, prev)
	})

	// Undo to v2, whose Deployment was pruned: created again.
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "back on v2", func(st *v1alpha1.RolloutStatus) bool {
		return st.StableRevision == revs[1] && st.CanaryRevision == "" && healthy(st)
	})
	eventually(t, 30*time.Second, "pruned again: v2 and the last old one", func() (bool, string) {
		n := replicaCounts(t, ns, "web")
		return len(n) == 2 && n[revs[1]] == 2 && n[last] == 0, fmt.Sprintf("revision Deployments %v", n)
	})
}
