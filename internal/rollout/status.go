package rollout

import (
	"fmt"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// completePromotion makes the canary stable and keeps the previous stable
// revision warm for the scale-down delay, so that an undo is instant.
func (d *decider) completePromotion() {
	st := &d.st
	old, rev := st.StableRevision, st.CanaryRevision
	delay := d.scaleDownDelay()
	if old != "" && old != rev && delay > 0 {
		st.ScaleDowns = append(dropScaleDown(st.ScaleDowns, old), v1alpha1.ScaleDown{Revision: old, At: metaTime(d.in.Now.Add(delay))})
		d.requeue(delay)
	}
	st.StableRevision = rev
	d.resetRollout("")
	d.event(EventNormal, "Promoted", "revision %s is stable (previous %s kept %s for undo)", rev, old, delay)
	if d.hasGate(v1alpha1.WebhookPostRollout) {
		d.poll(v1alpha1.WebhookPostRollout) // called once, informational
	}
	d.steady()
}

// scaleDownDelay is how long a previous stable revision stays warm.
func (d *decider) scaleDownDelay() time.Duration {
	var s *int32
	if c := d.spec.Strategy.Canary; c != nil {
		s = c.ScaleDownDelaySeconds
	}
	if b := d.spec.Strategy.BlueGreen; b != nil {
		s = b.ScaleDownDelaySeconds
	}
	return time.Duration(v1alpha1.Int32(s)) * time.Second
}

// noteProgress restarts the progress clock when the desired revision gains a
// ready replica.
func (d *decider) noteProgress() {
	ready := d.ready(d.in.DesiredRevision)
	if ready > d.st.UpdatedReadyReplicas {
		d.st.ProgressAt = &d.now
	}
}

// checkDeadline aborts (or marks degraded) a rollout that waited on replicas
// or the router longer than progressDeadlineSeconds. Pauses and analyses do
// not count: they have their own clocks.
func (d *decider) checkDeadline() {
	st := &d.st
	if st.CanaryRevision == "" || st.Abort || len(st.PauseConditions) > 0 || d.spec.Paused {
		return
	}
	if d.in.Rollout.Status.Phase == v1alpha1.PhasePaused {
		// A pause just ended (spec.paused set back to false, say): the
		// time spent paused does not count.
		st.ProgressAt = &d.now
	}
	if !d.waitsOnEdge || st.ProgressAt == nil {
		return
	}
	deadline := time.Duration(v1alpha1.Int32(d.spec.ProgressDeadlineSeconds)) * time.Second
	left := deadline - d.since(*st.ProgressAt)
	if left > 0 {
		d.requeue(left)
		return
	}
	why := fmt.Sprintf("progress deadline exceeded: no progress for %s (%s)", deadline, d.waiting)
	if v1alpha1.Bool(d.spec.ProgressDeadlineAbort) {
		d.abort("ProgressDeadlineExceeded", "%s", why)
		return
	}
	if d.in.Rollout.Status.Phase != v1alpha1.PhaseDegraded {
		d.event(EventWarning, "ProgressDeadlineExceeded", "%s", why)
	}
	d.deadlineExceeded = why
}

// finish fills the desired replicas, the runs, the phase and the counters.
func (d *decider) finish() {
	st := &d.st
	d.listRuns()
	d.desiredReplicas()
	var total, ready int32
	for _, r := range d.in.Replicas {
		total += r.Replicas
		ready += r.Ready
	}
	want := d.in.Replicas[d.in.DesiredRevision]
	st.Replicas, st.ReadyReplicas = total, ready
	st.UpdatedReplicas, st.UpdatedReadyReplicas = want.Replicas, want.Ready

	switch {
	case st.Abort:
		st.Phase = v1alpha1.PhaseDegraded
	case d.deadlineExceeded != "":
		st.Phase, st.Message = v1alpha1.PhaseDegraded, d.deadlineExceeded
	case d.spec.Paused:
		st.Phase, st.Message = v1alpha1.PhasePaused, "paused: spec.paused is true"
	case hasPause(st.PauseConditions, v1alpha1.PauseUser):
		st.Phase, st.Message = v1alpha1.PhasePaused, "paused by user: `fledge resume` to go on"
	case len(st.PauseConditions) > 0:
		st.Phase = v1alpha1.PhasePaused // the step or analysis that paused wrote why
	case st.CanaryRevision != "" || d.waiting != "":
		st.Phase = v1alpha1.PhaseProgressing
		st.Message = d.waiting
		if st.Message == "" {
			st.Message = fmt.Sprintf("releasing revision %s", st.CanaryRevision)
		}
	default:
		st.Phase = v1alpha1.PhaseHealthy
		st.Message = fmt.Sprintf("revision %s is stable: %d/%d replicas ready", st.StableRevision, d.ready(st.StableRevision), d.replicas())
	}
	d.out.Status = *st
}

// desiredReplicas says how many replicas each revision should have. A
// revision the router still sends traffic to keeps its replicas: traffic
// leaves a version before the version leaves.
func (d *decider) desiredReplicas() {
	st := &d.st
	want := d.out.Replicas
	for _, s := range st.ScaleDowns {
		want[s.Revision] = d.replicas()
	}
	if st.StableRevision != "" {
		want[st.StableRevision] = d.replicas()
	}
	if st.CanaryRevision != "" && !st.Abort {
		if d.spec.Strategy.BlueGreen != nil {
			want[st.CanaryRevision] = max(d.blueGreenScale(), 1)
		} else {
			want[st.CanaryRevision] = max(d.canaryScale(), 1)
		}
	}
	// The canary being released is already scaled for the weight the
	// router sends it, so that it can scale down as its weight does.
	releasing := st.CanaryRevision
	if st.Abort {
		releasing = ""
	}
	t := d.in.Traffic
	for _, rev := range []string{t.Stable, t.Preview, routedCanary(t)} {
		if rev == "" || rev == releasing {
			continue
		}
		if have := d.in.Replicas[rev].Replicas; want[rev] < have {
			want[rev] = have
		}
	}
	for rev, n := range want {
		if n <= 0 {
			delete(want, rev)
		}
	}
}

// routedCanary is the canary revision if the router can send it requests.
func routedCanary(t Traffic) string {
	if t.CanaryWeight > 0 || len(t.HeaderRoutes) > 0 || len(t.MirrorRoutes) > 0 {
		return t.Canary
	}
	return ""
}

func cloneStatus(s v1alpha1.RolloutStatus) v1alpha1.RolloutStatus {
	s.PauseConditions = append([]v1alpha1.PauseCondition(nil), s.PauseConditions...)
	s.ScaleDowns = append([]v1alpha1.ScaleDown(nil), s.ScaleDowns...)
	s.Conditions = append(s.Conditions[:0:0], s.Conditions...)
	for _, ref := range []**v1alpha1.RunRef{&s.StepAnalysisRun, &s.BackgroundAnalysisRun, &s.PrePromotionRun, &s.PostPromotionRun} {
		if *ref != nil {
			c := **ref
			*ref = &c
		}
	}
	return s
}
