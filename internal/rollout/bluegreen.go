package rollout

import (
	"fmt"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// Blue-green runs as four implicit steps, so that status, promote and the
// progress bar read the same as for a canary.
const (
	bgPreview      int32 = iota // the new version scales up and passes pre-promotion analysis
	bgAwait                     // auto-promotion delay, or a human's promote
	bgSwitch                    // full scale, then 100% of traffic in one switch
	bgPost                      // post-promotion analysis, the old version still warm
	blueGreenSteps              // all done: promote
)

// BlueGreenStepNames name the implicit steps of a blue-green rollout.
var BlueGreenStepNames = [blueGreenSteps]string{"preview", "await promotion", "switch", "post-promotion analysis"}

// blueGreen executes the implicit steps as far as the observations allow.
func (d *decider) blueGreen() {
	st := &d.st
	for guard := 0; guard <= int(blueGreenSteps); guard++ {
		if d.rollbackRequested() || d.paused() {
			break
		}
		i := st.CurrentStepIndex
		if i >= blueGreenSteps {
			d.completePromotion()
			return
		}
		if !d.blueGreenStep(i) {
			break
		}
		d.advanceTo(i+1, "blue-green step %d/%d completed: %s", i+1, blueGreenSteps, BlueGreenStepNames[i])
	}
	if st.Abort {
		return
	}
	d.out.Traffic = Traffic{Stable: st.StableRevision, Canary: st.CanaryRevision, CanaryWeight: st.CanaryWeight, Preview: st.CanaryRevision}
}

// blueGreenStep does what implicit step i asks and tells whether it is complete.
func (d *decider) blueGreenStep(i int32) bool {
	b := d.spec.Strategy.BlueGreen
	st := &d.st
	switch i {
	case bgPreview:
		preview := d.previewReplicas()
		if ready := d.ready(st.CanaryRevision); ready < preview {
			d.waitOnEdge("waiting for preview revision %s: %d/%d replicas ready", st.CanaryRevision, ready, preview)
			return false
		}
		if st.PreviewReadyAt == nil && d.preRolloutHolds("the preview of revision "+st.CanaryRevision) {
			return false
		}
		if st.PreviewReadyAt == nil {
			st.PreviewReadyAt = &d.now
			d.event(EventNormal, "PreviewReady", "preview revision %s is ready", st.CanaryRevision)
		}
		if b.PrePromotionAnalysis == nil || st.PromoteFull {
			return true
		}
		return d.blockingRun(&st.PrePromotionRun, "prepromotion", b.PrePromotionAnalysis)
	case bgAwait:
		if st.PromoteFull {
			return true
		}
		if !v1alpha1.Bool(b.AutoPromotionEnabled) {
			d.addPause(v1alpha1.PausePreviewPromotion)
			st.Message = fmt.Sprintf("preview revision %s is ready: waiting for `%s`", st.CanaryRevision, d.in.promoteWith())
			return false
		}
		if b.AutoPromotionSeconds > 0 && st.PreviewReadyAt != nil {
			left := time.Duration(b.AutoPromotionSeconds)*time.Second - d.since(*st.PreviewReadyAt)
			if left > 0 {
				d.wait("auto-promotion of revision %s in %s", st.CanaryRevision, left.Round(time.Second))
				d.requeue(left)
				return false
			}
		}
		return true
	case bgSwitch:
		if ready := d.ready(st.CanaryRevision); ready < d.replicas() {
			d.waitOnEdge("scaling revision %s before the switch: %d/%d replicas ready", st.CanaryRevision, ready, d.replicas())
			return false
		}
		if st.CanaryWeight != 100 && d.gateHolds(v1alpha1.WebhookConfirmPromotion, "the switch to revision "+st.CanaryRevision) {
			return false
		}
		if st.CanaryWeight != 100 {
			d.event(EventNormal, "Switched", "switching all traffic to revision %s", st.CanaryRevision)
		}
		st.CanaryWeight = 100
		if t := d.in.Traffic; t.Canary != st.CanaryRevision || t.CanaryWeight != 100 {
			d.waitOnEdge("waiting for the router to switch to revision %s", st.CanaryRevision)
			return false
		}
		return true
	case bgPost:
		if b.PostPromotionAnalysis == nil || st.PromoteFull {
			return true
		}
		return d.blockingRun(&st.PostPromotionRun, "postpromotion", b.PostPromotionAnalysis)
	}
	return true
}

// previewReplicas is the replica count of the preview before the switch.
func (d *decider) previewReplicas() int32 {
	if n := d.spec.Strategy.BlueGreen.PreviewReplicaCount; n != nil {
		return *n
	}
	return d.replicas()
}

// blueGreenScale is the new revision's replica count: the preview's until
// the switch, full from then on (and at once after promote --full, which
// goes straight to the switch).
func (d *decider) blueGreenScale() int32 {
	if d.st.PromoteFull || d.st.CurrentStepIndex >= bgSwitch {
		return d.replicas()
	}
	return d.previewReplicas()
}
