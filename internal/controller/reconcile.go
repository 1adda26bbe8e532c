package controller

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationCommand carries a user's command (promote, promote-full, abort,
// retry, pause, resume) to the controller, which removes it once applied.
const AnnotationCommand = "fledge.dev/command"

// The controller decides on events: a Rollout's spec, labels or
// annotations (a command) changing, its Deployments' status, an analysis verdict or a
// gate's answer (both woken through a channel), and the times the engine
// asks for (a pause ending, a deadline). The resync periods below are only
// the safety net for what no event reports: a router edited under us, or a
// wake-up dropped under load. Every Rollout resynced every few seconds was
// the controller's main load at scale (bench/controller: N/5 reconciles a
// second), so they are long, and longer for a Rollout at rest.
const (
	// resyncActive bounds the time between two decisions while a release
	// is in flight (Progressing, Paused, or a canary still running).
	resyncActive = 30 * time.Second
	// resyncIdle is the same for a Rollout at rest (Healthy, or Degraded
	// with nothing running but stable).
	resyncIdle = 5 * time.Minute
)

// Reconciler drives Rollouts with a workloadRef.
type Reconciler struct {
	client.Client
	Events record.EventRecorder
	// Analyses runs the analysis runs the decisions ask for.
	Analyses *Analyses
	// Gates calls the webhook gates the decisions wait on.
	Gates *Gates
	// Notifications tells what each persisted decision did (nil: nothing).
	Notifications *Notifications
	// Metrics counts the decisions' events and times (nil: nothing).
	Metrics *Metrics
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// maxPasses bounds the decisions one reconcile makes.
const maxPasses = 4

// Reconcile fetches the Rollout and decides on it until a decision no
// longer moves the router, steps the rollout or changes its status, at
// most maxPasses times.
// A step is two decisions (set the weight; see it applied and go on): the
// second is made at once, on the router read back, instead of after a
// requeue behind every other Rollout's turn in the queue.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ro v1alpha1.Rollout
	if err := r.Get(ctx, req.NamespacedName, &ro); err != nil {
		if apierrors.IsNotFound(err) {
			r.Analyses.drop(req.NamespacedName)
			r.Gates.drop(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ro.DeletionTimestamp != nil || ro.Spec.WorkloadRef == nil {
		r.Analyses.drop(req.NamespacedName)
		r.Gates.drop(req.NamespacedName)
		return ctrl.Result{}, nil // owned objects go with it; template rollouts are the local daemon's
	}
	for pass := 1; ; pass++ {
		res, again, err := r.decide(ctx, &ro)
		if err != nil || !again || pass == maxPasses {
			return res, err
		}
	}
}

// decide is one pass: validate, gather, decide, persist, apply. again
// says the decision moved the router, stepped the rollout or changed its
// status, so that the next one may go further; ro holds the status
// persisted.
func (r *Reconciler) decide(ctx context.Context, ro *v1alpha1.Rollout) (res ctrl.Result, again bool, err error) {
	pass := r.Metrics.pass(ro)
	defer pass.done()
	spec, err := r.specOf(ctx, ro)
	var invalid *specError
	if errors.As(err, &invalid) {
		return ctrl.Result{}, false, r.invalid(ctx, ro, err)
	} else if err != nil {
		return ctrl.Result{}, false, err
	}

	w, err := r.gather(ctx, spec)
	if err != nil {
		r.Events.Eventf(ro, "Warning", "GatherFailed", "%v", err)
		return ctrl.Result{}, false, err
	}
	dec := rollout.Decide(w.input)
	if dec.CommandError != "" {
		actor, _ := commandActor(ro)
		r.eventf(ro, actor, "Warning", "CommandRejected", fmt.Sprintf("%s: %s", w.input.Command, dec.CommandError))
	}
	before := ro.Status.DeepCopy()
	if err := r.persist(ctx, ro, w, dec); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, false, nil // decided on a stale Rollout: decide again
		}
		return ctrl.Result{}, false, err
	}
	r.Notifications.decided(ctx, spec, ro.Status, dec, r.now()) // spec holds the status decided from
	pass.persisted(dec.Events, r.now())
	if err := r.apply(ctx, spec, w, dec); err != nil {
		r.Events.Eventf(ro, "Warning", "ApplyFailed", "%v", err)
		return ctrl.Result{}, false, err
	}
	if err := r.Analyses.ensure(ctx, spec, dec); err != nil {
		return ctrl.Result{}, false, err
	}
	r.Gates.want(spec, dec)

	after := resyncFor(dec.Status)
	if dec.RequeueAfter > 0 && dec.RequeueAfter < after {
		after = dec.RequeueAfter
	}
	// Decide again now (or, after the last pass, soon) when the router
	// moved or the rollout stepped; and now when only the status changed:
	// its write wakes no reconcile of its own (see Setup), and a decision
	// on the new status may go further on the same observations.
	moved := !sameTraffic(dec.Traffic, w.input.Traffic) || len(dec.Events) > 0
	if moved {
		after = 100 * time.Millisecond
	}
	return ctrl.Result{RequeueAfter: after}, moved || !reflect.DeepEqual(*before, ro.Status), nil
}

// resyncFor is the longest a Rollout in status st waits for its next
// decision when no event comes.
func resyncFor(st v1alpha1.RolloutStatus) time.Duration {
	if st.CanaryRevision == "" && (st.Phase == v1alpha1.PhaseHealthy || st.Phase == v1alpha1.PhaseDegraded) {
		return resyncIdle
	}
	return resyncActive
}

// specOf is the spec the engine decides on: defaulted, with the
// standalone templates its analyses name copied in, and valid; a mistake
// is a *specError.
func (r *Reconciler) specOf(ctx context.Context, ro *v1alpha1.Rollout) (*v1alpha1.Rollout, error) {
	spec := ro.DeepCopy()
	spec.APIVersion, spec.Kind = v1alpha1.APIVersion, v1alpha1.KindRollout
	spec.Default()
	if err := r.withTemplates(ctx, spec); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, &specError{err}
	}
	return spec, nil
}

// invalid records why a spec is refused; nothing else is touched.
func (r *Reconciler) invalid(ctx context.Context, ro *v1alpha1.Rollout, err error) error {
	msg := fmt.Sprintf("invalid spec: %v", err)
	if c := findCondition(ro.Status.Conditions, CondInvalidSpec); c == nil || c.Message != msg {
		r.Events.Eventf(ro, "Warning", "InvalidSpec", "%s", msg)
	}
	ro.Status.Phase, ro.Status.Message = v1alpha1.PhaseDegraded, msg
	setCondition(&ro.Status.Conditions, ro.Generation, CondInvalidSpec, true, "InvalidSpec", msg)
	// The whole status, not a patch of what changed: a Rollout invalid from
	// the start has no status yet, and the CRD requires its fields.
	return client.IgnoreNotFound(r.Status().Update(ctx, ro))
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
