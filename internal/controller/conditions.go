package controller

import (
	"fledge.dev/fledge/api/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The condition types of a Rollout.
const (
	CondAvailable   = "Available"
	CondProgressing = "Progressing"
	CondPaused      = "Paused"
	CondCompleted   = "Completed"
	CondInvalidSpec = "InvalidSpec"
)

// conditions derives the Kubernetes conditions from the decided status, so
// that tools that wait on conditions (kubectl wait, GitOps health checks)
// understand a Rollout.
func conditions(st *v1alpha1.RolloutStatus, spec *v1alpha1.Rollout) {
	gen := spec.Generation
	want := v1alpha1.Int32(spec.Spec.Replicas)
	set := func(t string, ok bool, reason string) { setCondition(&st.Conditions, gen, t, ok, reason, st.Message) }
	set(CondInvalidSpec, false, "ValidSpec")
	set(CondAvailable, st.ReadyReplicas >= want, "ReadyReplicas")
	switch {
	case st.Abort:
		set(CondProgressing, false, "RolloutAborted")
	case st.Phase == v1alpha1.PhaseDegraded:
		set(CondProgressing, false, "ProgressDeadlineExceeded")
	default:
		set(CondProgressing, st.CanaryRevision != "", "RolloutProgressing")
	}
	set(CondPaused, st.Phase == v1alpha1.PhasePaused, "Paused")
	set(CondCompleted, st.CanaryRevision == "" && !st.Abort && st.Phase == v1alpha1.PhaseHealthy, "RolloutCompleted")
}

func setCondition(cs *[]metav1.Condition, gen int64, t string, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(cs, metav1.Condition{Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen})
}

func findCondition(cs []metav1.Condition, t string) *metav1.Condition {
	return meta.FindStatusCondition(cs, t)
}
