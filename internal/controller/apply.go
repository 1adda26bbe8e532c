package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/router/service"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// AnnotationReplicasBefore records the replicas of the user's Deployment
// before Fledge scaled it to 0, to give them back if the Rollout goes.
const AnnotationReplicasBefore = "fledge.dev/replicas-before"

// persist writes the decided status (with the resourceVersion read, so
// that a decision made on a stale Rollout, or by a deposed leader, fails
// with a conflict instead of acting), then the events (those of a command
// name its sender: actor.go), then clears the command it applied and the
// sender's name.
func (r *Reconciler) persist(ctx context.Context, ro *v1alpha1.Rollout, w *world, dec rollout.Decision) error {
	st := dec.Status
	st.Selector = labels.SelectorFromSet(labels.Set{service.LabelRollout: ro.Name}).String()
	conditions(&st, ro)
	if !reflect.DeepEqual(st, ro.Status) {
		ro.Status = st
		if err := r.Status().Update(ctx, ro); err != nil {
			return fmt.Errorf("persist the status of rollout %s: %w", ro.Name, err)
		}
	}
	actor := decisionActor(ctx, ro, string(w.input.Command), dec.CommandError)
	for _, e := range dec.Events {
		r.eventf(ro, actor, e.Type, e.Reason, e.Message)
	}
	// The sender's name goes with its command, and a name left without
	// one goes too: it would be credited with the next command.
	if _, by := ro.Annotations[AnnotationCommandBy]; w.input.Command == "" && !by {
		return nil
	}
	base := ro.DeepCopy()
	delete(ro.Annotations, AnnotationCommand)
	delete(ro.Annotations, AnnotationCommandBy)
	return r.Patch(ctx, ro, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// apply moves the cluster toward the decision: traffic first, so that a
// revision losing traffic is scaled down only in a later decision.
func (r *Reconciler) apply(ctx context.Context, ro *v1alpha1.Rollout, w *world, dec rollout.Decision) error {
	// Writing a split the router already enforces (read back fresh in
	// gather) would cost a read and a write of the router's object per
	// decision for nothing.
	if !trafficApplied(ro, dec.Traffic, w.input.Traffic) {
		if err := w.router.SetTraffic(ctx, dec.Traffic); err != nil {
			return fmt.Errorf("apply traffic: %w", err)
		}
	}
	for rev, n := range dec.Replicas {
		if err := r.scale(ctx, ro, w, rev, n); err != nil {
			return err
		}
	}
	for rev := range w.byRev {
		if _, ok := dec.Replicas[rev]; !ok {
			if err := r.scale(ctx, ro, w, rev, 0); err != nil {
				return err
			}
		}
	}
	if err := r.retireWorkload(ctx, ro, w, dec); err != nil {
		return err
	}
	return r.prune(ctx, ro, w, dec)
}

// prune deletes the Deployments of old revisions beyond
// spec.revisionHistoryLimit (default 10); see prunable for which.
func (r *Reconciler) prune(ctx context.Context, ro *v1alpha1.Rollout, w *world, dec rollout.Decision) error {
	for _, d := range prunable(ro, w.byRev, w.input.DesiredRevision, dec) {
		uid := d.UID
		err := r.Delete(ctx, d, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("prune Deployment %s of an old revision (revisionHistoryLimit %d): %w",
				d.Name, v1alpha1.Int32(ro.Spec.RevisionHistoryLimit), err)
		}
	}
	return nil
}

// prunable picks the revision Deployments to delete. Only revisions the
// Rollout owns, already at 0 replicas, that the decision does not run count
// as old: the stable, the canary, the template's revision and a previous
// stable still warm for its scaleDownDelaySeconds never do. The most
// recently created old revisions are kept, at 0 replicas, for an undo;
// undoing to a pruned revision works too, its Deployment is created again
// from the template (with new pods, not warm ones).
func prunable(ro *v1alpha1.Rollout, byRev map[string]*appsv1.Deployment, desired string, dec rollout.Decision) []*appsv1.Deployment {
	var old []*appsv1.Deployment
	for rev, d := range byRev {
		if _, runs := dec.Replicas[rev]; runs || rev == dec.Status.StableRevision || rev == dec.Status.CanaryRevision ||
			rev == desired || !metav1.IsControlledBy(d, ro) {
			continue
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
			continue // not scaled down yet: a later pass sees it at 0
		}
		old = append(old, d)
	}
	keep := int(v1alpha1.DefaultRevisionHistoryLimit)
	if n := ro.Spec.RevisionHistoryLimit; n != nil {
		keep = int(*n)
	}
	if len(old) <= keep {
		return nil
	}
	sort.Slice(old, func(i, j int) bool {
		a, b := old[i].CreationTimestamp, old[j].CreationTimestamp
		if !a.Equal(&b) {
			return b.Before(&a)
		}
		return old[i].Name > old[j].Name
	})
	return old[keep:]
}

// scale sets a revision's replicas, creating its Deployment from the
// user's template the first time. An old revision's Deployment stays at 0
// replicas, its pod template there for an undo, until prune deletes it.
func (r *Reconciler) scale(ctx context.Context, ro *v1alpha1.Rollout, w *world, rev string, n int32) error {
	if d := w.byRev[rev]; d != nil {
		if d.Spec.Replicas != nil && *d.Spec.Replicas == n {
			return nil
		}
		base := d.DeepCopy()
		d.Spec.Replicas = &n
		if err := r.Patch(ctx, d, client.MergeFrom(base)); err != nil {
			return fmt.Errorf("scale Deployment %s to %d: %w", d.Name, n, err)
		}
		return nil
	}
	if n == 0 {
		return nil
	}
	if rev != w.input.DesiredRevision {
		return fmt.Errorf("revision %s has no Deployment to scale and is not the workload's template", rev)
	}
	d := revisionDeployment(ro, w.workload, rev, n)
	if err := controllerutil.SetControllerReference(ro, d, r.Scheme()); err != nil {
		return err
	}
	if err := r.Create(ctx, d); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Deployment %s: %w", d.Name, err)
	}
	return nil
}

// revisionDeployment runs the user's pod template as one revision: the
// user's selector plus the rollout and revision labels.
func revisionDeployment(ro *v1alpha1.Rollout, src *appsv1.Deployment, rev string, n int32) *appsv1.Deployment {
	own := map[string]string{service.LabelRollout: ro.Name, service.LabelRevision: rev}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	if s := src.Spec.Selector; s != nil {
		sel = s.DeepCopy()
		if sel.MatchLabels == nil {
			sel.MatchLabels = map[string]string{}
		}
	}
	tpl := *src.Spec.Template.DeepCopy()
	if tpl.Labels == nil {
		tpl.Labels = map[string]string{}
	}
	for k, v := range own {
		sel.MatchLabels[k], tpl.Labels[k] = v, v
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name + "-" + rev, Labels: own},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n, Selector: sel, Template: tpl,
			MinReadySeconds: ro.Spec.MinReadySeconds,
		},
	}
}

