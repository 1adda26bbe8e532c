package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/router"
	"fledge.dev/fledge/internal/router/service"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// world is what one reconcile observed, and what apply needs of it.
type world struct {
	input    rollout.Input
	workload *appsv1.Deployment            // the user's Deployment, the template source
	byRev    map[string]*appsv1.Deployment // Fledge's Deployment of each revision
	router   router.Router
}

// gather reads the cluster into the engine's Input.
func (r *Reconciler) gather(ctx context.Context, ro *v1alpha1.Rollout) (*world, error) {
	w := &world{byRev: map[string]*appsv1.Deployment{}}
	ref := ro.Spec.WorkloadRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" {
		return nil, fmt.Errorf("workloadRef %s %s: only apps/v1 Deployment is supported", ref.APIVersion, ref.Kind)
	}
	w.workload = &appsv1.Deployment{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ref.Name}, w.workload); err != nil {
		return nil, fmt.Errorf("read workloadRef Deployment %s/%s: %w", ro.Namespace, ref.Name, err)
	}
	var list appsv1.DeploymentList
	if err := r.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingFields{indexRevisions: ro.Name}); err != nil {
		return nil, fmt.Errorf("list the Deployments of rollout %s: %w", ro.Name, err)
	}
	in := rollout.Input{
		Rollout:         ro,
		DesiredRevision: Revision(&w.workload.Spec.Template),
		Now:             r.now(),
		Replicas:        map[string]rollout.ReplicaObservation{},
		Command:         rollout.Command(ro.Annotations[AnnotationCommand]),
		PromoteWith:     "kubectl fledge promote",
	}
	for i := range list.Items {
		d := &list.Items[i]
		rev := d.Labels[service.LabelRevision]
		w.byRev[rev] = d
		in.Replicas[rev] = observeReplicas(d)
	}
	var err error
	in.Gates = r.Gates.observe(ro)
	if in.Analysis, err = r.Analyses.observe(ctx, ro); err != nil {
		return nil, err
	}
	if err := r.ensureServices(ctx, ro, w.workload); err != nil {
		return nil, err
	}
	id, err := routerID(ro)
	if err != nil {
		return nil, err
	}
	if w.router, err = router.New(id, router.Config{Rollout: ro, Kube: r.Client}); err != nil {
		return nil, err
	}
	if in.Traffic, err = w.router.Observed(ctx); err != nil {
		return nil, fmt.Errorf("read back router %s: %w", id, err)
	}
	w.input = in
	return w, nil
}

// observeReplicas counts a revision's replicas. Until the Deployment
// controller has seen the last scale, no more are counted ready than asked
// for: a stale status must not let a weight rise.
func observeReplicas(d *appsv1.Deployment) rollout.ReplicaObservation {
	o := rollout.ReplicaObservation{Replicas: d.Status.Replicas, Ready: d.Status.AvailableReplicas}
	if d.Spec.Replicas != nil {
		o.Ready = min(o.Ready, *d.Spec.Replicas)
	}
	if d.Status.ObservedGeneration < d.Generation {
		o.Ready = min(o.Ready, d.Status.UpdatedReplicas)
	}
	return o
}

// Revision identifies a pod template: the same template is the same
// revision, so that an undo finds its Deployment still there.
func Revision(t *corev1.PodTemplateSpec) string {
	b, _ := json.Marshal(t)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:5])
}

// routerID is the registry id of the router the spec names: the name of
// the one field set in trafficRouting.
func routerID(ro *v1alpha1.Rollout) (string, error) {
	tr := ro.Spec.Strategy.TrafficRouting()
	var fields map[string]json.RawMessage
	b, _ := json.Marshal(tr)
	_ = json.Unmarshal(b, &fields)
	if len(fields) != 1 {
		return "", fmt.Errorf("rollout %s: trafficRouting must name exactly one router", ro.Name)
	}
	for id := range fields {
		return id, nil
	}
	return "", nil
}
