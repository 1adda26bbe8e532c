package rollout

import (
	"fledge.dev/fledge/api/v1alpha1"
)

// applyCommand applies the user's command to the status, or explains in
// CommandError why it does not apply.
func (d *decider) applyCommand() {
	st := &d.st
	inRollout := st.CanaryRevision != ""
	refuse := func(msg string) { d.out.CommandError = msg }
	switch d.in.Command {
	case CommandNone:
	case CommandPause:
		if hasPause(st.PauseConditions, v1alpha1.PauseUser) {
			return
		}
		st.PauseConditions = append(st.PauseConditions, v1alpha1.PauseCondition{Reason: v1alpha1.PauseUser, StartTime: d.now})
		d.event(EventNormal, "Paused", "paused by user")
	case CommandResume:
		d.resume()
	case CommandAbort:
		if !inRollout || st.Abort {
			refuse("nothing to abort: no rollout is in progress")
			return
		}
		d.abort("Aborted", "aborted by user")
	case CommandRetry:
		if !st.Abort {
			refuse("nothing to retry: the rollout is not aborted")
			return
		}
		attempt := st.Attempt + 1
		d.resetRollout(st.CanaryRevision)
		st.Attempt = attempt
		d.event(EventNormal, "Retried", "retrying revision %s from the first step (attempt %d)", st.CanaryRevision, attempt)
	case CommandPromote:
		if !inRollout || st.Abort {
			refuse("nothing to promote: no rollout is in progress")
			return
		}
		d.promoteStep()
	case CommandPromoteFull:
		if !inRollout {
			refuse("nothing to promote: no rollout is in progress")
			return
		}
		if st.Abort {
			st.Abort, st.AbortedAt, st.Message = false, nil, ""
		}
		st.PromoteFull = true
		st.PauseConditions = dropPause(st.PauseConditions, v1alpha1.PauseCanaryStep, v1alpha1.PauseInconclusive,
			v1alpha1.PausePreviewPromotion, v1alpha1.PauseUser)
		st.ProgressAt = &d.now
		d.event(EventNormal, "PromotedFull", "promote --full: skipping the remaining steps and analyses of revision %s", st.CanaryRevision)
	default:
		refuse("unknown command " + string(d.in.Command))
	}
}

// resume lifts a user pause and an inconclusive pause, and ends a pause step
// that waits for a human.
func (d *decider) resume() {
	st := &d.st
	was := len(st.PauseConditions)
	st.PauseConditions = dropPause(st.PauseConditions, v1alpha1.PauseUser, v1alpha1.PauseInconclusive)
	resumed := len(st.PauseConditions) < was
	if resumed {
		// Inconclusive runs are spent: the next decision starts fresh ones.
		for _, ref := range []**v1alpha1.RunRef{&st.StepAnalysisRun, &st.BackgroundAnalysisRun, &st.PrePromotionRun, &st.PostPromotionRun} {
			if *ref != nil && (*ref).Phase.Completed() && (*ref).Phase != v1alpha1.AnalysisSuccessful {
				*ref = nil
			}
		}
	}
	if st.CanaryRevision != "" && !st.Abort && d.waitsForHuman() {
		d.promoteStep()
		return
	}
	if !resumed {
		d.out.CommandError = "nothing to resume: the rollout is not paused"
		return
	}
	st.ProgressAt = &d.now
	d.event(EventNormal, "Resumed", "resumed by user")
}

// waitsForHuman tells whether the current step waits for promote.
func (d *decider) waitsForHuman() bool {
	if d.spec.Strategy.BlueGreen != nil {
		return hasPause(d.st.PauseConditions, v1alpha1.PausePreviewPromotion)
	}
	s, ok := d.currentStep()
	return ok && s.Pause != nil && s.Pause.Duration == nil
}

// promoteStep ends the current step, whatever it waits for.
func (d *decider) promoteStep() {
	st := &d.st
	if d.spec.Strategy.BlueGreen != nil {
		if st.CurrentStepIndex < bgSwitch {
			st.PrePromotionRun = nil
			d.advanceTo(bgSwitch, "promoted by user: switching to revision %s", st.CanaryRevision)
		} else {
			d.advanceTo(st.CurrentStepIndex+1, "promoted by user")
		}
		return
	}
	if st.CurrentStepIndex >= d.stepCount() {
		st.PromoteFull = true
		return
	}
	st.StepAnalysisRun = nil
	d.advanceTo(st.CurrentStepIndex+1, "promoted by user: step %d skipped", st.CurrentStepIndex+1)
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
