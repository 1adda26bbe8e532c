package rollout

import (
	"fmt"

	"fledge.dev/fledge/api/v1alpha1"
)

// useRun makes sure the run held in *ref exists, naming a new one when it
// does not, and returns its last observed phase.
func (d *decider) useRun(ref **v1alpha1.RunRef, role string, a *v1alpha1.RolloutAnalysis) v1alpha1.AnalysisPhase {
	st := &d.st
	if *ref == nil {
		st.RunSeq++
		*ref = &v1alpha1.RunRef{
			Name:  fmt.Sprintf("%s-r%s-%s-%d", d.in.Rollout.Name, st.CanaryRevision, role, st.RunSeq),
			Phase: v1alpha1.AnalysisPending,
		}
		d.event(EventNormal, "AnalysisStarted", "analysis %s started (%s)", (*ref).Name, templateNames(a))
	}
	return (*ref).Phase
}

// observeRuns refreshes the phase of every run the status refers to. A
// verdict is final: a run the edge lost and started again under the same
// name does not take back a verdict already acted on.
func (d *decider) observeRuns() {
	for _, r := range d.runRefs() {
		obs, ok := d.in.Analysis[r.ref.Name]
		if !ok || obs.Phase == "" || r.ref.Phase.Completed() || obs.Phase == r.ref.Phase && obs.Message == r.ref.Message {
			continue
		}
		if obs.Phase != r.ref.Phase && obs.Phase.Completed() {
			typ := EventNormal
			if obs.Phase != v1alpha1.AnalysisSuccessful {
				typ = EventWarning
			}
			d.event(typ, "Analysis"+string(obs.Phase), "analysis %s: %s %s", r.ref.Name, obs.Phase, obs.Message)
		}
		r.ref.Phase, r.ref.Message = obs.Phase, obs.Message
	}
}

// heldRun is a run the status refers to, with what it runs.
type heldRun struct {
	ref      *v1alpha1.RunRef
	analysis *v1alpha1.RolloutAnalysis
	blocking bool
}

// runRefs lists the runs the status refers to.
func (d *decider) runRefs() []heldRun {
	st := &d.st
	var out []heldRun
	add := func(ref *v1alpha1.RunRef, a *v1alpha1.RolloutAnalysis, blocking bool) {
		if ref != nil && a != nil {
			out = append(out, heldRun{ref, a, blocking})
		}
	}
	if c := d.spec.Strategy.Canary; c != nil {
		if s, ok := d.currentStep(); ok {
			add(st.StepAnalysisRun, s.Analysis, true)
		}
		if c.Analysis != nil {
			add(st.BackgroundAnalysisRun, &c.Analysis.RolloutAnalysis, false)
		}
	}
	if b := d.spec.Strategy.BlueGreen; b != nil {
		add(st.PrePromotionRun, b.PrePromotionAnalysis, true)
		add(st.PostPromotionRun, b.PostPromotionAnalysis, true)
	}
	return out
}

// listRuns asks the edge to keep every run the rollout still depends on; a
// paused rollout keeps its runs, an aborted or finished one has none.
func (d *decider) listRuns() {
	st := &d.st
	if st.CanaryRevision == "" || st.Abort {
		return
	}
	for _, r := range d.runRefs() {
		d.out.Analysis = append(d.out.Analysis, RunSpec{Name: r.ref.Name, Revision: st.CanaryRevision, Analysis: *r.analysis, Blocking: r.blocking})
	}
}

// inconclusive pauses the rollout on a run that could not decide: it is
// never a pass. Resume starts a fresh run. A run whose templates say
// inconclusivePolicy: Abort aborts the rollout instead.
func (d *decider) inconclusive(ref *v1alpha1.RunRef) {
	if d.in.Analysis[ref.Name].InconclusivePolicy == v1alpha1.InconclusiveAbort {
		d.abort("AnalysisInconclusiveAbort", "analysis %s is %s (inconclusivePolicy Abort): %s", ref.Name, ref.Phase, ref.Message)
		return
	}
	if !hasPause(d.st.PauseConditions, v1alpha1.PauseInconclusive) {
		d.event(EventWarning, "AnalysisInconclusive", "paused: analysis %s is %s; `fledge resume` runs it again, `fledge abort` rolls back", ref.Name, ref.Phase)
	}
	d.addPause(v1alpha1.PauseInconclusive)
	d.st.Message = fmt.Sprintf("paused: analysis %s is %s: %s", ref.Name, ref.Phase, ref.Message)
}

// paused tells whether the spec, a user or an inconclusive analysis holds
// the rollout where it is (a pause step is handled by the step itself).
func (d *decider) paused() bool {
	return d.spec.Paused || hasPause(d.st.PauseConditions, v1alpha1.PauseUser) ||
		hasPause(d.st.PauseConditions, v1alpha1.PauseInconclusive)
}

// holdsWeight tells whether a run keeps the canary's weight from rising
// now, and then says so in the status: a run the rollout depends on, not
// decided, whose judge has not passed. The first weight (from 0) is never
// held, since without traffic there is nothing to judge; promote --full
// overrides the hold (the human's final word, as it skips analyses).
func (d *decider) holdsWeight() bool {
	st := &d.st
	if st.CanaryWeight == 0 || st.PromoteFull {
		return false
	}
	for _, ref := range []*v1alpha1.RunRef{st.StepAnalysisRun, st.BackgroundAnalysisRun} {
		if ref == nil || ref.Phase.Completed() {
			continue
		}
		if obs := d.in.Analysis[ref.Name]; obs.HoldWeight {
			why := obs.HoldReason
			if why == "" {
				why = "its judge has not passed"
			}
			d.wait("holding weight at %d%%: %s (analysis %s)", st.CanaryWeight, why, ref.Name)
			return true
		}
	}
	return false
}

// heldBy says which run holds the weight now, if one does, for the record
// of a human overriding it.
func (d *decider) heldBy() string {
	for _, ref := range []*v1alpha1.RunRef{d.st.StepAnalysisRun, d.st.BackgroundAnalysisRun} {
		if ref != nil && !ref.Phase.Completed() && d.in.Analysis[ref.Name].HoldWeight {
			return ref.Name
		}
	}
	return ""
}
