package notify

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner/store"
)

// status builds a status from options, for the tables below.
func status(phase v1alpha1.RolloutPhase, opts ...func(*v1alpha1.RolloutStatus)) v1alpha1.RolloutStatus {
	st := v1alpha1.RolloutStatus{Phase: phase, StableRevision: "1", CanaryRevision: "2"}
	for _, o := range opts {
		o(&st)
	}
	return st
}

func weight(w int32) func(*v1alpha1.RolloutStatus) {
	return func(st *v1alpha1.RolloutStatus) { st.CanaryWeight = w }
}

func aborted(msg string) func(*v1alpha1.RolloutStatus) {
	return func(st *v1alpha1.RolloutStatus) { st.Abort, st.Message = true, msg }
}

func pausedBy(r v1alpha1.PauseReason, msg string) func(*v1alpha1.RolloutStatus) {
	return func(st *v1alpha1.RolloutStatus) {
		st.PauseConditions = append(st.PauseConditions, v1alpha1.PauseCondition{Reason: r})
		st.Message = msg
	}
}

func ev(reason, msg string) store.Event {
	return store.Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Type: "Normal", Reason: reason, Message: msg}
}

func TestMessages(t *testing.T) {
	type want struct {
		event   Event
		reason  string
		message string
	}
	cases := map[string]struct {
		prev, now v1alpha1.RolloutStatus
		events    []store.Event
		want      []want
	}{
		"release starts": {
			prev: status(v1alpha1.PhaseHealthy), now: status(v1alpha1.PhaseProgressing),
			events: []store.Event{ev("RolloutStarted", "releasing revision 2 (stable is 1)")},
			want:   []want{{Started, "RolloutStarted", "releasing revision 2 (stable is 1)"}},
		},
		"weight and step in one decision make one message": {
			prev: status(v1alpha1.PhaseProgressing), now: status(v1alpha1.PhaseProgressing, weight(20)),
			events: []store.Event{ev("WeightChanged", "canary weight 0% -> 20%"), ev("StepCompleted", "step 1/3 completed: setWeight 20")},
			want:   []want{{Step, "WeightChanged", "canary weight 0% -> 20%; step 1/3 completed: setWeight 20"}},
		},
		"a pause step has no event: the phase tells": {
			prev: status(v1alpha1.PhaseProgressing), now: status(v1alpha1.PhasePaused, pausedBy(v1alpha1.PauseCanaryStep, "paused: waiting for `fledge promote`")),
			events: []store.Event{ev("StepCompleted", "step 1/3 completed: setWeight 20")},
			want: []want{
				{Step, "StepCompleted", "step 1/3 completed: setWeight 20"},
				{Paused, "CanaryPauseStep", "paused: waiting for `fledge promote`"},
			},
		},
		"still paused is not paused again": {
			prev: status(v1alpha1.PhasePaused, pausedBy(v1alpha1.PauseCanaryStep, "")), now: status(v1alpha1.PhasePaused, pausedBy(v1alpha1.PauseCanaryStep, "")),
		},
		"a user's pause": {
			prev: status(v1alpha1.PhaseProgressing), now: status(v1alpha1.PhasePaused, pausedBy(v1alpha1.PauseUser, "paused by user")),
			events: []store.Event{ev("Paused", "paused by user")},
			want:   []want{{Paused, "Paused", "paused by user"}},
		},
		"an inconclusive analysis pauses": {
			prev: status(v1alpha1.PhaseProgressing), now: status(v1alpha1.PhasePaused, pausedBy(v1alpha1.PauseInconclusive, "paused: analysis a is Inconclusive")),
			events: []store.Event{ev("AnalysisInconclusive", "paused: analysis a is Inconclusive; `fledge resume` runs it again")},
			want:   []want{{Paused, "AnalysisInconclusive", "paused: analysis a is Inconclusive; `fledge resume` runs it again"}},
		},
		"a failed analysis aborts: both are told, once each": {
			prev: status(v1alpha1.PhaseProgressing), now: status(v1alpha1.PhaseDegraded, aborted("rollout aborted: analysis a failed: x")),
			events: []store.Event{ev("AnalysisFailed", "analysis a: Failed x"), ev("AnalysisFailed", "rollout aborted: analysis a failed: x")},
			want: []want{
				{AnalysisFailed, "AnalysisFailed", "analysis a: Failed x"},
				{Aborted, "AnalysisFailed", "rollout aborted: analysis a failed: x"},
			},
		},
		"a user's abort": {
			prev: status(v1alpha1.PhasePaused), now: status(v1alpha1.PhaseDegraded, aborted("rollout aborted: aborted by user")),
			events: []store.Event{ev("Aborted", "rollout aborted: aborted by user")},
			want:   []want{{Aborted, "Aborted", "rollout aborted: aborted by user"}},
		},
		"an abort without its event still tells": {
			prev: status(v1alpha1.PhaseProgressing), now: status(v1alpha1.PhaseDegraded, aborted("rollout aborted: why")),
			want: []want{{Aborted, "Aborted", "rollout aborted: why"}},
		},
		"a deadline that only warns is not an abort": {
			prev: status(v1alpha1.PhaseProgressing), now: status(v1alpha1.PhaseProgressing),
			events: []store.Event{ev("ProgressDeadlineExceeded", "no progress for 10m")},
		},
		"promoted": {
			prev: status(v1alpha1.PhaseProgressing, weight(100)), now: v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "2", CanaryWeight: 0},
			events: []store.Event{ev("Promoted", "revision 2 is stable")},
			want:   []want{{Promoted, "Promoted", "revision 2 is stable"}},
		},
		"events that tell nobody": {
			prev: status(v1alpha1.PhaseProgressing), now: status(v1alpha1.PhaseProgressing),
			events: []store.Event{ev("AnalysisStarted", "analysis a started"), ev("ScaledDown", "previous revision 1 scaled down"), ev("InitialRevision", "first")},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
			got := Messages(Change{Rollout: "web", Previous: c.prev, Status: c.now, Events: c.events, Time: now})
			var gotW []want
			for _, m := range got {
				gotW = append(gotW, want{m.Event, m.Reason, m.Message})
				if m.Rollout != "web" || m.Phase != string(c.now.Phase) || m.Weight != c.now.CanaryWeight ||
					m.Revision != (Revisions{Stable: c.now.StableRevision, Canary: c.now.CanaryRevision}) || m.Time.IsZero() {
					t.Errorf("message %+v does not describe the status %+v", m, c.now)
				}
			}
			if !slices.Equal(gotW, c.want) {
				t.Errorf("got  %+v\nwant %+v", gotW, c.want)
			}
		})
	}
}

