package controller

import (
	"context"

	"fledge.dev/fledge/api/v1alpha1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// wake asks for a reconcile of the Rollout key through ch, the channel
// source of the analysis verdicts and gate answers. It never blocks its
// caller (a run's or a poller's goroutine) and never drops the wake-up:
// with the channel full, a goroutine hands it over once there is room, or
// gives up when ctx ends. Dropping it would leave a verdict unacted on
// until the Rollout's resync, tens of seconds later.
func wake(ctx context.Context, ch chan<- event.GenericEvent, key types.NamespacedName) {
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = key.Namespace, key.Name
	ev := event.GenericEvent{Object: ro}
	select {
	case ch <- ev:
		return
	default:
	}
	go func() {
		select {
		case ch <- ev:
		case <-ctx.Done():
		}
	}()
}
