package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestEveryTransitionHasAnEvent releases a canary of 30 steps, 61 Events
// about one Rollout in a few seconds. client-go's default correlator lets
// one object have 25 Events, then one every 5 minutes, so the last steps
// and the promotion went unrecorded; every one must be there.
func TestEveryTransitionHasAnEvent(t *testing.T) {
	ns := namespace(t)
	startController(t)
	var steps strings.Builder
	for w := 2; w <= 60; w += 2 {
		fmt.Fprintf(&steps, "        - setWeight: %d\n", w)
	}
	setup(t, ns, steps.String())
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision != first
	})
	// Events are sent after the status that records them: wait for them.
	want := []string{"canary weight 58% -> 60%", "canary weight 60% -> 100%"}
	eventually(t, 30*time.Second, "an Event for each of the last steps and the promotion", func() (bool, string) {
		var list corev1.EventList
		if err := kube.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var (
			messages []string
			promoted bool
			steps    int32
		)
		for _, e := range list.Items {
			if e.InvolvedObject.Kind != v1alpha1.KindRollout || e.InvolvedObject.Name != "web" {
				continue
			}
			messages = append(messages, e.Reason+": "+e.Message)
			promoted = promoted || e.Reason == "Promoted"
			if e.Reason == "StepCompleted" {
				steps += e.Count
			}
		}
		all := strings.Join(messages, "\n")
		for _, m := range want {
			if !strings.Contains(all, m) {
				return false, fmt.Sprintf("no Event says %q; %d Events:\n%s", m, len(messages), all)
			}
		}
		// 30 steps completed, each counted once (an Event of its own, or a
		// repeat counted on an earlier one).
		return promoted && steps >= 30, fmt.Sprintf("Promoted %v, StepCompleted %d; %d Events:\n%s", promoted, steps, len(messages), all)
	})
}
