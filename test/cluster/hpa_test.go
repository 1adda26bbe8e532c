package cluster

import (
	"fmt"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestHPAScalesRollout scales a Rollout through its /scale subresource:
// spec.replicas follows and so do the revision Deployments, the canary's
// by its weight (ceil(replicas × weight / 100), at least 1, as
// internal/rollout's canaryReplicas documents). Then an autoscaling/v2
// HorizontalPodAutoscaler targets the Rollout, and kube-controller-manager's
// HPA controller resolves and scales it.
func TestHPAScalesRollout(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 50
        - pause: {}
`)
	v1 := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	sc := scaleOf(t, ns)
	if sc.Spec.Replicas != 2 || sc.Status.Replicas != 2 || sc.Status.Selector != "fledge.dev/rollout=web" {
		t.Fatalf("/scale of the Rollout: spec %d status %d selector %q; want 2, 2, fledge.dev/rollout=web",
			sc.Spec.Replicas, sc.Status.Replicas, sc.Status.Selector)
	}
	setScale(t, ns, 3)
	if n := v1alpha1.Int32(rolloutOf(t, ns, "web").Spec.Replicas); n != 3 {
		t.Fatalf("spec.replicas is %d after scaling to 3", n)
	}
	wantReplicas(t, ns, "stable follows the scale", map[string]int32{v1: 3})
	eventually(t, 30*time.Second, "/scale status", func() (bool, string) {
		sc := scaleOf(t, ns)
		return sc.Status.Replicas == 3, fmt.Sprintf("status.replicas %d", sc.Status.Replicas)
	})

	setText(t, ns, "web", "v2")
	v2 := waitStatus(t, ns, "web", "v2 at 50%", pausedAt(50)).CanaryRevision
	wantReplicas(t, ns, "canary at 50% of 3", map[string]int32{v1: 3, v2: 2})
	setScale(t, ns, 4)
	wantReplicas(t, ns, "canary at 50% of 4", map[string]int32{v1: 4, v2: 2})
	setScale(t, ns, 5)
	wantReplicas(t, ns, "canary at 50% of 5", map[string]int32{v1: 5, v2: 3})
	command(t, ns, "web", "promote")
	waitStatus(t, ns, "web", "v2 promoted", func(st *v1alpha1.RolloutStatus) bool {
		return st.StableRevision == v2 && st.CanaryRevision == "" && st.Phase == v1alpha1.PhaseHealthy
	})
	wantReplicas(t, ns, "promoted at 5", map[string]int32{v1: 0, v2: 5})

	// An HPA on the Rollout, with a CPU target. There is no metrics server
	// in the test cluster: the HPA controller can read and write the
	// Rollout's scale (AbleToScale True) and brings it up to minReplicas
	// (which needs no metric), but it cannot compute the CPU target
	// (ScalingActive False, FailedGetResourceMetric). That is what is real
	// here, and what is asserted.
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.KindRollout, Name: "web"},
			MinReplicas:    hpaInt(6),
			MaxReplicas:    8,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: hpaInt(50)},
			}}},
		},
	}
	if err := kube.Create(ctx, hpa); err != nil {
		t.Fatalf("create the HPA: %v", err)
	}
	eventually(t, 90*time.Second, "the HPA scales the Rollout to its minReplicas", func() (bool, string) {
		n := v1alpha1.Int32(rolloutOf(t, ns, "web").Spec.Replicas)
		return n == 6, fmt.Sprintf("spec.replicas %d; HPA %s", n, hpaState(t, ns))
	})
	wantReplicas(t, ns, "the stable follows the HPA", map[string]int32{v2: 6})
	eventually(t, 60*time.Second, "the HPA controller resolved the Rollout", func() (bool, string) {
		h := hpaOf(t, ns)
		able := meta.FindStatusCondition(toMeta(h.Status.Conditions), string(autoscalingv2.AbleToScale))
		active := meta.FindStatusCondition(toMeta(h.Status.Conditions), string(autoscalingv2.ScalingActive))
		return able != nil && able.Status == metav1.ConditionTrue && active != nil && active.Status == metav1.ConditionFalse &&
			h.Status.CurrentReplicas == 6, hpaState(t, ns)
	})

	t.Logf("HPA after resolving the Rollout: %s", hpaState(t, ns))

	// A canary under the HPA: its replicas are the weight's share of the
	// HPA's count. The HPA takes spec.replicas (not status.replicas, which
	// counts the canary's pods too) as the current count, so the canary
	// does not make it scale the Rollout.
	setText(t, ns, "web", "v3")
	v3 := waitStatus(t, ns, "web", "v3 at 50%", pausedAt(50)).CanaryRevision
	wantReplicas(t, ns, "canary at 50% of the HPA's 6", map[string]int32{v2: 6, v3: 3})
	consistently(t, 20*time.Second, "the HPA leaves the Rollout at 6 during the canary (a sync is 15s)", func() (bool, string) {
		n := v1alpha1.Int32(rolloutOf(t, ns, "web").Spec.Replicas)
		return n == 6, fmt.Sprintf("spec.replicas %d; HPA %s", n, hpaState(t, ns))
	})
}

func scaleOf(t *testing.T, ns string) *autoscalingv1.Scale {
	t.Helper()
	sc := &autoscalingv1.Scale{}
	if err := kube.SubResource("scale").Get(ctx, rolloutOf(t, ns, "web"), sc); err != nil {
		t.Fatalf("get the /scale of the Rollout: %v", err)
	}
	return sc
}

// setScale scales the Rollout as kubectl scale and the HPA do: through /scale.
func setScale(t *testing.T, ns string, n int32) {
	t.Helper()
	// As kubectl scale does: read, set, write, again on a conflict (the
	// controller writes the status meanwhile).
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc := scaleOf(t, ns)
		sc.Spec.Replicas = n
		return kube.SubResource("scale").Update(ctx, rolloutOf(t, ns, "web"), client.WithSubResourceBody(sc))
	})
	if err != nil {
		t.Fatalf("scale the Rollout to %d: %v", n, err)
	}
}

// wantReplicas waits until the revision Deployments have these replicas
// (0: scaled down or pruned).
func wantReplicas(t *testing.T, ns, desc string, want map[string]int32) {
	t.Helper()
	eventually(t, 30*time.Second, desc, func() (bool, string) {
		have := replicaCounts(t, ns, "web")
		for rev, n := range want {
			if have[rev] != n {
				return false, fmt.Sprintf("replicas %v, want %v", have, want)
			}
		}
		return true, ""
	})
}

func hpaOf(t *testing.T, ns string) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	var h autoscalingv2.HorizontalPodAutoscaler
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &h); err != nil {
		t.Fatal(err)
	}
	return &h
}

func hpaState(t *testing.T, ns string) string {
	h := hpaOf(t, ns)
	s := fmt.Sprintf("current %d desired %d", h.Status.CurrentReplicas, h.Status.DesiredReplicas)
	for _, c := range h.Status.Conditions {
		s += fmt.Sprintf("; %s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message)
	}
	return s
}

func toMeta(cs []autoscalingv2.HorizontalPodAutoscalerCondition) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(cs))
	for _, c := range cs {
		out = append(out, metav1.Condition{Type: string(c.Type), Status: metav1.ConditionStatus(c.Status), Reason: c.Reason, Message: c.Message})
	}
	return out
}

func hpaInt(v int32) *int32 { return &v }
