package rollout

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// entropy is where the world's choices come from: math/rand in the
// invariant test, the fuzzer's bytes in the fuzz test.
type entropy interface{ Intn(n int) int }

// byteEntropy draws choices from bytes; it answers 0 once they run out.
type byteEntropy struct{ b []byte }

func (e *byteEntropy) Intn(n int) int {
	if n <= 1 {
		return 0
	}
	v := 0
	for span := 1; span < n && len(e.b) > 0; span <<= 8 {
		v = v<<8 | int(e.b[0])
		e.b = e.b[1:]
	}
	return v % n
}

func (e *byteEntropy) done() bool { return len(e.b) == 0 }

// chance is true with probability pct percent.
func chance(e entropy, pct int) bool { return e.Intn(100) < pct }

func pick[T any](e entropy, xs ...T) T { return xs[e.Intn(len(xs))] }

// randomRollout builds a random, valid, defaulted rollout spec.
func randomRollout(e entropy, minReplicas int32) *v1alpha1.Rollout {
	r := newRollout(replicas(minReplicas + int32(e.Intn(5-int(minReplicas)))))
	r.Status = v1alpha1.RolloutStatus{}
	if chance(e, 25) {
		b := &v1alpha1.BlueGreenStrategy{AutoPromotionEnabled: new(chance(e, 60)), AutoPromotionSeconds: pick[int32](e, 0, 0, 30)}
		if chance(e, 40) {
			n := int32(e.Intn(int(*r.Spec.Replicas) + 1))
			b.PreviewReplicaCount = &n
		}
		if chance(e, 50) {
			a := analysisOf("pre")
			b.PrePromotionAnalysis = &a
		}
		if chance(e, 50) {
			a := analysisOf("post")
			b.PostPromotionAnalysis = &a
		}
		r.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: b}
	} else {
		c := r.Spec.Strategy.Canary
		for range e.Intn(8) {
			c.Steps = append(c.Steps, randomStep(e))
		}
		if chance(e, 50) {
			from := int32(e.Intn(len(c.Steps) + 2))
			c.Analysis = &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: analysisOf("bg"), StartingStep: &from}
		}
	}
	delay := pick[int32](e, 0, 30, 120)
	scaleDownDelay(delay)(r)
	deadline(pick[int32](e, 30, 120, 600), chance(e, 70))(r)
	r.Default()
	return r
}

func randomStep(e entropy) v1alpha1.CanaryStep {
	switch e.Intn(6) {
	case 0, 1:
		return setWeight(pick[int32](e, 0, 5, 10, 25, 50, 75, 100, int32(e.Intn(101))))
	case 2:
		if chance(e, 30) {
			return pauseUntilPromoted()
		}
		return pauseFor(pick(e, 0, 10, 30, 90))
	case 3:
		return analysisStep("step")
	case 4:
		name := pick(e, "testers", "beta")
		if chance(e, 25) {
			return headerRoute(name) // removes the route
		}
		return headerRoute(name, testerHeader)
	default:
		name := pick(e, "shadow", "copy")
		if chance(e, 25) {
			return mirrorRoute(name, nil)
		}
		return mirrorRoute(name, new(int32(pick(e, 10, 100))), v1alpha1.RouteMatch{Path: &v1alpha1.StringMatch{Prefix: "/api"}})
	}
}

// world is a pure-logic fake of the edges: it feeds the engine observations
// and commands, and moves its replicas, router and analysis runs toward each
// decision with random lags.
type world struct {
	e       entropy
	ro      *v1alpha1.Rollout
	desired string
	revs    []string
	now     time.Time
	pods    map[string]ReplicaObservation
	traffic Traffic
	runs    map[string]v1alpha1.AnalysisPhase
	// holds and policies are what the runs' judges and templates say.
	holds    map[string]bool
	policies map[string]v1alpha1.InconclusivePolicy
	target   Decision
	// hostile worlds sometimes edit the status by hand, as a user could.
	hostile bool
	trace   []string
	seen    map[string]int // event reasons told, to check the world went places
	// gates, when set, gives the webhook gates' answers of each tick.
	gates func() map[v1alpha1.WebhookType]GateObservation
}

func newWorld(e entropy, ro *v1alpha1.Rollout) *world {
	return &world{
		e: e, ro: ro, desired: "1", revs: []string{"1"}, now: t0,
		pods: map[string]ReplicaObservation{}, runs: map[string]v1alpha1.AnalysisPhase{}, seen: map[string]int{},
		holds: map[string]bool{}, policies: map[string]v1alpha1.InconclusivePolicy{},
	}
}

// tick makes one decision, checks it, and lets the world move toward it.
// It returns the violations of the engine's contract, if any.
func (w *world) tick() []error {
	in := w.observe()
	d := Decide(copyInput(in))
	w.trace = append(w.trace, fmt.Sprintf("t+%s desired=%s cmd=%q pods=%v traffic=%v/%v/%d runs=%v\n    -> %s step=%d w=%d %s/%s abort=%v full=%v pauses=%v replicas=%v err=%q events=%v",
		in.Now.Sub(t0), in.DesiredRevision, in.Command, in.Replicas, in.Traffic.Stable, in.Traffic.Canary, in.Traffic.CanaryWeight, in.Analysis,
		d.Status.Phase, d.Status.CurrentStepIndex, d.Status.CanaryWeight, d.Status.StableRevision, d.Status.CanaryRevision,
		d.Status.Abort, d.Status.PromoteFull, d.Status.PauseConditions, d.Replicas, d.CommandError, d.Events))
	errs := contractViolations(in, d)
	if strings.HasPrefix(d.Status.Message, "holding weight at ") {
		w.seen["WeightHeld"]++
	}
	for _, ev := range d.Events {
		w.seen[ev.Reason]++
		if ev.Reason == "Promoted" && !in.Rollout.Status.PromoteFull && in.Command != CommandPromoteFull {
			w.seen["PromotedThroughSteps"]++
		}
	}
	w.ro.Status, w.target = d.Status, d
	w.move()
	return errs
}

