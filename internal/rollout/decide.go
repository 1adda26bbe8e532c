package rollout

import (
	"fmt"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Decide returns the next status and the desired state of the edges. It is
// pure: the same Input always gives the same Decision, and deciding again
// from the Decision's status with unchanged observations changes nothing.
func Decide(in Input) Decision {
	spec := in.Rollout.Spec
	if spec.Strategy.Canary == nil && spec.Strategy.BlueGreen == nil {
		// Validation requires a strategy; without one, a revision is
		// released at once, as by a canary without steps.
		spec.Strategy.Canary = &v1alpha1.CanaryStrategy{}
	}
	d := &decider{
		in:   in,
		spec: &spec,
		st:   cloneStatus(in.Rollout.Status),
		now:  metaTime(in.Now),
		out:  Decision{Replicas: map[string]int32{}},
	}
	d.run()
	return d.out
}

// decider holds one decision under construction.
type decider struct {
	in   Input
	spec *v1alpha1.RolloutSpec
	st   v1alpha1.RolloutStatus
	now  metav1.Time
	out  Decision

	// waiting says what the rollout waits for when it is not paused;
	// waitsOnEdge says it waits on replicas or the router, which count
	// against the progress deadline (analysis and timers do not).
	waiting     string
	waitsOnEdge bool
	// deadlineExceeded explains a missed deadline that did not abort.
	deadlineExceeded string
}

func (d *decider) run() {
	// A status edited by hand must not crash the engine.
	d.st.CurrentStepIndex = max(d.st.CurrentStepIndex, 0)
	d.adoptRevision()
	d.applyCommand()
	d.observeRuns()
	d.noteProgress()
	d.expireScaleDowns()
	switch {
	case d.st.CanaryRevision == "":
		d.steady()
	case d.st.Abort:
		d.aborted()
	case d.spec.Strategy.BlueGreen != nil:
		d.blueGreen()
	default:
		d.canary()
	}
	d.checkDeadline()
	d.finish()
}

// adoptRevision starts a rollout when the desired revision is new, makes the
// first revision stable at once, and cancels a rollout whose template went
// back to the stable one.
func (d *decider) adoptRevision() {
	want := d.in.DesiredRevision
	switch {
	case want == "":
		// The edge has not resolved the template to a revision: nothing to adopt.
	case d.st.StableRevision == "":
		d.st.StableRevision = want
		d.st.ProgressAt = &d.now
		d.event(EventNormal, "InitialRevision", "revision %s is the first: stable at once, no steps", want)
	case want == d.st.StableRevision && d.st.CanaryRevision != "":
		d.event(EventNormal, "RolloutCanceled", "template is back to stable revision %s: canary revision %s withdrawn", want, d.st.CanaryRevision)
		d.resetRollout("")
	case want != d.st.StableRevision && want != d.st.CanaryRevision:
		if d.st.CanaryRevision != "" {
			d.event(EventNormal, "RolloutRestarted", "new revision %s replaces canary revision %s", want, d.st.CanaryRevision)
		} else {
			d.event(EventNormal, "RolloutStarted", "releasing revision %s (stable is %s)", want, d.st.StableRevision)
		}
		d.resetRollout(want)
	}
}

// resetRollout starts over with canary (none when empty). A user's pause
// survives: it was asked for the rollout, whatever it releases.
func (d *decider) resetRollout(canary string) {
	st := &d.st
	st.CanaryRevision = canary
	st.CurrentStepIndex = 0
	st.CanaryWeight = 0
	st.Abort, st.AbortedAt, st.PromoteFull = false, nil, false
	st.PauseConditions = dropPause(st.PauseConditions, v1alpha1.PauseCanaryStep, v1alpha1.PauseInconclusive,
		v1alpha1.PausePreviewPromotion)
	st.Attempt = 1
	st.StepStartedAt, st.ProgressAt, st.PreviewReadyAt = &d.now, &d.now, nil
	st.StepAnalysisRun, st.BackgroundAnalysisRun, st.PrePromotionRun, st.PostPromotionRun = nil, nil, nil, nil
	st.Message = ""
	if canary != "" {
		st.ScaleDowns = dropScaleDown(st.ScaleDowns, canary)
	}
}

// expireScaleDowns forgets previous revisions whose warm period is over.
func (d *decider) expireScaleDowns() {
	var keep []v1alpha1.ScaleDown
	for _, s := range d.st.ScaleDowns {
		if s.Revision == d.st.StableRevision || s.Revision == d.st.CanaryRevision {
			continue
		}
		if left := s.At.Sub(d.in.Now); left > 0 {
			keep = append(keep, s)
			d.requeue(left)
			continue
		}
		d.event(EventNormal, "ScaledDown", "previous revision %s scaled down after its delay", s.Revision)
	}
	d.st.ScaleDowns = keep
}

// steady keeps the stable revision at full scale: no rollout is under way.
func (d *decider) steady() {
	d.st.CurrentStepIndex = d.stepCount()
	d.st.CanaryWeight = 0
	d.out.Traffic = Traffic{Stable: d.st.StableRevision}
	if ready := d.ready(d.st.StableRevision); ready < d.replicas() {
		d.wait("waiting for stable revision %s: %d/%d replicas ready", d.st.StableRevision, ready, d.replicas())
	}
}

// aborted sends all traffic to stable; the canary is scaled down once the
// router confirms it gets nothing (see desiredReplicas).
func (d *decider) aborted() {
	d.out.Traffic = Traffic{Stable: d.st.StableRevision}
	d.st.CanaryWeight = 0
	if d.st.Message == "" {
		d.st.Message = "rollout aborted"
	}
}

// replicas is the spec's replica count.
func (d *decider) replicas() int32 { return v1alpha1.Int32(d.spec.Replicas) }

// ready is the number of ready replicas of a revision.
func (d *decider) ready(rev string) int32 { return d.in.Replicas[rev].Ready }

// stepCount is the number of steps of the strategy (blue-green's are implicit).
func (d *decider) stepCount() int32 {
	if d.spec.Strategy.BlueGreen != nil {
		return blueGreenSteps
	}
	return int32(len(d.spec.Strategy.Canary.Steps))
}

// wait records what the rollout is waiting for (the first reason wins).
func (d *decider) wait(format string, args ...any) {
	if d.waiting == "" {
		d.waiting = fmt.Sprintf(format, args...)
	}
}

// waitOnEdge records a wait on replicas or the router: the edges are
// expected to get there, so it counts against the progress deadline.
func (d *decider) waitOnEdge(format string, args ...any) {
	d.wait(format, args...)
	d.waitsOnEdge = true
}

// requeue asks to be called again within after.
func (d *decider) requeue(after time.Duration) {
	if after <= 0 {
		after = time.Second
	}
	if d.out.RequeueAfter == 0 || after < d.out.RequeueAfter {
		d.out.RequeueAfter = after
	}
}

// event records a transition.
func (d *decider) event(typ, reason, format string, args ...any) {
	d.out.Events = append(d.out.Events, Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// abort aborts the rollout for a reason. The pauses of the steps go with
// it: an aborted rollout waits for nothing but retry or a new revision.
func (d *decider) abort(reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.st.Abort, d.st.AbortedAt = true, &d.now
	d.st.Message = "rollout aborted: " + msg
	d.st.PauseConditions = dropPause(d.st.PauseConditions, v1alpha1.PauseCanaryStep, v1alpha1.PauseInconclusive,
		v1alpha1.PausePreviewPromotion)
	d.event(EventWarning, reason, "%s", d.st.Message)
	d.aborted()
}

// metaTime is t to the second, as the status is serialised, so that a
// decision made from a persisted status equals one made from memory. It
// rounds up: the times it records start clocks (a pause, the progress
// deadline, auto-promotion, a scale-down delay) that are compared with the
// precise now, and a clock started up to a second late makes them last up
// to a second longer, never shorter (truncated, a 30 s pause could end
// after 29).
func metaTime(t time.Time) metav1.Time {
	if s := t.Truncate(time.Second); !s.Equal(t) {
		t = s.Add(time.Second)
	}
	return metav1.NewTime(t)
}

// since is the time from a recorded start to now; a start recorded in this
// second (rounded up, so still ahead of now) is no time ago.
func (d *decider) since(start metav1.Time) time.Duration {
	return max(0, d.in.Now.Sub(start.Time))
}
