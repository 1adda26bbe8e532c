package rollout

import (
	"fmt"

	"fledge.dev/fledge/api/v1alpha1"
)

// applyCommand applies the user's command to the status, or explains in
// CommandError why it does not apply (and then changes nothing).
func (d *decider) applyCommand() {
	st := &d.st
	var refusal string
	switch d.in.Command {
	case CommandNone:
	case CommandPause:
		if hasPause(st.PauseConditions, v1alpha1.PauseUser) {
			refusal = "already paused by user: `fledge resume` to go on"
			break
		}
		st.PauseConditions = append(st.PauseConditions, v1alpha1.PauseCondition{Reason: v1alpha1.PauseUser, StartTime: d.now})
		d.event(EventNormal, "Paused", "paused by user")
	case CommandResume:
		refusal = d.resume()
	case CommandAbort:
		if refusal = d.notReleasing(); refusal == "" {
			d.abort("Aborted", "aborted by user")
		}
	case CommandRetry:
		if !st.Abort {
			refusal = "nothing to retry: the rollout is not aborted"
			break
		}
		attempt := st.Attempt + 1
		d.resetRollout(st.CanaryRevision)
		st.Attempt = attempt
		d.event(EventNormal, "Retried", "retrying revision %s from the first step (attempt %d)", st.CanaryRevision, attempt)
	case CommandPromote:
		if refusal = d.notReleasing(); refusal == "" {
			refusal = d.promoteStep()
		}
	case CommandPromoteFull:
		refusal = d.promoteFull()
	default:
		refusal = "unknown command " + string(d.in.Command)
	}
	d.out.CommandError = refusal
}

// notReleasing says why there is no release to act on, if there is none.
func (d *decider) notReleasing() string {
	switch {
	case d.st.CanaryRevision == "":
		return "no rollout is in progress"
	case d.st.Abort:
		return fmt.Sprintf("the rollout of revision %s is aborted: `fledge retry` starts it again", d.st.CanaryRevision)
	}
	return ""
}

// resume lifts a user pause and an inconclusive pause; if there is none, it
// ends a pause that waits for a human (a pause step without duration, a
// blue-green awaiting promotion). One layer at a time: a human who paused
// a rollout waiting at a manual gate resumes it to the gate, not past it.
func (d *decider) resume() string {
	st := &d.st
	was := len(st.PauseConditions)
	st.PauseConditions = dropPause(st.PauseConditions, v1alpha1.PauseUser, v1alpha1.PauseInconclusive)
	if len(st.PauseConditions) < was {
		// Inconclusive runs are spent: the rollout starts fresh ones.
		for _, ref := range []**v1alpha1.RunRef{&st.StepAnalysisRun, &st.BackgroundAnalysisRun, &st.PrePromotionRun, &st.PostPromotionRun} {
			if *ref != nil && (*ref).Phase.Completed() && (*ref).Phase != v1alpha1.AnalysisSuccessful {
				*ref = nil
			}
		}
		st.ProgressAt = &d.now
		d.event(EventNormal, "Resumed", "resumed by user")
		return ""
	}
	if d.notReleasing() == "" && d.waitsForHuman() {
		return d.promoteStep()
	}
	if d.spec.Paused {
		return "paused by spec.paused: set it to false to resume"
	}
	return "nothing to resume: the rollout is not paused"
}

// waitsForHuman tells whether the rollout is paused at a step that only a
// human ends.
func (d *decider) waitsForHuman() bool {
	if d.spec.Strategy.BlueGreen != nil {
		return hasPause(d.st.PauseConditions, v1alpha1.PausePreviewPromotion)
	}
	s, ok := d.currentStep()
	return ok && s.Pause != nil && s.Pause.Duration == nil && hasPause(d.st.PauseConditions, v1alpha1.PauseCanaryStep)
}

