package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
	"fledge.dev/fledge/internal/router/gatewayapi"
	"fledge.dev/fledge/internal/router/service"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var ctx = context.Background()

func rolloutOf(t *testing.T, ns, name string) *v1alpha1.Rollout {
	t.Helper()
	var ro v1alpha1.Rollout
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &ro); err != nil {
		t.Fatal(err)
	}
	return &ro
}

// weights reads the stable and canary weights of an HTTPRoute's first rule.
func weights(t *testing.T, ns, route string) (stable, canary int64) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gatewayapi.GVK)
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: route}, u); err != nil {
		t.Fatal(err)
	}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	refs := rules[0].(map[string]any)["backendRefs"].([]any)
	for _, r := range refs {
		ref := r.(map[string]any)
		w, _ := ref["weight"].(int64)
		switch ref["name"] {
		case route + "-stable":
			stable = w
		case route + "-canary":
			canary = w
		}
	}
	return stable, canary
}

// setText changes the Deployment's pod template: a new revision.
func setText(t *testing.T, ns, name, text string) {
	t.Helper()
	var d appsv1.Deployment
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	base := d.DeepCopy()
	d.Spec.Template.Spec.Containers[0].Args = []string{"-listen=:8080", "-text=" + text}
	if err := kube.Patch(ctx, &d, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

// command annotates a Rollout with a user's command.
func command(t *testing.T, ns, name, cmd string) {
	t.Helper()
	ro := rolloutOf(t, ns, name)
	base := ro.DeepCopy()
	if ro.Annotations == nil {
		ro.Annotations = map[string]string{}
	}
	ro.Annotations[controller.AnnotationCommand] = cmd
	if err := kube.Patch(ctx, ro, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

// waitStatus waits until the Rollout's status satisfies cond.
func waitStatus(t *testing.T, ns, name, desc string, cond func(st *v1alpha1.RolloutStatus) bool) *v1alpha1.RolloutStatus {
	t.Helper()
	var st *v1alpha1.RolloutStatus
	eventually(t, 60e9, desc, func() (bool, string) {
		st = &rolloutOf(t, ns, name).Status
		return cond(st), fmt.Sprintf("phase %s step %d weight %d stable %s canary %s: %s", st.Phase, st.CurrentStepIndex, st.CanaryWeight, st.StableRevision, st.CanaryRevision, st.Message)
	})
	return st
}

// revisionReplicas is the desired replicas of a revision's Deployment (-1: none).
func revisionReplicas(t *testing.T, ns, rollout, rev string) int32 {
	t.Helper()
	var d appsv1.Deployment
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: rollout + "-" + rev}, &d); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return -1
		}
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// selects is the revision a Service selects.
func selects(t *testing.T, ns, svc string) string {
	t.Helper()
	var s corev1.Service
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: svc}, &s); err != nil {
		t.Fatal(err)
	}
	return s.Spec.Selector[service.LabelRevision]
}

// headerRule is the JSON of the header matches of the HTTPRoute rule named
// name ("" when there is none).
func headerRule(t *testing.T, ns, route, name string) string {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gatewayapi.GVK)
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: route}, u); err != nil {
		t.Fatal(err)
	}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for _, r := range rules {
		rule := r.(map[string]any)
		if rule["name"] == name {
			b, _ := json.Marshal(rule["matches"].([]any)[0].(map[string]any)["headers"])
			return string(b)
		}
	}
	return ""
}

// editTemplate changes the pod template of the workload Deployment name:
// a new revision (or an old one again, when edit restores its template).
func editTemplate(t *testing.T, ns, name string, edit func(*corev1.PodTemplateSpec)) {
	t.Helper()
	var d appsv1.Deployment
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	base := d.DeepCopy()
	edit(&d.Spec.Template)
	if err := kube.Patch(ctx, &d, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

// revisionDeployments maps each revision of a Rollout that has a Deployment
// to that Deployment.
func revisionDeployments(t *testing.T, ns, rollout string) map[string]appsv1.Deployment {
	t.Helper()
	var list appsv1.DeploymentList
	if err := kube.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{service.LabelRollout: rollout}); err != nil {
		t.Fatal(err)
	}
	out := map[string]appsv1.Deployment{}
	for _, d := range list.Items {
		out[d.Labels[service.LabelRevision]] = d
	}
	return out
}

// replicaCounts is the desired replicas of each revision Deployment of a
// Rollout, for comparisons and failure messages.
func replicaCounts(t *testing.T, ns, rollout string) map[string]int32 {
	t.Helper()
	out := map[string]int32{}
	for rev, d := range revisionDeployments(t, ns, rollout) {
		out[rev] = *d.Spec.Replicas
	}
	return out
}
