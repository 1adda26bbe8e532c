package rollout

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// contractViolations lists what a decision d, made on in, breaks of the
// engine's invariants. Every check needs only the pair: the previous status
// is in.Rollout.Status. The table tests, the random world and the fuzz test
// all apply it to every decision they make.
func contractViolations(in Input, d Decision) []error {
	c := &contract{in: in, d: d, prev: in.Rollout.Status, st: d.Status, full: v1alpha1.Int32(in.Rollout.Spec.Replicas)}
	c.trafficLeavesFirst()
	c.weightWithinStep()
	c.weightRisesWhenReady()
	c.weightNotRaisedWhileHeld()
	c.stepsAdvanceForAReason()
	c.abortedMeansStable()
	c.replicasServeTheirWeight()
	c.runsAreFresh()
	c.phaseSaysWhy()
	c.refusedCommandChangesNothing()
	c.pureAndIdempotent()
	return c.errs
}

type contract struct {
	in   Input
	d    Decision
	prev v1alpha1.RolloutStatus
	st   v1alpha1.RolloutStatus
	full int32
	errs []error
}

func (c *contract) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// (a) A revision is scaled to nothing only once the router routes nothing to it.
func (c *contract) trafficLeavesFirst() {
	for rev, obs := range c.in.Replicas {
		if obs.Replicas > 0 && c.d.Replicas[rev] == 0 && routesTo(c.in.Traffic, rev) {
			c.fail("(a) revision %s scaled to 0 while the router still routes to it: %+v", rev, c.in.Traffic)
		}
	}
}

// routesTo tells whether the router can send a request to rev.
func routesTo(t Traffic, rev string) bool {
	if rev == "" {
		return false
	}
	return t.Stable == rev || t.Preview == rev ||
		t.Canary == rev && (t.CanaryWeight > 0 || len(t.HeaderRoutes) > 0 || len(t.MirrorRoutes) > 0)
}

// (b) The canary never gets more than the step allows.
func (c *contract) weightWithinStep() {
	allowed := allowedWeight(c.in.Rollout.Spec, c.st)
	if c.d.Traffic.CanaryWeight > allowed || c.st.CanaryWeight > allowed {
		c.fail("(b) weight %d (status %d) above the %d%% allowed at step %d", c.d.Traffic.CanaryWeight, c.st.CanaryWeight, allowed, c.st.CurrentStepIndex)
	}
	if c.d.Traffic.CanaryWeight != c.st.CanaryWeight {
		c.fail("(b) desired weight %d differs from the status' %d", c.d.Traffic.CanaryWeight, c.st.CanaryWeight)
	}
	if c.d.Traffic.Canary == "" && (c.d.Traffic.CanaryWeight != 0 || len(c.d.Traffic.HeaderRoutes) > 0 || len(c.d.Traffic.MirrorRoutes) > 0) {
		c.fail("(b) traffic to no canary: %+v", c.d.Traffic)
	}
}

// allowedWeight is the largest weight allowed at st's step: the largest
// setWeight so far, 100 once promoting.
func allowedWeight(spec v1alpha1.RolloutSpec, st v1alpha1.RolloutStatus) int32 {
	if st.CanaryRevision == "" || st.Abort {
		return 0
	}
	if spec.Strategy.BlueGreen != nil {
		if st.PromoteFull || st.CurrentStepIndex >= bgSwitch {
			return 100
		}
		return 0
	}
	ss := canaryStepsOf(spec)
	if st.PromoteFull || int(st.CurrentStepIndex) >= len(ss) {
		return 100
	}
	var w int32
	for _, s := range ss[:max(st.CurrentStepIndex+1, 0)] {
		if s.SetWeight != nil {
			w = max(w, *s.SetWeight)
		}
	}
	return w
}

// needFor is the number of ready replicas a weight needs: ceil(full*w/100),
// at least one, at most full.
func needFor(full, w int32) int32 {
	n := (int64(full)*int64(w) + 99) / 100
	return int32(min(max(n, 1), int64(max(full, 1))))
}

