package rollout

import (
	"fmt"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// t0 is the time tests start at. time.Unix gives a local time, as the
// edges' time.Now does, so that statuses survive a JSON round trip unchanged.
var t0 = time.Unix(1_700_000_000, 0)

// at is t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

func mt(d time.Duration) *metav1.Time { t := metav1.NewTime(at(d)); return &t }

// ---- Rollouts ----

type rolloutOption func(*v1alpha1.Rollout)

// newRollout builds a defaulted Rollout named "app" (a canary without steps
// unless an option says otherwise) whose first revision "1" is stable.
func newRollout(opts ...rolloutOption) *v1alpha1.Rollout {
	r := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: v1alpha1.RolloutSpec{
			Template: &v1alpha1.ProcessTemplate{Command: []string{"app"}},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}},
		},
		Status: v1alpha1.RolloutStatus{StableRevision: "1", Phase: v1alpha1.PhaseHealthy},
	}
	for _, o := range opts {
		o(r)
	}
	r.Default()
	return r
}

func replicas(n int32) rolloutOption { return func(r *v1alpha1.Rollout) { r.Spec.Replicas = &n } }

func steps(s ...v1alpha1.CanaryStep) rolloutOption {
	return func(r *v1alpha1.Rollout) { canarySpec(r).Steps = s }
}

// background runs the named templates in the background from step from.
func background(from int32, templates ...string) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		canarySpec(r).Analysis = &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: analysisOf(templates...), StartingStep: &from}
	}
}

func scaleDownDelay(secs int32) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		if c := r.Spec.Strategy.Canary; c != nil {
			c.ScaleDownDelaySeconds = &secs
		}
		if b := r.Spec.Strategy.BlueGreen; b != nil {
			b.ScaleDownDelaySeconds = &secs
		}
	}
}

func deadline(secs int32, abort bool) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		r.Spec.ProgressDeadlineSeconds, r.Spec.ProgressDeadlineAbort = &secs, &abort
	}
}

func specPaused() rolloutOption { return func(r *v1alpha1.Rollout) { r.Spec.Paused = true } }

func canarySpec(r *v1alpha1.Rollout) *v1alpha1.CanaryStrategy {
	if r.Spec.Strategy.Canary == nil {
		r.Spec.Strategy = v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}}
	}
	return r.Spec.Strategy.Canary
}

// blueGreen switches to the blue-green strategy, shaped by opts.
func blueGreen(opts ...func(*v1alpha1.BlueGreenStrategy)) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		b := &v1alpha1.BlueGreenStrategy{}
		for _, o := range opts {
			o(b)
		}
		r.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: b}
	}
}

// alsoBlueGreen changes the blue-green strategy already set.
func alsoBlueGreen(opts ...func(*v1alpha1.BlueGreenStrategy)) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		for _, o := range opts {
			o(r.Spec.Strategy.BlueGreen)
		}
	}
}

func manualPromotion(b *v1alpha1.BlueGreenStrategy) { b.AutoPromotionEnabled = new(bool) }

func autoPromotionAfter(secs int32) func(*v1alpha1.BlueGreenStrategy) {
	return func(b *v1alpha1.BlueGreenStrategy) { b.AutoPromotionSeconds = secs }
}

func previewReplicas(n int32) func(*v1alpha1.BlueGreenStrategy) {
	return func(b *v1alpha1.BlueGreenStrategy) { b.PreviewReplicaCount = &n }
}

func prePromotion(templates ...string) func(*v1alpha1.BlueGreenStrategy) {
	return func(b *v1alpha1.BlueGreenStrategy) { a := analysisOf(templates...); b.PrePromotionAnalysis = &a }
}

func postPromotion(templates ...string) func(*v1alpha1.BlueGreenStrategy) {
	return func(b *v1alpha1.BlueGreenStrategy) { a := analysisOf(templates...); b.PostPromotionAnalysis = &a }
}

// ---- Steps ----

func setWeight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: &w} }

func pauseFor(secs int) v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: v1alpha1.Seconds(secs)}}
}

func pauseUntilPromoted() v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}
}

func analysisStep(templates ...string) v1alpha1.CanaryStep {
	a := analysisOf(templates...)
	return v1alpha1.CanaryStep{Analysis: &a}
}

func headerRoute(name string, match ...v1alpha1.HeaderRoutingMatch) v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: name, Match: match}}
}

func mirrorRoute(name string, percentage *int32, match ...v1alpha1.RouteMatch) v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{SetMirrorRoute: &v1alpha1.SetMirrorRoute{Name: name, Match: match, Percentage: percentage}}
}

var testerHeader = v1alpha1.HeaderRoutingMatch{HeaderName: "X-Tester", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}}

func analysisOf(templates ...string) v1alpha1.RolloutAnalysis {
	a := v1alpha1.RolloutAnalysis{}
	for _, t := range templates {
		a.Templates = append(a.Templates, v1alpha1.AnalysisTemplateRef{TemplateName: t})
	}
	return a
}

// exampleSteps are the steps of the example spec.
func exampleSteps() []v1alpha1.CanaryStep {
	return []v1alpha1.CanaryStep{
		setWeight(5),
		pauseFor(30),
		headerRoute("testers", testerHeader),
		analysisStep("success-rate"),
		setWeight(50),
		pauseUntilPromoted(),
		setWeight(100),
	}
}

// example is the example spec: 2 replicas, the example steps, and a
// background analysis from step 1.
func example(opts ...rolloutOption) *v1alpha1.Rollout {
	base := []rolloutOption{replicas(2), steps(exampleSteps()...), background(1, "error-rate")}
	return newRollout(append(base, opts...)...)
}