func TestSlackText(t *testing.T) {
	m := Message{Rollout: "web", Event: AnalysisFailed, Reason: "AnalysisFailed", Message: "analysis a: Failed result <0.99 & more",
		Revision: Revisions{Stable: "1", Canary: "2"}, Weight: 20, Phase: "Degraded"}
	got := SlackText(m)
	want := "fledge: rollout *web* failed its analysis (revision 2, canary 20%, Degraded): analysis a: Failed result &lt;0.99 &amp; more"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	m.Namespace, m.Event, m.Revision.Canary = "shop", Promoted, ""
	if got := SlackText(m); !strings.HasPrefix(got, "fledge: rollout *shop/web* promoted (revision 1,") {
		t.Errorf("promoted: %q", got)
	}
}

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"https://hooks.slack.com/services/T0/B0/SECRET":    "https://hooks.slack.com",
		"http://user:SECRET@127.0.0.1:8080/x?token=SECRET": "http://127.0.0.1:8080",
		"not a url SECRET": "(invalid URL)",
		"://SECRET":        "(invalid URL)",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackoffDoublesWithJitterUpToTheCap(t *testing.T) {
	n, err := New(Config{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 9: time.Second}
	for attempt, full := range cases {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := n.backoff(attempt)
			if d < full/2 || d > full {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, d, full/2, full)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: only %d distinct waits in 200: no jitter", attempt, len(seen))
		}
	}
}

func TestNewRejects(t *testing.T) {
	cases := map[string]Config{
		"relative URL":  {Sinks: []Sink{{Kind: Webhook, URL: "/hooks/SECRET"}}},
		"other scheme":  {Sinks: []Sink{{Kind: Slack, URL: "ftp://example.com/SECRET"}}},
		"unknown kind":  {Sinks: []Sink{{Kind: "pager", URL: "https://example.com/SECRET"}}},
		"unknown event": {Sinks: []Sink{{Kind: Webhook, URL: "https://example.com/SECRET"}}, Events: []Event{"deployed"}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error shows the URL's secret: %v", err)
			}
		})
	}
}
