package cluster

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// bgDelay is the blue-green tests' scaleDownDelaySeconds: long enough to
// undo in, short enough to wait out.
const bgDelay = 10 * time.Second

// setupBlueGreen applies the example's Deployment (and no Service: the
// controller creates web-stable and web-canary from its container port)
// and a blue-green Rollout through the service router; extra is YAML added
// to the blueGreen strategy, indented for it.
func setupBlueGreen(t *testing.T, ns, spec, extra string) {
	t.Helper()
	applyFile(t, ns, filepath.Join(root, "examples", "kubernetes", "gateway-api", "deployment.yaml"))
	applyYAML(t, ns, `
apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 2
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
`+spec+`
  strategy:
    blueGreen:
      trafficRouting:
        service: {}
`+extra)
}

// TestBlueGreenServiceSwitch releases through the service router (no
// traffic router): the new revision comes up as the preview that
// web-canary selects, waits for promote (auto-promotion off), then
// web-stable, the active Service, switches to it; the old revision stays at
// its replicas for scaleDownDelaySeconds, then goes to 0. A second release
// is then undone while its predecessor is still warm: the old template goes
// back into the workload Deployment (there is no undo command in Kubernetes
// mode; this is `git revert` or `kubectl rollout undo deployment/web`), and
// the controller finds that revision's Deployment running and switches back
// to it without starting a pod.
func TestBlueGreenServiceSwitch(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setupBlueGreen(t, ns, "", fmt.Sprintf(`
      autoPromotionEnabled: false
      scaleDownDelaySeconds: %d
`, int(bgDelay.Seconds())))
	v1 := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	eventually(t, 10*time.Second, "web-stable selects the first revision", func() (bool, string) {
		got := selects(t, ns, "web-stable")
		return got == v1, "web-stable selects " + got
	})

	// Release v2: preview, then it waits.
	setText(t, ns, "web", "v2")
	v2 := waitStatus(t, ns, "web", "preview ready, awaiting promotion", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryRevision != "" && hasPauseReason(st, v1alpha1.PausePreviewPromotion)
	}).CanaryRevision
	wantSelectors(t, ns, "preview", v1, v2)
	if n := replicaCounts(t, ns, "web"); n[v1] != 2 || n[v2] != 2 {
		t.Fatalf("replicas while previewing: %v, want 2 for the stable %s and 2 for the preview %s", n, v1, v2)
	}
	consistently(t, 3*time.Second, "auto-promotion off: nothing switches without promote", func() (bool, string) {
		st := rolloutOf(t, ns, "web").Status
		active, preview := selects(t, ns, "web-stable"), selects(t, ns, "web-canary")
		return st.StableRevision == v1 && st.CanaryWeight == 0 && active == v1 && preview == v2,
			fmt.Sprintf("stable %s weight %d, web-stable %s, web-canary %s", st.StableRevision, st.CanaryWeight, active, preview)
	})

	// Promote: web-stable switches; v1 stays warm for the delay.
	command(t, ns, "web", "promote")
	st := waitStatus(t, ns, "web", "v2 promoted", func(st *v1alpha1.RolloutStatus) bool {
		return st.StableRevision == v2 && st.CanaryRevision == "" && st.Phase == v1alpha1.PhaseHealthy
	})
	wantSelectors(t, ns, "promoted", v2, v2) // web-canary keeps the last preview
	until := scaleDownAt(t, st, v1)
	if left := time.Until(until); left < bgDelay-3*time.Second {
		t.Fatalf("previous revision %s kept warm until %s, only %s from now; want about %s", v1, until, left, bgDelay)
	}
	eventually(t, bgDelay+15*time.Second, "v1 scaled to 0 once its delay is over", func() (bool, string) {
		n := replicaCounts(t, ns, "web")[v1]
		if n != 2 && time.Now().Before(until.Add(-time.Second)) {
			t.Fatalf("previous revision %s scaled to %d before its delay ended (%s left)", v1, n, time.Until(until))
		}
		if active := selects(t, ns, "web-stable"); active != v2 {
			t.Fatalf("web-stable went back to %s after the switch", active)
		}
		return n == 0, fmt.Sprintf("%s at %d replicas", v1, n)
	})

	// Release v3 and promote it: v2 is now the warm previous revision.
	setText(t, ns, "web", "v3")
	v3 := waitStatus(t, ns, "web", "v3 awaiting promotion", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryRevision != "" && st.CanaryRevision != v2
	}).CanaryRevision
	wantSelectors(t, ns, "v3 preview", v2, v3)
	command(t, ns, "web", "promote")
	waitStatus(t, ns, "web", "v3 promoted", func(st *v1alpha1.RolloutStatus) bool {
		return st.StableRevision == v3 && st.CanaryRevision == ""
	})
	wantSelectors(t, ns, "v3 promoted", v3, v3)
	warm := revisionDeployments(t, ns, "web")[v2]
	if *warm.Spec.Replicas != 2 {
		t.Fatalf("previous revision %s at %d replicas right after the switch, want 2 (warm)", v2, *warm.Spec.Replicas)
	}

	// Undo: v2's template back; v2 is the preview again at once, and the
	// switch back needs no new pod.
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "undo: v2 awaiting promotion", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryRevision == v2 && hasPauseReason(st, v1alpha1.PausePreviewPromotion)
	})
	wantSelectors(t, ns, "undo preview", v3, v2)
	command(t, ns, "web", "promote")
	eventually(t, 30*time.Second, "switched back to the warm v2", func() (bool, string) {
		st := rolloutOf(t, ns, "web").Status
		d := revisionDeployments(t, ns, "web")[v2]
		if d.UID != warm.UID || *d.Spec.Replicas != 2 {
			t.Fatalf("v2's Deployment was replaced or scaled (uid %s, %d replicas) during the undo", d.UID, *d.Spec.Replicas)
		}
		return st.StableRevision == v2 && st.CanaryRevision == "", fmt.Sprintf("stable %s canary %s: %s", st.StableRevision, st.CanaryRevision, st.Message)
	})
	wantSelectors(t, ns, "undone", v2, v2)
	if n := replicaCounts(t, ns, "web"); n[v3] != 2 {
		t.Fatalf("after the undo the revision it left, %s, is at %d replicas; want 2 (warm for its delay)", v3, n[v3])
	}
}