// ---- Statuses ----

// releasing puts the rollout in the middle of releasing revision canary
// over stable "1": at step, with weight, first attempt, the step and the
// progress clock started at t0.
func releasing(canary string, step, weight int32) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		st := &r.Status
		st.CanaryRevision, st.CurrentStepIndex, st.CanaryWeight = canary, step, weight
		st.Attempt, st.StepStartedAt, st.ProgressAt = 1, mt(0), mt(0)
		st.Phase = v1alpha1.PhaseProgressing
	}
}

func pausedFor(reasons ...v1alpha1.PauseReason) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		for _, p := range reasons {
			r.Status.PauseConditions = append(r.Status.PauseConditions, v1alpha1.PauseCondition{Reason: p, StartTime: *mt(0)})
		}
		r.Status.Phase, r.Status.Message = v1alpha1.PhasePaused, "paused (as the test set it up)"
	}
}

// readyBefore says the last decision saw n ready replicas of the desired
// revision (a new ready replica is progress).
func readyBefore(n int32) rolloutOption {
	return func(r *v1alpha1.Rollout) { r.Status.UpdatedReadyReplicas = n }
}

func wasAborted() rolloutOption {
	return func(r *v1alpha1.Rollout) {
		r.Status.Abort, r.Status.AbortedAt, r.Status.Phase = true, mt(0), v1alpha1.PhaseDegraded
		r.Status.CanaryWeight = 0
	}
}

func withStatus(f func(*v1alpha1.RolloutStatus)) rolloutOption {
	return func(r *v1alpha1.Rollout) { f(&r.Status) }
}

// Run roles, as the engine names them.
const (
	roleBackground = "background"
	rolePre        = "prepromotion"
	rolePost       = "postpromotion"
)

// runName is the name the engine gives the seq-th run of a role for rev.
func runName(rev, role string, seq int32) string { return fmt.Sprintf("app-r%s-%s-%d", rev, role, seq) }

// stepRun is the name of the run of the analysis step at index i.
func stepRun(rev string, i, seq int32) string { return runName(rev, fmt.Sprintf("step%d", i+1), seq) }

// holding says the status refers to a run in *slot, with a phase.
func holding(slot func(*v1alpha1.RolloutStatus) **v1alpha1.RunRef, name string, phase v1alpha1.AnalysisPhase) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		*slot(&r.Status) = &v1alpha1.RunRef{Name: name, Phase: phase}
		if n := seqOf(name); n > r.Status.RunSeq {
			r.Status.RunSeq = n
		}
	}
}

func seqOf(name string) int32 {
	var n int32
	fmt.Sscanf(name[strings.LastIndex(name, "-")+1:], "%d", &n)
	return n
}

func stepSlot(s *v1alpha1.RolloutStatus) **v1alpha1.RunRef       { return &s.StepAnalysisRun }
func backgroundSlot(s *v1alpha1.RolloutStatus) **v1alpha1.RunRef { return &s.BackgroundAnalysisRun }
func preSlot(s *v1alpha1.RolloutStatus) **v1alpha1.RunRef        { return &s.PrePromotionRun }
func postSlot(s *v1alpha1.RolloutStatus) **v1alpha1.RunRef       { return &s.PostPromotionRun }

// ---- Inputs ----

type inputOption func(*Input)

// newInput observes r: the template is the canary's revision (the stable's
// when none), the stable revision runs fully ready, the router applied what
// the status says, and it is t0.
func newInput(r *v1alpha1.Rollout, opts ...inputOption) Input {
	st := r.Status
	desired := st.CanaryRevision
	if desired == "" {
		desired = st.StableRevision
	}
	full := v1alpha1.Int32(r.Spec.Replicas)
	in := Input{
		Rollout:         r,
		DesiredRevision: desired,
		Now:             t0,
		Replicas:        map[string]ReplicaObservation{st.StableRevision: {Replicas: full, Ready: full}},
		Traffic:         Traffic{Stable: st.StableRevision, Canary: st.CanaryRevision, CanaryWeight: st.CanaryWeight, Preview: st.CanaryRevision},
		Analysis:        map[string]RunObservation{},
	}
	for _, o := range opts {
		o(&in)
	}
	return in
}

func now(d time.Duration) inputOption { return func(in *Input) { in.Now = at(d) } }

func desired(rev string) inputOption { return func(in *Input) { in.DesiredRevision = rev } }

// ready observes n running replicas of rev, all ready.
func ready(rev string, n int32) inputOption { return running(rev, n, n) }

func running(rev string, n, ready int32) inputOption {
	return func(in *Input) {
		if n == 0 {
			delete(in.Replicas, rev)
			return
		}
		in.Replicas[rev] = ReplicaObservation{Replicas: n, Ready: ready}
	}
}

// applied observes the router sending weight percent to canary.
func applied(canary string, weight int32) inputOption {
	return func(in *Input) {
		in.Traffic.Canary, in.Traffic.CanaryWeight, in.Traffic.Preview = canary, weight, canary
	}
}

func routes(t Traffic) inputOption { return func(in *Input) { in.Traffic = t } }

func withHeaderRoutes(rs ...v1alpha1.SetHeaderRoute) inputOption {
	return func(in *Input) { in.Traffic.HeaderRoutes = rs }
}

func observed(name string, phase v1alpha1.AnalysisPhase) inputOption {
	return func(in *Input) {
		in.Analysis[name] = RunObservation{Phase: phase, Message: "observed " + string(phase)}
	}
}

func command(c Command) inputOption { return func(in *Input) { in.Command = c } }
