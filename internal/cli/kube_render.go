package cli

import (
	"fmt"
	"io"
	"sort"
	"time"

	"fledge.dev/fledge/internal/controller"
	"fledge.dev/fledge/internal/runner/store"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeEvents turns a Rollout's Kubernetes Events into the status view's,
// oldest first, the last maxEvents of them. The actor is the sender of the
// command that caused it, else the component that recorded it; the
// message keeps its "(by ACTOR)", as the text view shows no actor.
func kubeEvents(list []corev1.Event) []store.Event {
	out := make([]store.Event, 0, len(list))
	for _, e := range list {
		actor, _ := controller.EventActor(e)
		if actor == "" {
			actor = e.Source.Component
		}
		out = append(out, store.Event{Time: eventTime(e), Type: e.Type, Reason: e.Reason, Message: e.Message, Actor: actor})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	if len(out) > maxEvents {
		out = out[len(out)-maxEvents:]
	}
	return out
}

// eventTime is when an Event last happened: an event recorded again is
// one object whose count and last time go up (core/v1), or whose series
// does (events.k8s.io/v1).
func eventTime(e corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// renderConditions writes a Rollout's Kubernetes conditions, one a line:
// type, status, reason. Their message is the Rollout's, shown above.
func renderConditions(w io.Writer, cs []metav1.Condition, p painter) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintln(w, "Conditions:")
	for _, c := range cs {
		// Pad before painting: color codes take no room on screen.
		status := fmt.Sprintf("%-7s", c.Status)
		switch {
		case c.Type == "InvalidSpec" && c.Status == metav1.ConditionTrue:
			status = p.paint(red, status)
		case c.Status != metav1.ConditionTrue:
			status = p.paint(dim, status)
		}
		fmt.Fprintf(w, "  %-13s %s %s\n", c.Type, status, c.Reason)
	}
}
