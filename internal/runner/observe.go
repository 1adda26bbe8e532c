package runner

import (
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner/store"
)

// Observer hears of every decision pass of every rollout: notifications
// and the daemon's own metrics are fed from here, outside the engine.
type Observer interface {
	// Observe is called on the rollout's worker goroutine after each pass:
	// it must return at once (queue, don't send) and must neither modify nor
	// keep p's status, which the worker goes on using.
	Observe(p Pass)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(Pass)

// Observe calls f.
func (f ObserverFunc) Observe(p Pass) { f(p) }

// Pass is what one pass (gather, decide, persist, apply) of a rollout's
// worker did.
type Pass struct {
	Rollout string
	// Previous is the status before the pass; Status the one persisted
	// after it (equal to Previous when nothing was decided or persisted).
	Previous, Status v1alpha1.RolloutStatus
	// Events are the events the pass stored, oldest first; none when the
	// decision changed nothing or could not be persisted.
	Events []store.Event
	// Took is the pass's duration.
	Took time.Duration

	start time.Time
}

// observe hands a finished pass to every observer.
func (d *Daemon) observe(p *Pass) {
	p.Took = time.Since(p.start)
	for _, o := range d.cfg.Observers {
		o.Observe(*p)
	}
}