// (b') A weight rises only once enough canary replicas are ready for it.
func (c *contract) weightRisesWhenReady() {
	if c.st.CanaryRevision == "" || c.st.CanaryRevision != c.prev.CanaryRevision || c.st.CanaryWeight <= c.prev.CanaryWeight {
		return
	}
	if ready := c.in.Replicas[c.st.CanaryRevision].Ready; ready < needFor(c.full, c.st.CanaryWeight) {
		c.fail("(b) weight raised %d -> %d with %d ready replicas", c.prev.CanaryWeight, c.st.CanaryWeight, ready)
	}
}

// (b) A weight never rises while a run the rollout depends on holds it
// (a judge that has not passed), but from 0 (nothing to judge yet) or by
// promote --full (a human's override).
func (c *contract) weightNotRaisedWhileHeld() {
	prev, st := c.prev, c.st
	if st.CanaryRevision == "" || st.CanaryRevision != prev.CanaryRevision || st.CanaryWeight <= prev.CanaryWeight ||
		prev.CanaryWeight == 0 || st.PromoteFull || c.in.Command == CommandPromoteFull {
		return
	}
	for _, ref := range []*v1alpha1.RunRef{st.StepAnalysisRun, st.BackgroundAnalysisRun} {
		if ref == nil || observedPhase(c.in, ref).Completed() {
			continue
		}
		if obs := c.in.Analysis[ref.Name]; obs.HoldWeight {
			c.fail("(b) weight raised %d -> %d while analysis %s holds it (%s)", prev.CanaryWeight, st.CanaryWeight, ref.Name, obs.HoldReason)
		}
	}
}

// (c) A step ends only for a reason: it completed as observed, or a human
// ended it; a canary becomes stable only once every step ended, no analysis
// failed and the router sends it everything, unless promote --full said so.
func (c *contract) stepsAdvanceForAReason() {
	prev, st, in := c.prev, c.st, c.in
	released := st.CanaryRevision
	promoted := st.CanaryRevision == "" && prev.StableRevision != "" && st.StableRevision != prev.StableRevision
	if promoted {
		released = st.StableRevision
		if t := in.Traffic; t.Canary != released || t.CanaryWeight != 100 {
			c.fail("(c) revision %s promoted while the router sends it %d%% (%+v)", released, t.CanaryWeight, t)
		}
	}
	if released == "" {
		return
	}
	retried := in.Command == CommandRetry && prev.Abort
	fresh := released != prev.CanaryRevision || retried
	full := in.Command == CommandPromoteFull || !fresh && prev.PromoteFull
	if !fresh && prev.Abort && !retried && in.Command != CommandPromoteFull {
		if promoted || st.CurrentStepIndex != prev.CurrentStepIndex {
			c.fail("(c) an aborted rollout moved: step %d -> %d, promoted %v", prev.CurrentStepIndex, st.CurrentStepIndex, promoted)
		}
		return
	}
	blueGreen := in.Rollout.Spec.Strategy.BlueGreen != nil
	start, end := max(prev.CurrentStepIndex, 0), st.CurrentStepIndex
	if fresh {
		start = 0
	}
	if blueGreen && prev.Abort && in.Command == CommandPromoteFull {
		start = min(start, bgSwitch) // the abort switched back: the switch is to be done again
	}
	if promoted {
		end = stepsOf(in.Rollout.Spec)
		if ref := prev.BackgroundAnalysisRun; ref != nil && !fresh && !full {
			if p := observedPhase(in, ref); p == v1alpha1.AnalysisFailed || p == v1alpha1.AnalysisInconclusive || p == v1alpha1.AnalysisError {
				c.fail("(c) promoted with background analysis %s %s", ref.Name, p)
			}
		}
	}
	for i := start; i < end; i++ {
		// promote --full skips anything but the switch of a blue-green:
		// no revision is promoted before it takes the traffic.
		if full && !(blueGreen && i == bgSwitch) {
			continue
		}
		if !c.stepEnded(released, i, start, !fresh && i == start) {
			c.fail("(c) step %d of revision %s ended without completing (command %q, input %+v)", i, released, in.Command, in.Traffic)
		}
	}
}

