package cluster

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// setup applies the example's Deployment, Services and HTTPRoute and a
// Rollout with the given steps (YAML, indented for the steps list; more
// canary fields may follow them, indented as the canary's).
func setup(t *testing.T, ns, steps string) {
	t.Helper()
	dir := filepath.Join(root, "examples", "kubernetes", "gateway-api")
	for _, f := range []string{"deployment.yaml", "services.yaml", "httproute.yaml"} {
		applyFile(t, ns, filepath.Join(dir, f))
	}
	applyYAML(t, ns, `
apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 2
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  strategy:
    canary:
      scaleDownDelaySeconds: 0
      trafficRouting:
        gatewayAPI: {httpRoute: web}
      steps:
`+steps)
}

// TestCanaryStepsReadBack walks a canary through several weights, checking
// the HTTPRoute at each step, then promotes it; the old revision is scaled
// down only after the route sends it nothing.
func TestCanaryStepsReadBack(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 20
        - setHeaderRoute:
            name: testers
            match: [{headerName: X-Canary, headerValue: {exact: "yes"}}]
        - pause: {}
        - setWeight: 60
        - pause: {duration: 1s}
        - setWeight: 80
        - pause: {}
`)
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	setText(t, ns, "web", "v2")
	for _, want := range []int32{20, 80} {
		waitStatus(t, ns, "web", fmt.Sprintf("paused at %d%%", want), func(st *v1alpha1.RolloutStatus) bool {
			return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == want
		})
		if s, c := weights(t, ns, "web"); s != int64(100-want) || c != int64(want) {
			t.Fatalf("HTTPRoute at %d%%: stable %d canary %d", want, s, c)
		}
		if h := headerRule(t, ns, "web", "fledge-testers"); h != `[{"name":"X-Canary","type":"Exact","value":"yes"}]` {
			t.Fatalf("HTTPRoute header rule at %d%%: %s", want, h)
		}
		command(t, ns, "web", "promote")
	}
	done := waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision != first
	})
	eventually(t, 20*time.Second, "old revision scaled down after the route left it", func() (bool, string) {
		s, c := weights(t, ns, "web")
		n := revisionReplicas(t, ns, "web", first)
		if n == 0 && s != 100 {
			t.Fatalf("old revision %s scaled to 0 while the route still weighs stable %d canary %d", first, s, c)
		}
		return n == 0 && selects(t, ns, "web-stable") == done.StableRevision, fmt.Sprintf("old replicas %d, weights %d/%d", n, s, c)
	})
}

// TestAbortTrafficFirst aborts a canary at 30%: the HTTPRoute sends
// everything to stable before the canary's Deployment is scaled down.
func TestAbortTrafficFirst(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 30
        - pause: {}
`)
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	setText(t, ns, "web", "v2")
	canary := waitStatus(t, ns, "web", "paused at 30%", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 30
	}).CanaryRevision
	command(t, ns, "web", "abort")
	eventually(t, 30*time.Second, "canary scaled down", func() (bool, string) {
		// The Deployment first, then the route: weights only fall, so a route
		// still weighing the canary now weighed it when it was scaled down.
		n := revisionReplicas(t, ns, "web", canary)
		s, c := weights(t, ns, "web")
		if n == 0 && c != 0 {
			t.Fatalf("canary scaled to 0 while the HTTPRoute still sends it %d%%", c)
		}
		return n == 0, fmt.Sprintf("canary replicas %d, weights %d/%d", n, s, c)
	})
	st := waitStatus(t, ns, "web", "degraded", func(st *v1alpha1.RolloutStatus) bool { return st.Abort })
	if st.Phase != v1alpha1.PhaseDegraded || !strings.Contains(st.Message, "abort") {
		t.Fatalf("status after abort: phase %s message %q", st.Phase, st.Message)
	}
}

// TestControllerRestartResumes kills the controller (SIGKILL: no lease
// release) during a timed pause; a new controller takes the lease over and
// the rollout goes on to the next step.
func TestControllerRestartResumes(t *testing.T) {
	ns := namespace(t)
	p := startController(t)
	setup(t, ns, `
        - setWeight: 20
        - pause: {duration: 2s}
        - setWeight: 50
        - pause: {}
`)
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "at 20%", func(st *v1alpha1.RolloutStatus) bool { return st.CanaryWeight == 20 })
	p.stop(syscall.SIGKILL)
	time.Sleep(3 * time.Second) // the pause ends while no controller runs
	if st := rolloutOf(t, ns, "web").Status; st.CanaryWeight != 20 {
		t.Fatalf("weight moved to %d with no controller running", st.CanaryWeight)
	}
	startController(t)
	// The old leader's lease (15s) must expire before the new one acts.
	waitStatus(t, ns, "web", "resumed to 50%", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 50
	})
	if s, c := weights(t, ns, "web"); s != 50 || c != 50 {
		t.Fatalf("HTTPRoute after restart: stable %d canary %d, want 50/50", s, c)
	}
}
