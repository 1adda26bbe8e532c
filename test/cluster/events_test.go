package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
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

// TestEventBurstIsKept records 2,000 Events from 16 goroutines, each
// reading from the API server before it records, as reconciles of many
// Rollouts stepping at once do. client-go's broadcaster writes Events one at
// a time and drops what does not fit in a queue of 1,000 behind its writer
// (60% of a 1,000-Rollout burst's Events, bench/controller); the
// controller's recorder must write every one.
func TestEventBurstIsKept(t *testing.T) {
	ns := namespace(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rec, stop, err := controller.NewEventRecorder(cfg, controller.Scheme(), "fledge-test", testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	// The reads stand for the reconciles' own work between Events; the
	// suite's client is limited to client-go's 5 a second, too slow for it.
	fast := rest.CopyConfig(cfg)
	fast.QPS, fast.Burst = 1000, 1000
	reader, err := client.New(fast, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 125
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var got corev1.Namespace
				if err := reader.Get(ctx, types.NamespacedName{Name: ns}, &got); err != nil {
					t.Error(err)
					return
				}
				name := fmt.Sprintf("obj-%d-%d", w, i)
				obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name)}}
				rec.Eventf(obj, corev1.EventTypeNormal, "Burst", "event %d of writer %d", i, w)
			}
		})
	}
	wg.Wait()
	drain, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	stop(drain)
	if drain.Err() != nil {
		t.Fatal("the recorder's writers did not finish within 2 minutes")
	}
	var list corev1.EventList
	if err := kube.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range list.Items {
		if e.Reason == "Burst" && e.Source.Component == "fledge-test" {
			seen[e.InvolvedObject.Name] = true
		}
	}
	if len(seen) != workers*each {
		t.Errorf("%d of %d Events written", len(seen), workers*each)
	}
}