func stepsOf(spec v1alpha1.RolloutSpec) int32 {
	if spec.Strategy.BlueGreen != nil {
		return blueGreenSteps
	}
	return int32(len(canaryStepsOf(spec)))
}

func canaryStepsOf(spec v1alpha1.RolloutSpec) []v1alpha1.CanaryStep {
	if spec.Strategy.Canary == nil {
		return nil
	}
	return spec.Strategy.Canary.Steps
}

// stepEnded tells whether step i may have ended in this decision; current
// says the step was under way before it (its clock and run are the status').
func (c *contract) stepEnded(rev string, i, start int32, current bool) bool {
	in, prev := c.in, c.prev
	human := (in.Command == CommandPromote || in.Command == CommandResume) && !prev.Abort && rev == prev.CanaryRevision
	started := metaTime(in.Now).Time
	if current && prev.StepStartedAt != nil {
		started = prev.StepStartedAt.Time
	}
	elapsed := max(0, in.Now.Sub(started)) // a clock started this second is rounded up, ahead of now
	if b := in.Rollout.Spec.Strategy.BlueGreen; b != nil {
		if human && i != bgSwitch && (i == start || i < bgSwitch && start < bgSwitch) {
			return true // promote goes from the preview straight to the switch, never past it
		}
		return c.blueGreenStepEnded(b, rev, i, current)
	}
	if human && i == start {
		return true
	}
	ss := canaryStepsOf(in.Rollout.Spec)
	if int(i) >= len(ss) {
		return true
	}
	s := ss[i]
	switch {
	case s.SetWeight != nil:
		return in.Traffic.Canary == rev && in.Traffic.CanaryWeight == *s.SetWeight
	case s.Pause != nil:
		return s.Pause.Duration != nil && elapsed >= s.Pause.Duration.Duration
	case s.Analysis != nil:
		return current && prev.StepAnalysisRun != nil && observedPhase(in, prev.StepAnalysisRun) == v1alpha1.AnalysisSuccessful
	case s.SetHeaderRoute != nil:
		return routeIn(in.Traffic.HeaderRoutes, s.SetHeaderRoute.Name, *s.SetHeaderRoute, len(s.SetHeaderRoute.Match) == 0)
	case s.SetMirrorRoute != nil:
		m := s.SetMirrorRoute
		return routeIn(in.Traffic.MirrorRoutes, m.Name, *m, len(m.Match) == 0 && m.Percentage == nil)
	}
	return true
}

func (c *contract) blueGreenStepEnded(b *v1alpha1.BlueGreenStrategy, rev string, i int32, current bool) bool {
	in, prev := c.in, c.prev
	preview := c.full
	if b.PreviewReplicaCount != nil {
		preview = *b.PreviewReplicaCount
	}
	switch i {
	case bgPreview:
		if in.Replicas[rev].Ready < preview {
			return false
		}
		return b.PrePromotionAnalysis == nil || current && prev.PrePromotionRun != nil && observedPhase(in, prev.PrePromotionRun) == v1alpha1.AnalysisSuccessful
	case bgAwait:
		if !v1alpha1.Bool(b.AutoPromotionEnabled) {
			return false
		}
		// The delay counts from when the preview became ready, which may
		// be before this step (pre-promotion analysis ran meanwhile).
		readyAt := metaTime(in.Now).Time
		if prev.PreviewReadyAt != nil && rev == prev.CanaryRevision && !(in.Command == CommandRetry && prev.Abort) {
			readyAt = prev.PreviewReadyAt.Time
		}
		return max(0, in.Now.Sub(readyAt)) >= time.Duration(b.AutoPromotionSeconds)*time.Second
	case bgSwitch:
		return in.Replicas[rev].Ready >= c.full && in.Traffic.Canary == rev && in.Traffic.CanaryWeight == 100
	case bgPost:
		return b.PostPromotionAnalysis == nil || current && prev.PostPromotionRun != nil && observedPhase(in, prev.PostPromotionRun) == v1alpha1.AnalysisSuccessful
	}
	return false
}

// observedPhase is the phase of a run: as observed now, else as last known.
func observedPhase(in Input, ref *v1alpha1.RunRef) v1alpha1.AnalysisPhase {
	if o, ok := in.Analysis[ref.Name]; ok && o.Phase != "" && !ref.Phase.Completed() {
		return o.Phase
	}
	return ref.Phase
}

