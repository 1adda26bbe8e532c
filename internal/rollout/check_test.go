package rollout

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// Checks on a Decision, for the table tests, and the table runner.

type check func(t *testing.T, d Decision)

func phase(p v1alpha1.RolloutPhase) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Status.Phase != p {
			t.Errorf("phase = %s, want %s (message %q)", d.Status.Phase, p, d.Status.Message)
		}
	}
}

func atStep(i int32) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Status.CurrentStepIndex != i {
			t.Errorf("step = %d, want %d", d.Status.CurrentStepIndex, i)
		}
	}
}

// weight checks the weight in the status and in the desired traffic.
func weight(w int32) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Status.CanaryWeight != w || d.Traffic.CanaryWeight != w {
			t.Errorf("weight = %d (traffic %d), want %d", d.Status.CanaryWeight, d.Traffic.CanaryWeight, w)
		}
	}
}

func revisions(stable, canary string) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Status.StableRevision != stable || d.Status.CanaryRevision != canary {
			t.Errorf("stable/canary = %q/%q, want %q/%q", d.Status.StableRevision, d.Status.CanaryRevision, stable, canary)
		}
	}
}

func isAborted(want bool) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Status.Abort != want || (d.Status.AbortedAt != nil) != want {
			t.Errorf("abort = %v (at %v), want %v", d.Status.Abort, d.Status.AbortedAt, want)
		}
	}
}

// pauses checks the pause conditions' reasons, in any order.
func pauses(want ...v1alpha1.PauseReason) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		var got []v1alpha1.PauseReason
		for _, p := range d.Status.PauseConditions {
			got = append(got, p.Reason)
		}
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("pause reasons = %v, want %v", got, want)
		}
	}
}

// scaled checks the desired replicas of every revision.
func scaled(want map[string]int32) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if !reflect.DeepEqual(d.Replicas, want) {
			t.Errorf("replicas = %v, want %v", d.Replicas, want)
		}
	}
}

// traffic checks the desired router state exactly.
func traffic(want Traffic) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if !reflect.DeepEqual(d.Traffic, want) {
			t.Errorf("traffic = %+v, want %+v", d.Traffic, want)
		}
	}
}

// runs checks the names of the runs the rollout asks for.
func runs(names ...string) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		var got []string
		for _, r := range d.Analysis {
			got = append(got, r.Name)
		}
		if !slices.Equal(got, names) {
			t.Errorf("runs = %q, want %q", got, names)
		}
	}
}

// events checks the reasons of the events, in order.
func events(reasons ...string) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		var got []string
		for _, e := range d.Events {
			got = append(got, e.Reason)
		}
		if !slices.Equal(got, reasons) {
			t.Errorf("events = %q, want %q (%+v)", got, reasons, d.Events)
		}
	}
}

func requeue(want time.Duration) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.RequeueAfter != want {
			t.Errorf("requeue after %s, want %s", d.RequeueAfter, want)
		}
	}
}

// refused checks that the command did not apply, and says why with words.
func refused(words string) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if !strings.Contains(d.CommandError, words) {
			t.Errorf("command error = %q, want it to say %q", d.CommandError, words)
		}
	}
}

func message(words string) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if !strings.Contains(d.Status.Message, words) {
			t.Errorf("message = %q, want it to say %q", d.Status.Message, words)
		}
	}
}

// statusHas checks anything else about the status.
func statusHas(what string, ok func(v1alpha1.RolloutStatus) bool) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if !ok(d.Status) {
			t.Errorf("status: want %s; got %+v", what, d.Status)
		}
	}
}

// case_ is one row of a table test: a rollout, what is observed, and what
// the decision must be. Every row also checks the engine's contract: a
// command that applies leaves no CommandError, and deciding again from the
// decision changes nothing.
type case_ struct {
	rollout *v1alpha1.Rollout
	input   []inputOption
	want    []check
}

func runCases(t *testing.T, cases map[string]case_) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			in := newInput(c.rollout, c.input...)
			d := Decide(in)
			for _, ch := range c.want {
				ch(t, d)
			}
			checkContract(t, in, d)
		})
	}
}

// checkContract checks what every decision must satisfy whatever the case.
func checkContract(t *testing.T, in Input, d Decision) {
	t.Helper()
	for _, err := range contractViolations(in, d) {
		t.Error(err)
	}
}
