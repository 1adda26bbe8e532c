package cluster

import (
	"fmt"
	"testing"
	"time"

	"fledge.dev/fledge/internal/controller"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Events of one second come out in the order they were recorded, whatever
// order they are listed in; seconds still come first.
func TestRecordedOrder(t *testing.T) {
	second := time.Date(2026, 12, 2, 15, 50, 30, 0, time.UTC)
	// As client-go's recorder makes them: whole-second timestamps, named
	// after the nanosecond they were recorded.
	event := func(reason string, at time.Time, nanos time.Duration) corev1.Event {
		return corev1.Event{
			ObjectMeta:    metav1.ObjectMeta{Name: fmt.Sprintf("web.%x", at.Add(nanos).UnixNano())},
			Reason:        reason,
			LastTimestamp: metav1.NewTime(at),
		}
	}
	tests := map[string]struct {
		listed []corev1.Event
		want   []string
	}{
		"one reconcile, listed shuffled": {
			listed: []corev1.Event{
				event("StepCompleted 5", second, 900*time.Microsecond),
				event("WeightChanged", second, 500*time.Microsecond),
				event("StepCompleted 4", second, 100*time.Microsecond),
			},
			want: []string{"StepCompleted 4", "WeightChanged", "StepCompleted 5"},
		},
		"an earlier second first, whatever its name": {
			listed: []corev1.Event{
				event("later", second, 0),
				event("earlier", second.Add(-time.Second), 2*time.Second), // a name after later's
			},
			want: []string{"earlier", "later"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			recordedOrder(tt.listed)
			var got []string
			for _, e := range tt.listed {
				got = append(got, e.Reason)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("order %v, want %v", got, tt.want)
			}
		})
	}
}

// The page shows who sent the command that caused an Event, and the
// engine as fledge.
func TestStoreEventActor(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC))
	tests := map[string]struct {
		event          corev1.Event
		actor, message string
	}{
		"a command sent from kubectl fledge": {
			event: corev1.Event{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{controller.AnnotationActor: "kubectl-fledge:alice"}},
				Reason:     "Aborted", Message: "aborted by user (by kubectl-fledge:alice)", LastTimestamp: at,
			},
			actor: "kubectl-fledge:alice", message: "aborted by user",
		},
		"the engine": {
			event: corev1.Event{Reason: "WeightChanged", Message: "canary weight 0% -> 20%", LastTimestamp: at},
			actor: "fledge", message: "canary weight 0% -> 20%",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := storeEvent(tt.event)
			if got.Actor != tt.actor || got.Message != tt.message || !got.Time.Equal(at.Time) {
				t.Errorf("storeEvent = %+v, want actor %q, message %q at %s", got, tt.actor, tt.message, at)
			}
		})
	}
}