func routeIn[T v1alpha1.SetHeaderRoute | v1alpha1.SetMirrorRoute](have []T, name string, want T, removal bool) bool {
	for _, h := range have {
		if reflect.ValueOf(h).FieldByName("Name").String() == name {
			ja, _ := json.Marshal(h) // as the API writes it: an empty list is no list
			jw, _ := json.Marshal(want)
			return !removal && string(ja) == string(jw)
		}
	}
	return removal
}

// An aborted rollout sends the canary nothing and runs no analysis.
func (c *contract) abortedMeansStable() {
	if !c.st.Abort {
		return
	}
	t := c.d.Traffic
	if t.CanaryWeight != 0 || len(t.HeaderRoutes) > 0 || len(t.MirrorRoutes) > 0 || t.Preview != "" || t.Stable != c.st.StableRevision {
		c.fail("aborted, yet traffic is %+v", t)
	}
	if len(c.d.Analysis) > 0 {
		c.fail("aborted, yet runs %+v", c.d.Analysis)
	}
	if c.st.Phase != v1alpha1.PhaseDegraded {
		c.fail("aborted, yet phase %s", c.st.Phase)
	}
}

// The stable and warm revisions run in full, the canary enough for its weight.
func (c *contract) replicasServeTheirWeight() {
	st, want := c.st, c.d.Replicas
	if st.StableRevision != "" && want[st.StableRevision] < max(c.full, 0) {
		c.fail("stable %s wants %d replicas, not %d", st.StableRevision, want[st.StableRevision], c.full)
	}
	if st.CanaryRevision != "" && !st.Abort && want[st.CanaryRevision] < needFor(c.full, st.CanaryWeight) {
		c.fail("canary %s wants %d replicas, too few for %d%%", st.CanaryRevision, want[st.CanaryRevision], st.CanaryWeight)
	}
	seen := map[string]bool{}
	for _, s := range st.ScaleDowns {
		if seen[s.Revision] || s.Revision == st.StableRevision || s.Revision == st.CanaryRevision {
			c.fail("scale-downs %+v list a revision twice, or one in use", st.ScaleDowns)
		}
		seen[s.Revision] = true
		if want[s.Revision] < c.full {
			c.fail("warm revision %s wants %d replicas", s.Revision, want[s.Revision])
		}
		if !s.At.Time.After(c.in.Now) {
			c.fail("scale-down of %s due at %s kept at %s", s.Revision, s.At, c.in.Now)
		}
	}
	for rev, n := range want {
		if n <= 0 {
			c.fail("revision %s listed with %d replicas", rev, n)
		}
	}
}

// Runs are named once: a run that is new in this decision has a sequence
// number never used before, judges the canary, and promote --full runs none.
func (c *contract) runsAreFresh() {
	old := map[string]bool{}
	for _, r := range refsOf(c.prev) {
		old[r.Name] = true
	}
	if c.st.RunSeq < c.prev.RunSeq {
		c.fail("run sequence went back: %d -> %d", c.prev.RunSeq, c.st.RunSeq)
	}
	for _, r := range refsOf(c.st) {
		if !old[r.Name] && (seqOf(r.Name) <= c.prev.RunSeq || seqOf(r.Name) > c.st.RunSeq) {
			c.fail("new run %s reuses a sequence number (was %d, now %d)", r.Name, c.prev.RunSeq, c.st.RunSeq)
		}
	}
	names := map[string]bool{}
	for _, r := range c.d.Analysis {
		if names[r.Name] || r.Revision != c.st.CanaryRevision {
			c.fail("run %s listed twice, or not for canary %s", r.Name, c.st.CanaryRevision)
		}
		names[r.Name] = true
	}
	if c.st.PromoteFull && len(c.d.Analysis) > 0 {
		c.fail("promote --full, yet runs %+v", c.d.Analysis)
	}
}

