package rollout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// canary executes the canary's steps as far as the observations allow.
func (d *decider) canary() {
	c := d.spec.Strategy.Canary
	st := &d.st
	n := int32(len(c.Steps))
	for guard := int32(0); guard <= n+1; guard++ {
		d.startBackground()
		if !d.backgroundHealthy() || d.rollbackRequested() || d.paused() {
			break
		}
		if st.PromoteFull || st.CurrentStepIndex >= n {
			d.promoteCanary()
			break
		}
		i := st.CurrentStepIndex
		if !d.executeStep(c.Steps[i]) {
			break
		}
		st.StepAnalysisRun = nil
		d.advanceTo(i+1, "step %d/%d completed: %s", i+1, n, DescribeStep(c.Steps[i]))
	}
	if st.CanaryRevision == "" || st.Abort {
		return // promoted or aborted meanwhile
	}
	d.out.Traffic = d.canaryTraffic()
}

// executeStep does what step asks and tells whether it is complete.
func (d *decider) executeStep(s v1alpha1.CanaryStep) bool {
	st := &d.st
	switch {
	case s.SetWeight != nil:
		w := *s.SetWeight
		if w > st.CanaryWeight && (d.holdsWeight() || d.gatesBeforeWeight(w)) {
			return false
		}
		need := canaryReplicas(d.replicas(), w)
		if ready := d.ready(st.CanaryRevision); w > st.CanaryWeight && ready < need {
			d.waitOnEdge("waiting for canary revision %s before weight %d%%: %d/%d replicas ready", st.CanaryRevision, w, ready, need)
			return false
		}
		if st.CanaryWeight != w {
			d.event(EventNormal, "WeightChanged", "canary weight %d%% -> %d%%", st.CanaryWeight, w)
		}
		st.CanaryWeight = w
		if t := d.in.Traffic; t.Canary != st.CanaryRevision || t.CanaryWeight != w {
			d.waitOnEdge("waiting for the router to apply weight %d%%", w)
			return false
		}
		return true
	case s.Pause != nil:
		return d.pauseStep(s.Pause)
	case s.Analysis != nil:
		name := fmt.Sprintf("step%d", st.CurrentStepIndex+1)
		return d.blockingRun(&st.StepAnalysisRun, name, s.Analysis)
	case s.SetHeaderRoute != nil:
		if r := s.SetHeaderRoute; !routeApplied(d.in.Traffic.HeaderRoutes, r.Name, *r, removesHeaderRoute(r)) {
			d.waitOnEdge("waiting for the router to apply header route %q", s.SetHeaderRoute.Name)
			return false
		}
		return true
	case s.SetMirrorRoute != nil:
		if r := s.SetMirrorRoute; !routeApplied(d.in.Traffic.MirrorRoutes, r.Name, *r, removesMirrorRoute(r)) {
			d.waitOnEdge("waiting for the router to apply mirror route %q", s.SetMirrorRoute.Name)
			return false
		}
		return true
	}
	return true // an empty step (rejected by validation) holds nothing up
}

// pauseStep waits for the pause's duration, or for a human.
func (d *decider) pauseStep(p *v1alpha1.RolloutPause) bool {
	if p.Duration == nil {
		d.addPause(v1alpha1.PauseCanaryStep)
		d.st.Message = "paused: waiting for `" + d.in.promoteWith() + "`"
		return false
	}
	if d.st.StepStartedAt == nil {
		d.st.StepStartedAt = &d.now // a status from before the step's clock: start it now
	}
	left := p.Duration.Duration - d.since(*d.st.StepStartedAt)
	if left <= 0 {
		return true
	}
	d.addPause(v1alpha1.PauseCanaryStep)
	d.st.Message = fmt.Sprintf("paused for %s (%s left)", p.Duration.Duration, left.Round(time.Second))
	d.requeue(left)
	return false
}