// retireWorkload scales the user's Deployment to 0 once Fledge's stable
// revision is fully available, so that adopting a Deployment never lowers
// capacity; its replicas before are kept in an annotation.
func (r *Reconciler) retireWorkload(ctx context.Context, ro *v1alpha1.Rollout, w *world, dec rollout.Decision) error {
	d := w.workload
	if d.Spec.Replicas != nil && *d.Spec.Replicas == 0 {
		return nil
	}
	stable := dec.Status.StableRevision
	if w.input.Replicas[stable].Ready < v1alpha1.Int32(ro.Spec.Replicas) {
		return nil
	}
	base := d.DeepCopy()
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	before := int32(1)
	if d.Spec.Replicas != nil {
		before = *d.Spec.Replicas
	}
	d.Annotations[AnnotationReplicasBefore] = strconv.Itoa(int(before))
	zero := int32(0)
	d.Spec.Replicas = &zero
	if err := r.Patch(ctx, d, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("scale workload Deployment %s to 0: %w", d.Name, err)
	}
	return nil
}

// ensureServices creates <rollout>-stable and <rollout>-canary when they
// are missing, with the ports of the pod template's containers. Services
// the user wrote are kept: the routers only add the revision selector.
func (r *Reconciler) ensureServices(ctx context.Context, ro *v1alpha1.Rollout, src *appsv1.Deployment) error {
	for _, name := range []string{service.StableName(ro), service.CanaryName(ro)} {
		var svc corev1.Service
		err := r.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: name}, &svc)
		if err == nil {
			continue
		} else if !apierrors.IsNotFound(err) {
			return fmt.Errorf("read Service %s: %w", name, err)
		}
		svc = corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: name,
			Labels: map[string]string{service.LabelRollout: ro.Name}},
			Spec: corev1.ServiceSpec{Selector: map[string]string{service.LabelRollout: ro.Name}}}
		for _, c := range src.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: p.Name, Port: p.ContainerPort,
					TargetPort: intstr.FromInt32(p.ContainerPort), Protocol: p.Protocol})
			}
		}
		if len(svc.Spec.Ports) == 0 {
			return fmt.Errorf("Service %s is missing and the pod template declares no container port: create it", name)
		}
		if err := controllerutil.SetControllerReference(ro, &svc, r.Scheme()); err != nil {
			return err
		}
		if err := r.Create(ctx, &svc); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create Service %s: %w", name, err)
		}
	}
	return nil
}

// trafficApplied tells whether the router already enforces want exactly:
// only then may applying it be skipped. Unlike sameTraffic, every field
// the router applies counts; routes compare as the JSON they are written
// in (an empty match list is none), and Preview only for blue-green,
// where the canary Service shows it (a canary's Kubernetes routers do not
// report one).
func trafficApplied(ro *v1alpha1.Rollout, want, have rollout.Traffic) bool {
	if ro.Spec.Strategy.BlueGreen == nil {
		want.Preview, have.Preview = "", ""
	}
	if !sameJSON(want.HeaderRoutes, have.HeaderRoutes) || !sameJSON(want.MirrorRoutes, have.MirrorRoutes) {
		return false
	}
	want.HeaderRoutes, have.HeaderRoutes, want.MirrorRoutes, have.MirrorRoutes = nil, nil, nil, nil
	return reflect.DeepEqual(want, have)
}

// sameJSON compares two route lists as JSON, an empty list equal to none.
func sameJSON[T any](a, b []T) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// sameTraffic compares two router states, an empty list equal to none.
func sameTraffic(a, b rollout.Traffic) bool {
	if len(a.HeaderRoutes) == 0 && len(b.HeaderRoutes) == 0 {
		a.HeaderRoutes, b.HeaderRoutes = nil, nil
	}
	if len(a.MirrorRoutes) == 0 && len(b.MirrorRoutes) == 0 {
		a.MirrorRoutes, b.MirrorRoutes = nil, nil
	}
	a.Preview, b.Preview = "", ""
	for _, t := range []*rollout.Traffic{&a, &b} {
		if t.CanaryWeight == 0 && len(t.HeaderRoutes) == 0 && len(t.MirrorRoutes) == 0 {
			t.Canary = "" // a canary that takes no traffic is no difference
		}
	}
	return reflect.DeepEqual(a, b)
}