func refsOf(st v1alpha1.RolloutStatus) []*v1alpha1.RunRef {
	var out []*v1alpha1.RunRef
	for _, r := range []*v1alpha1.RunRef{st.StepAnalysisRun, st.BackgroundAnalysisRun, st.PrePromotionRun, st.PostPromotionRun} {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// The phase agrees with the status.
func (c *contract) phaseSaysWhy() {
	st := c.st
	pausedNow := c.in.Rollout.Spec.Paused || len(st.PauseConditions) > 0
	switch st.Phase {
	case v1alpha1.PhaseHealthy:
		if st.CanaryRevision != "" || pausedNow || c.in.Replicas[st.StableRevision].Ready < c.full {
			c.fail("Healthy, yet canary %q, paused %v, %d ready", st.CanaryRevision, pausedNow, c.in.Replicas[st.StableRevision].Ready)
		}
	case v1alpha1.PhasePaused:
		if !pausedNow || st.Abort {
			c.fail("Paused, yet no pause (abort %v)", st.Abort)
		}
	case v1alpha1.PhaseProgressing:
		if pausedNow || st.Abort {
			c.fail("Progressing, yet paused %v or aborted %v", pausedNow, st.Abort)
		}
	case v1alpha1.PhaseDegraded:
	default:
		c.fail("unknown phase %q", st.Phase)
	}
	if st.Message == "" {
		c.fail("phase %s without a message", st.Phase)
	}
}

// A command that does not apply changes nothing but CommandError.
func (c *contract) refusedCommandChangesNothing() {
	if c.d.CommandError == "" {
		return
	}
	in := copyInput(c.in)
	in.Command = CommandNone
	want := Decide(in)
	got := c.d
	got.CommandError = ""
	if !reflect.DeepEqual(got, want) {
		c.fail("refused command %q (%s) changed the decision:\n got %+v\nwant %+v", c.in.Command, c.d.CommandError, got, want)
	}
}

// (d) (e) Decide is pure, deterministic, and idempotent: deciding again
// from the decided status (persisted as JSON, as the edges do) with the same
// observations and no command changes nothing and tells nothing new.
func (c *contract) pureAndIdempotent() {
	again := Decide(copyInput(c.in))
	if !reflect.DeepEqual(again, c.d) {
		c.fail("(e) two decisions on the same input differ:\n%+v\n%+v", c.d, again)
	}
	in, untouched := copyInput(c.in), copyInput(c.in)
	Decide(in)
	if !reflect.DeepEqual(in, untouched) {
		c.fail("Decide changed its input")
	}
	persisted := roundTrip(&v1alpha1.Rollout{Status: c.d.Status}).Status
	if !reflect.DeepEqual(persisted, c.d.Status) {
		c.fail("(d) the status changes when persisted:\n%+v\n%+v", c.d.Status, persisted)
	}
	in = copyInput(c.in)
	in.Rollout.Status, in.Command = persisted, CommandNone
	d2 := Decide(in)
	if !reflect.DeepEqual(d2.Status, c.d.Status) {
		c.fail("(d) deciding again changed the status:\n%+v\n%+v", c.d.Status, d2.Status)
	}
	if len(d2.Events) > 0 {
		c.fail("(d) deciding again told new events: %+v", d2.Events)
	}
	if !reflect.DeepEqual(d2.Traffic, c.d.Traffic) || !reflect.DeepEqual(d2.Replicas, c.d.Replicas) || !reflect.DeepEqual(d2.Analysis, c.d.Analysis) {
		c.fail("(d) deciding again changed the desired state:\n%+v\n%+v", c.d, d2)
	}
}

// copyInput copies in deeply enough that deciding on the copy cannot touch in.
func copyInput(in Input) Input {
	out := in
	out.Rollout = roundTrip(in.Rollout)
	out.Replicas = map[string]ReplicaObservation{}
	for k, v := range in.Replicas {
		out.Replicas[k] = v
	}
	out.Analysis = map[string]RunObservation{}
	for k, v := range in.Analysis {
		out.Analysis[k] = v
	}
	return out
}

// roundTrip copies r through JSON, as the edges persist it.
func roundTrip(r *v1alpha1.Rollout) *v1alpha1.Rollout {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	out := &v1alpha1.Rollout{}
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}
