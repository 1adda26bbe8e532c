package dashboard

import (
	"sort"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
)

// The views are what the page renders, built here (pure) so that the
// browser only draws: every judgement (which step is current, what kind of
// marker an event is, who did it) is made and tested in Go.

// Summary is one row of the rollout list.
type Summary struct {
	Name     string `json:"name"`
	Phase    string `json:"phase"`
	Message  string `json:"message,omitempty"`
	Strategy string `json:"strategy"`
	// Step is the number of steps done, of Steps (0 of 0 for blue-green).
	Step         int32     `json:"step"`
	Steps        int       `json:"steps"`
	CanaryWeight int32     `json:"canaryWeight"`
	Stable       string    `json:"stableRevision"`
	Canary       string    `json:"canaryRevision"`
	Aborted      bool      `json:"aborted"`
	Paused       bool      `json:"paused"`
	Created      time.Time `json:"created"`
}

// Detail is the rollout page.
type Detail struct {
	Summary
	PauseReasons []string       `json:"pauseReasons,omitempty"`
	Replicas     ReplicaCounts  `json:"replicas"`
	StepList     []Step         `json:"stepList"`
	Markers      []Marker       `json:"markers"`
	Analysis     []RunView      `json:"analysis"`
	Split        Split          `json:"split"`
	Revisions    []RevisionRole `json:"revisions"`
	// Mode is where the rollout lives: local (the daemon) or cluster.
	Mode string `json:"mode"`
	// NoMetrics says why there are no per-version charts ("": there are).
	NoMetrics string `json:"noMetrics,omitempty"`
	// Disabled names the buttons the source cannot do, with why.
	Disabled map[string]string `json:"disabled,omitempty"`
}

// ReplicaCounts are the status's replica counters.
type ReplicaCounts struct {
	Total        int32 `json:"total"`
	Ready        int32 `json:"ready"`
	Updated      int32 `json:"updated"`
	UpdatedReady int32 `json:"updatedReady"`
}

// Step is one canary step on the timeline.
type Step struct {
	Index int    `json:"index"`
	Text  string `json:"text"`
	// State is done, current or pending.
	State string `json:"state"`
}