// wantSelectors reads both Services back: web-stable (the active one) and
// web-canary (the preview).
func wantSelectors(t *testing.T, ns, when, active, preview string) {
	t.Helper()
	eventually(t, 10*time.Second, when+": Service selectors", func() (bool, string) {
		a, p := selects(t, ns, "web-stable"), selects(t, ns, "web-canary")
		return a == active && p == preview, fmt.Sprintf("web-stable %q web-canary %q, want %q %q", a, p, active, preview)
	})
}

// scaleDownAt is when the status keeps rev warm until.
func scaleDownAt(t *testing.T, st *v1alpha1.RolloutStatus, rev string) time.Time {
	t.Helper()
	for _, s := range st.ScaleDowns {
		if s.Revision == rev {
			return s.At.Time
		}
	}
	t.Fatalf("status.scaleDowns %v does not keep the previous revision %s warm", st.ScaleDowns, rev)
	return time.Time{}
}

func hasPauseReason(st *v1alpha1.RolloutStatus, reason v1alpha1.PauseReason) bool {
	for _, p := range st.PauseConditions {
		if p.Reason == reason {
			return true
		}
	}
	return false
}

// consistently checks cond at every poll for the whole of within: a state
// that must hold (a rollout that must wait), not one that is awaited.
func consistently(t *testing.T, within time.Duration, desc string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok, state := cond(); !ok {
			t.Fatalf("%s: broken after %s; seen: %s", desc, within-time.Until(deadline), state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