// promoteStep ends the current step, whatever it waits for, or says why it
// cannot.
func (d *decider) promoteStep() string {
	st := &d.st
	if d.spec.Strategy.BlueGreen != nil {
		switch st.CurrentStepIndex {
		case bgPreview, bgAwait:
			st.PrePromotionRun = nil
			d.advanceTo(bgSwitch, "promoted by user: switching to revision %s", st.CanaryRevision)
		case bgSwitch:
			// Skipping the switch would promote a revision that the router
			// does not send the traffic to yet.
			return fmt.Sprintf("revision %s is taking the traffic: nothing to promote until the switch is done", st.CanaryRevision)
		case bgPost:
			st.PostPromotionRun = nil
			d.advanceTo(bgPost+1, "promoted by user: post-promotion analysis skipped")
		default:
			return fmt.Sprintf("all steps are done: revision %s is being promoted", st.CanaryRevision)
		}
		return ""
	}
	if st.CurrentStepIndex >= d.stepCount() {
		return fmt.Sprintf("all steps are done: revision %s is being promoted", st.CanaryRevision)
	}
	st.StepAnalysisRun = nil
	d.advanceTo(st.CurrentStepIndex+1, "promoted by user: step %d skipped", st.CurrentStepIndex+1)
	return ""
}

// promoteFull skips every remaining step and analysis (as Argo Rollouts
// does, the runs are terminated: their verdict no longer matters), even of
// an aborted rollout: promote --full is a human's final word, and the way
// undo goes back to a previous revision.
func (d *decider) promoteFull() string {
	st := &d.st
	if st.CanaryRevision == "" {
		return "no rollout is in progress"
	}
	if st.Abort {
		st.Abort, st.AbortedAt, st.Message = false, nil, ""
		if d.spec.Strategy.BlueGreen != nil {
			// The abort switched the traffic back: switch again.
			st.CurrentStepIndex = min(st.CurrentStepIndex, bgSwitch)
		}
	}
	override := ""
	if run := d.heldBy(); run != "" && st.CanaryWeight > 0 && st.CanaryWeight < 100 {
		override = fmt.Sprintf(" (overriding the weight hold of analysis %s at %d%%)", run, st.CanaryWeight)
	}
	st.PromoteFull = true
	st.StepAnalysisRun, st.BackgroundAnalysisRun, st.PrePromotionRun, st.PostPromotionRun = nil, nil, nil, nil
	st.PauseConditions = dropPause(st.PauseConditions, v1alpha1.PauseCanaryStep, v1alpha1.PauseInconclusive,
		v1alpha1.PausePreviewPromotion, v1alpha1.PauseUser)
	st.ProgressAt = &d.now
	d.event(EventNormal, "PromotedFull", "promote --full: skipping the remaining steps and analyses of revision %s%s", st.CanaryRevision, override)
	return ""
}

// advanceTo moves to step i, starting its clock.
func (d *decider) advanceTo(i int32, format string, args ...any) {
	st := &d.st
	st.CurrentStepIndex = i
	st.StepStartedAt, st.ProgressAt = &d.now, &d.now
	st.PauseConditions = dropPause(st.PauseConditions, v1alpha1.PauseCanaryStep, v1alpha1.PausePreviewPromotion, v1alpha1.PauseInconclusive)
	d.event(EventNormal, "StepCompleted", format, args...)
}

func hasPause(ps []v1alpha1.PauseCondition, r v1alpha1.PauseReason) bool {
	for _, p := range ps {
		if p.Reason == r {
			return true
		}
	}
	return false
}

// addPause adds a pause condition once, keeping the first start time.
func (d *decider) addPause(r v1alpha1.PauseReason) {
	if !hasPause(d.st.PauseConditions, r) {
		d.st.PauseConditions = append(d.st.PauseConditions, v1alpha1.PauseCondition{Reason: r, StartTime: d.now})
	}
}

func dropPause(ps []v1alpha1.PauseCondition, rs ...v1alpha1.PauseReason) []v1alpha1.PauseCondition {
	var out []v1alpha1.PauseCondition
	for _, p := range ps {
		drop := false
		for _, r := range rs {
			drop = drop || p.Reason == r
		}
		if !drop {
			out = append(out, p)
		}
	}
	return out
}

func dropScaleDown(ss []v1alpha1.ScaleDown, rev string) []v1alpha1.ScaleDown {
	var out []v1alpha1.ScaleDown
	for _, s := range ss {
		if s.Revision != rev {
			out = append(out, s)
		}
	}
	return out
}