// blockingRun starts (once) the run a step waits for and tells whether it
// passed; a failure aborts, an inconclusive verdict pauses.
func (d *decider) blockingRun(ref **v1alpha1.RunRef, role string, a *v1alpha1.RolloutAnalysis) bool {
	switch phase := d.useRun(ref, role, a); phase {
	case v1alpha1.AnalysisSuccessful:
		return true
	case v1alpha1.AnalysisFailed:
		d.abort("AnalysisFailed", "analysis %s failed: %s", (*ref).Name, (*ref).Message)
	case v1alpha1.AnalysisError, v1alpha1.AnalysisInconclusive:
		d.inconclusive(*ref)
	default:
		if msg := (*ref).Message; msg != "" {
			d.wait("waiting for analysis %s (%s): %s", (*ref).Name, orPending(phase), msg)
		} else {
			d.wait("waiting for analysis %s (%s)", (*ref).Name, orPending(phase))
		}
	}
	return false
}

// startBackground starts the background analysis once its step is reached.
func (d *decider) startBackground() {
	c := d.spec.Strategy.Canary
	st := &d.st
	if c.Analysis == nil || st.PromoteFull || st.CurrentStepIndex < v1alpha1.Int32(c.Analysis.StartingStep) {
		return
	}
	d.useRun(&st.BackgroundAnalysisRun, "background", &c.Analysis.RolloutAnalysis)
}

// backgroundHealthy aborts on a failed background analysis and pauses on an
// inconclusive one; it tells whether the steps may go on.
func (d *decider) backgroundHealthy() bool {
	ref := d.st.BackgroundAnalysisRun
	if ref == nil {
		return true
	}
	switch ref.Phase {
	case v1alpha1.AnalysisFailed:
		d.abort("AnalysisFailed", "background analysis %s failed: %s", ref.Name, ref.Message)
		return false
	case v1alpha1.AnalysisError, v1alpha1.AnalysisInconclusive:
		d.inconclusive(ref)
		return false
	}
	return true
}

// promoteCanary scales the canary to full, sends it all traffic, then makes
// it stable.
func (d *decider) promoteCanary() {
	st := &d.st
	if st.CanaryWeight < 100 && (d.holdsWeight() || d.gatesBeforeWeight(100)) {
		return
	}
	if d.gateHolds(v1alpha1.WebhookConfirmPromotion, "promotion of revision "+st.CanaryRevision) {
		return
	}
	if ready := d.ready(st.CanaryRevision); ready < d.replicas() {
		d.waitOnEdge("promoting revision %s: %d/%d replicas ready", st.CanaryRevision, ready, d.replicas())
		return
	}
	if st.CanaryWeight != 100 {
		d.event(EventNormal, "WeightChanged", "canary weight %d%% -> 100%%", st.CanaryWeight)
	}
	st.CanaryWeight = 100
	if t := d.in.Traffic; t.Canary != st.CanaryRevision || t.CanaryWeight != 100 {
		d.waitOnEdge("promoting revision %s: waiting for the router to send it 100%%", st.CanaryRevision)
		return
	}
	d.completePromotion()
}

// canaryTraffic is the desired router state during a canary.
func (d *decider) canaryTraffic() Traffic {
	st := &d.st
	t := Traffic{Stable: st.StableRevision, Canary: st.CanaryRevision, CanaryWeight: st.CanaryWeight, Preview: st.CanaryRevision}
	steps := d.spec.Strategy.Canary.Steps
	upto := min(int(st.CurrentStepIndex)+1, len(steps))
	for _, s := range steps[:upto] {
		if r := s.SetHeaderRoute; r != nil {
			t.HeaderRoutes = setRoute(t.HeaderRoutes, r.Name, *r, removesHeaderRoute(r))
		}
		if r := s.SetMirrorRoute; r != nil {
			t.MirrorRoutes = setRoute(t.MirrorRoutes, r.Name, *r, removesMirrorRoute(r))
		}
	}
	return t
}

