package rollout

import (
	"fmt"
	"reflect"

	"fledge.dev/fledge/api/v1alpha1"
)

// canary executes the canary's steps as far as the observations allow.
func (d *decider) canary() {
	c := d.spec.Strategy.Canary
	st := &d.st
	n := int32(len(c.Steps))
	for guard := int32(0); guard <= n+1; guard++ {
		d.startBackground()
		if !d.backgroundHealthy() || d.paused() {
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
		d.advanceTo(i+1, "step %d/%d completed: %s", i+1, n, describeStep(c.Steps[i]))
	}
	if st.CanaryRevision == "" || st.Abort {
		return // promoted or aborted meanwhile
	}
	d.canaryWant = max(d.canaryWant, canaryReplicas(d.replicas(), st.CanaryWeight), d.observedCanaryReplicas())
	d.out.Traffic = d.canaryTraffic()
}

// executeStep does what step asks and tells whether it is complete.
func (d *decider) executeStep(s v1alpha1.CanaryStep) bool {
	st := &d.st
	switch {
	case s.SetWeight != nil:
		w := *s.SetWeight
		need := canaryReplicas(d.replicas(), w)
		d.canaryWant = max(d.canaryWant, need)
		if ready := d.ready(st.CanaryRevision); w > st.CanaryWeight && ready < need {
			d.wait("waiting for canary revision %s before weight %d%%: %d/%d replicas ready", st.CanaryRevision, w, ready, need)
			d.waitsOnEdge = true
			return false
		}
		if st.CanaryWeight != w {
			d.event(EventNormal, "WeightChanged", "canary weight %d%% -> %d%%", st.CanaryWeight, w)
		}
		st.CanaryWeight = w
		if t := d.in.Traffic; t.Canary != st.CanaryRevision || t.CanaryWeight != w {
			d.wait("waiting for the router to apply weight %d%%", w)
			d.waitsOnEdge = true
			return false
		}
		return true
	case s.Pause != nil:
		return d.pauseStep(s.Pause)
	case s.Analysis != nil:
		name := fmt.Sprintf("step%d", st.CurrentStepIndex+1)
		return d.blockingRun(&st.StepAnalysisRun, name, s.Analysis)
	case s.SetHeaderRoute != nil:
		if !routeApplied(d.in.Traffic.HeaderRoutes, s.SetHeaderRoute.Name, s.SetHeaderRoute) {
			d.wait("waiting for the router to apply header route %q", s.SetHeaderRoute.Name)
			d.waitsOnEdge = true
			return false
		}
		return true
	case s.SetMirrorRoute != nil:
		if !routeApplied(d.in.Traffic.MirrorRoutes, s.SetMirrorRoute.Name, s.SetMirrorRoute) {
			d.wait("waiting for the router to apply mirror route %q", s.SetMirrorRoute.Name)
			d.waitsOnEdge = true
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
		d.st.Message = "paused: waiting for `fledge promote`"
		return false
	}
	started := d.in.Now
	if d.st.StepStartedAt != nil {
		started = d.st.StepStartedAt.Time
	}
	left := p.Duration.Duration - d.in.Now.Sub(started)
	if left <= 0 {
		return true
	}
	d.addPause(v1alpha1.PauseCanaryStep)
	d.st.Message = fmt.Sprintf("paused for %s (%s left)", p.Duration.Duration, left.Round(1e9))
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
		d.wait("waiting for analysis %s (%s)", (*ref).Name, orPending(phase))
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
	d.canaryWant = d.replicas()
	if ready := d.ready(st.CanaryRevision); ready < d.replicas() {
		d.wait("promoting revision %s: %d/%d replicas ready", st.CanaryRevision, ready, d.replicas())
		d.waitsOnEdge = true
		return
	}
	if st.CanaryWeight != 100 {
		d.event(EventNormal, "WeightChanged", "canary weight %d%% -> 100%%", st.CanaryWeight)
	}
	st.CanaryWeight = 100
	if t := d.in.Traffic; t.Canary != st.CanaryRevision || t.CanaryWeight != 100 {
		d.wait("promoting revision %s: waiting for the router to send it 100%%", st.CanaryRevision)
		d.waitsOnEdge = true
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
			t.HeaderRoutes = setRoute(t.HeaderRoutes, r.Name, *r, len(r.Match) == 0)
		}
		if r := s.SetMirrorRoute; r != nil {
			t.MirrorRoutes = setRoute(t.MirrorRoutes, r.Name, *r, len(r.Match) == 0 && r.Percentage == nil)
		}
	}
	return t
}

// observedCanaryReplicas keeps the canary's replicas while the router still
// sends it a weight larger than the one it is scaled for (a weight going down).
func (d *decider) observedCanaryReplicas() int32 {
	if t := d.in.Traffic; t.Canary == d.st.CanaryRevision {
		return canaryReplicas(d.replicas(), t.CanaryWeight)
	}
	return 0
}

// canaryReplicas is the replica count that serves weight percent of the
// traffic of a version with full replicas: at least one, so that header
// routes, mirrors and the preview always have a replica.
func canaryReplicas(full, weight int32) int32 {
	n := (full*weight + 99) / 100
	return min(max(n, 1), max(full, 1))
}

// routeApplied tells whether the router applied the route named name as want
// (or removed it, for a removal).
func routeApplied[T v1alpha1.SetHeaderRoute | v1alpha1.SetMirrorRoute](have []T, name string, want *T) bool {
	removal := false
	switch w := any(want).(type) {
	case *v1alpha1.SetHeaderRoute:
		removal = len(w.Match) == 0
	case *v1alpha1.SetMirrorRoute:
		removal = len(w.Match) == 0 && w.Percentage == nil
	}
	for _, h := range have {
		if routeName(h) == name {
			return !removal && reflect.DeepEqual(h, *want)
		}
	}
	return removal
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

// describeStep says what a step does, for events and the CLI.
func describeStep(s v1alpha1.CanaryStep) string {
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

// DescribeStep says what a step does, for the CLI and the dashboard.
func DescribeStep(s v1alpha1.CanaryStep) string { return describeStep(s) }

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