// observe builds the next Input, sometimes with a new template, an undo or
// a command.
func (w *world) observe() Input {
	var cmd Command
	switch n := w.e.Intn(200); {
	case n < 6:
		w.desired = strconv.Itoa(len(w.revs) + 1)
		w.revs = append(w.revs, w.desired)
	case n < 8:
		w.desired = w.ro.Status.StableRevision
	case n < 10: // undo, as the edge does it
		w.desired, cmd = pick(w.e, w.revs...), CommandPromoteFull
	case n < 13:
		w.ro.Spec.Paused = !w.ro.Spec.Paused
	case n < 33:
		cmd = pick(w.e, CommandPromote, CommandPromote, CommandPromoteFull, CommandAbort, CommandRetry, CommandRetry,
			CommandPause, CommandResume, CommandResume, CommandResume, "dance")
	case n < 35 && w.hostile:
		w.editStatus()
	}
	in := Input{
		Rollout: w.ro, DesiredRevision: w.desired, Now: w.now, Command: cmd,
		Replicas: w.pods, Traffic: w.traffic, Analysis: map[string]RunObservation{},
	}
	for name, p := range w.runs {
		obs := RunObservation{Phase: p, Message: "measured", HoldWeight: w.holds[name], InconclusivePolicy: w.policies[name]}
		if obs.HoldWeight {
			obs.HoldReason = "judge: waiting"
		}
		in.Analysis[name] = obs
	}
	if w.gates != nil {
		in.Gates = w.gates()
	}
	return copyInput(in)
}

// editStatus changes the status as a careless hand could: a step index out
// of range, lost clocks, a run forgotten.
func (w *world) editStatus() {
	st := &w.ro.Status
	switch w.e.Intn(4) {
	case 0:
		st.CurrentStepIndex = int32(w.e.Intn(12)) - 3
	case 1:
		st.StepStartedAt, st.ProgressAt, st.PreviewReadyAt = nil, nil, nil
	case 2:
		st.StepAnalysisRun, st.BackgroundAnalysisRun = nil, nil
	default:
		st.Message, st.Phase = "", ""
	}
}

// move lets the router, the replicas, the runs and the clock move toward
// the last decision, each with its own lag.
func (w *world) move() {
	e, d := w.e, w.target
	if chance(e, 60) {
		w.traffic = d.Traffic
		w.traffic.HeaderRoutes = slices.Clone(d.Traffic.HeaderRoutes)
		w.traffic.MirrorRoutes = slices.Clone(d.Traffic.MirrorRoutes)
	}
	revs := map[string]bool{}
	for rev := range d.Replicas {
		revs[rev] = true
	}
	for rev := range w.pods {
		revs[rev] = true
	}
	for _, rev := range slices.Sorted(maps.Keys(revs)) {
		p, want := w.pods[rev], d.Replicas[rev]
		if chance(e, 60) {
			if want > p.Replicas {
				p.Replicas += 1 + int32(e.Intn(int(want-p.Replicas)))
			} else {
				p.Replicas = want
			}
		}
		if p.Ready < p.Replicas && chance(e, 50) {
			p.Ready++
		}
		if p.Ready > 0 && chance(e, 3) {
			p.Ready-- // a crash
		}
		p.Ready = min(p.Ready, p.Replicas)
		if p.Replicas == 0 {
			delete(w.pods, rev)
		} else {
			w.pods[rev] = p
		}
	}
	w.moveRuns(d.Analysis)
	switch n := e.Intn(100); {
	case n < 15:
	case n < 45:
		w.now = w.now.Add(time.Duration(1+e.Intn(5)) * time.Second)
	case n < 90:
		w.now = w.now.Add(time.Duration(5+e.Intn(36)) * time.Second)
	default:
		w.now = w.now.Add(time.Duration(100+e.Intn(900)) * time.Second)
	}
	if chance(e, 10) {
		w.now = w.now.Add(time.Duration(e.Intn(1000)) * time.Millisecond)
	}
}

// moveRuns starts the runs asked for, terminates the others, and lets
// running ones reach a verdict.
func (w *world) moveRuns(want []RunSpec) {
	e := w.e
	listed := map[string]bool{}
	for _, r := range want {
		listed[r.Name] = true
		p, ok := w.runs[r.Name]
		switch {
		case !ok:
			if chance(e, 70) {
				w.runs[r.Name] = v1alpha1.AnalysisPending
				w.holds[r.Name] = chance(e, 50)
				if chance(e, 30) {
					w.policies[r.Name] = v1alpha1.InconclusiveAbort
				}
			}
		case p == v1alpha1.AnalysisPending && chance(e, 40):
			w.runs[r.Name] = v1alpha1.AnalysisRunning
		case p == v1alpha1.AnalysisRunning && chance(e, 40):
			w.runs[r.Name] = pick(e, v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisSuccessful,
				v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisSuccessful, v1alpha1.AnalysisFailed, v1alpha1.AnalysisInconclusive, v1alpha1.AnalysisError)
		}
	}
	for name := range w.runs {
		if !listed[name] {
			delete(w.runs, name)
			delete(w.holds, name)
			delete(w.policies, name)
		} else if chance(e, 20) {
			w.holds[name] = !w.holds[name] // a judge passes, or stops passing
		}
	}
}

// lastTrace is the end of the world's history, for a failure message.
func (w *world) lastTrace(n int) string {
	from := max(len(w.trace)-n, 0)
	return strings.Join(w.trace[from:], "\n")
}