// Marker is a deployment event drawn on the timeline and the charts.
type Marker struct {
	Time time.Time `json:"time"`
	// Kind is weight, pause, analysis, promote, abort, release, step or other.
	Kind    string `json:"kind"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Warning bool   `json:"warning,omitempty"`
	// Who is fledge (the engine), dashboard, or cli (a user's command that
	// did not come through this dashboard).
	Who string `json:"who"`
}

// Split is the traffic split the router was told (applied) next to what
// the users' requests actually got (observed) over a recent window.
type Split struct {
	Applied        []Share `json:"applied"`
	Observed       []Share `json:"observed"`
	WindowSeconds  int     `json:"windowSeconds"`
	ObservedTotal  uint64  `json:"observedTotal"`
	ObservedSource string  `json:"observedSource"`
	// NoSource says nothing counts the users' requests (cluster mode).
	NoSource bool `json:"noSource,omitempty"`
}

// Share is one revision's part of the traffic, in percent.
type Share struct {
	Revision string  `json:"revision"`
	Role     string  `json:"role"`
	Percent  float64 `json:"percent"`
	Requests uint64  `json:"requests,omitempty"`
}

// RevisionRole says which revision is stable and which the canary, for
// the charts' colours and legends.
type RevisionRole struct {
	Revision string `json:"revision"`
	Role     string `json:"role"`
}

// summarize builds a list row.
func summarize(ro *v1alpha1.Rollout) Summary {
	st := ro.Status
	s := Summary{
		Name: ro.Name, Phase: string(st.Phase), Message: st.Message, Strategy: "canary",
		Step: st.CurrentStepIndex, CanaryWeight: st.CanaryWeight,
		Stable: st.StableRevision, Canary: st.CanaryRevision,
		Aborted: st.Abort, Paused: len(st.PauseConditions) > 0,
		Created: ro.CreationTimestamp.Time,
	}
	if s.Phase == "" {
		s.Phase = "Pending"
	}
	switch c := ro.Spec.Strategy.Canary; {
	case c != nil:
		s.Steps = len(c.Steps)
	case ro.Spec.Strategy.BlueGreen != nil:
		s.Strategy, s.Step = "blueGreen", 0
	}
	return s
}

// detail builds the rollout page from what the source holds. who names the
// actor of an event; observed is the requests per revision of the last
// window seconds, nil when nothing counts them.
func detail(ro *v1alpha1.Rollout, events []store.Event, runs []*v1alpha1.AnalysisRun, who func(store.Event) string, observed map[string]uint64, window time.Duration) Detail {
	st := ro.Status
	d := Detail{
		Summary: summarize(ro),
		Replicas: ReplicaCounts{
			Total: st.Replicas, Ready: st.ReadyReplicas, Updated: st.UpdatedReplicas, UpdatedReady: st.UpdatedReadyReplicas,
		},
		StepList: []Step{}, Markers: []Marker{}, Analysis: []RunView{},
	}
	for _, p := range st.PauseConditions {
		d.PauseReasons = append(d.PauseReasons, string(p.Reason))
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		d.StepList = steps(c.Steps, int(st.CurrentStepIndex))
	}
	for _, e := range events {
		d.Markers = append(d.Markers, Marker{
			Time: e.Time, Kind: markerKind(e), Reason: e.Reason, Message: e.Message,
			Warning: e.Type == rollout.EventWarning, Who: who(e),
		})
	}
	d.Analysis = runViews(runs)
	d.Split = split(st, observed, window)
	if observed == nil {
		d.Split.NoSource, d.Split.ObservedSource = true, "no metrics source: nothing counts the users' requests per version here"
	}
	d.Revisions = roles(st, observed)
	return d
}

// steps marks the steps before the current one done.
func steps(ss []v1alpha1.CanaryStep, current int) []Step {
	out := make([]Step, 0, len(ss))
	for i, s := range ss {
		state := "pending"
		switch {
		case i < current:
			state = "done"
		case i == current:
			state = "current"
		}
		out = append(out, Step{Index: i, Text: rollout.DescribeStep(s), State: state})
	}
	return out
}

// markerKinds classifies events by reason; the engine's reasons are CamelCase words.
var markerKinds = map[string]string{
	"WeightChanged":            "weight",
	"Switched":                 "weight",
	"Paused":                   "pause",
	"Resumed":                  "pause",
	"AnalysisStarted":          "analysis",
	"AnalysisSuccessful":       "analysis",
	"AnalysisFailed":           "analysis",
	"AnalysisError":            "analysis",
	"AnalysisInconclusive":     "analysis",
	"Promoted":                 "promote",
	"PromotedFull":             "promote",
	"Aborted":                  "abort",
	"ProgressDeadlineExceeded": "abort",
	"RolloutStarted":           "release",
	"RolloutRestarted":         "release",
	"RolloutCanceled":          "release",
	"InitialRevision":          "release",
	"PreviewReady":             "release",
	"Retried":                  "release",
	"Applied":                  "release",
	"Undo":                     "release",
	"StepCompleted":            "step",
}

// markerKind classifies an event. An abort caused by a failed analysis
// shares its reason with the analysis's verdict; its message tells them apart.
func markerKind(e store.Event) string {
	if strings.HasPrefix(e.Message, "rollout aborted") {
		return "abort"
	}
	if k, ok := markerKinds[e.Reason]; ok {
		return k
	}
	return "other"
}

// split puts the applied weights and the observed shares side by side.
func split(st v1alpha1.RolloutStatus, observed map[string]uint64, window time.Duration) Split {
	s := Split{Applied: []Share{}, Observed: []Share{}, WindowSeconds: int(window / time.Second), ObservedSource: "requests counted by the proxy"}
	if st.StableRevision != "" {
		s.Applied = append(s.Applied, Share{Revision: st.StableRevision, Role: "stable", Percent: float64(100 - st.CanaryWeight)})
	}
	if st.CanaryRevision != "" {
		s.Applied = append(s.Applied, Share{Revision: st.CanaryRevision, Role: "canary", Percent: float64(st.CanaryWeight)})
	}
	for _, n := range observed {
		s.ObservedTotal += n
	}
	for _, r := range roles(st, observed) {
		n := observed[r.Revision]
		pct := 0.0
		if s.ObservedTotal > 0 {
			pct = 100 * float64(n) / float64(s.ObservedTotal)
		}
		s.Observed = append(s.Observed, Share{Revision: r.Revision, Role: r.Role, Percent: pct, Requests: n})
	}
	return s
}

// roles lists the stable and canary revisions, then any other revision
// that still served requests (one being scaled down), in a stable order.
func roles(st v1alpha1.RolloutStatus, observed map[string]uint64) []RevisionRole {
	var out []RevisionRole
	seen := map[string]bool{}
	add := func(rev, role string) {
		if rev != "" && !seen[rev] {
			seen[rev] = true
			out = append(out, RevisionRole{Revision: rev, Role: role})
		}
	}
	add(st.StableRevision, "stable")
	add(st.CanaryRevision, "canary")
	var others []string
	for rev := range observed {
		if !seen[rev] {
			others = append(others, rev)
		}
	}
	sort.Strings(others)
	for _, rev := range others {
		add(rev, "previous")
	}
	return out
}