// canaryScale is the canary's replica count: enough for its weight, for the
// weight the current step raises it to (the replicas start before the weight
// needs them, even while paused), for the larger weight the router may still
// send it (a weight going down), and full once it is being promoted.
func (d *decider) canaryScale() int32 {
	st := &d.st
	full := d.replicas()
	if st.PromoteFull || st.CurrentStepIndex >= d.stepCount() {
		return full
	}
	n := canaryReplicas(full, st.CanaryWeight)
	if s, ok := d.currentStep(); ok && s.SetWeight != nil {
		n = max(n, canaryReplicas(full, *s.SetWeight))
	}
	if t := d.in.Traffic; t.Canary == st.CanaryRevision {
		n = max(n, canaryReplicas(full, t.CanaryWeight))
	}
	return n
}

// canaryReplicas is the replica count that serves weight percent of the
// traffic of a version with full replicas: at least one, so that header
// routes, mirrors and the preview always have a replica.
func canaryReplicas(full, weight int32) int32 {
	n := (int64(full)*int64(weight) + 99) / 100 // in 64 bits: no overflow whatever the spec says
	return int32(min(max(n, 1), int64(max(full, 1))))
}

// A route step without a match removes the route of its name (for a
// mirror: without a percentage either, which alone mirrors every request).
func removesHeaderRoute(r *v1alpha1.SetHeaderRoute) bool { return len(r.Match) == 0 }
func removesMirrorRoute(r *v1alpha1.SetMirrorRoute) bool {
	return len(r.Match) == 0 && r.Percentage == nil
}

// routeApplied tells whether the router applied the route named name as want
// (or, for a removal, has no route of that name).
func routeApplied[T v1alpha1.SetHeaderRoute | v1alpha1.SetMirrorRoute](have []T, name string, want T, removal bool) bool {
	for _, h := range have {
		if routeName(h) == name {
			return !removal && sameRoute(h, want)
		}
	}
	return removal
}

// sameRoute compares routes as the API writes them, so that a router that
// reports an empty list where the spec has none still counts as applied.
func sameRoute(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func routeName[T v1alpha1.SetHeaderRoute | v1alpha1.SetMirrorRoute](r T) string {
	switch v := any(r).(type) {
	case v1alpha1.SetHeaderRoute:
		return v.Name
	case v1alpha1.SetMirrorRoute:
		return v.Name
	}
	return ""
}

// setRoute replaces (or removes) the route named name.
func setRoute[T v1alpha1.SetHeaderRoute | v1alpha1.SetMirrorRoute](rs []T, name string, r T, remove bool) []T {
	var out []T
	for _, x := range rs {
		if routeName(x) != name {
			out = append(out, x)
		}
	}
	if !remove {
		out = append(out, r)
	}
	return out
}

// DescribeStep says what a step does, for events, the CLI and the dashboard.
func DescribeStep(s v1alpha1.CanaryStep) string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight %d%%", *s.SetWeight)
	case s.Pause != nil && s.Pause.Duration != nil:
		return fmt.Sprintf("pause %s", s.Pause.Duration.Duration)
	case s.Pause != nil:
		return "pause until promoted"
	case s.Analysis != nil:
		return "analysis " + templateNames(s.Analysis)
	case s.SetHeaderRoute != nil:
		return fmt.Sprintf("header route %q", s.SetHeaderRoute.Name)
	case s.SetMirrorRoute != nil:
		return fmt.Sprintf("mirror route %q", s.SetMirrorRoute.Name)
	}
	return "empty step"
}

func templateNames(a *v1alpha1.RolloutAnalysis) string {
	s := ""
	for i, t := range a.Templates {
		if i > 0 {
			s += ","
		}
		s += t.TemplateName
	}
	return s
}

func orPending(p v1alpha1.AnalysisPhase) v1alpha1.AnalysisPhase {
	if p == "" {
		return v1alpha1.AnalysisPending
	}
	return p
}

// currentStep is the canary step being executed, if any.
func (d *decider) currentStep() (v1alpha1.CanaryStep, bool) {
	c := d.spec.Strategy.Canary
	if c == nil || int(d.st.CurrentStepIndex) >= len(c.Steps) {
		return v1alpha1.CanaryStep{}, false
	}
	return c.Steps[d.st.CurrentStepIndex], true
}
