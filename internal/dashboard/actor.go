package dashboard

import (
	"sync"
	"time"

	"fledge.dev/fledge/internal/runner/store"
)

// The daemon records who caused an event only as "fledge" (the engine) or
// "user" (a command), not through which door the command came. The
// dashboard knows which commands it sent and when: an event a user caused
// while a dashboard command on that rollout was being applied is the
// dashboard's; any other user event came from the CLI (or the bare API).
// The daemon commits a command's events before it answers it, so the
// window from sending to the answer holds them.

// actors remembers the recent windows of the dashboard's commands.
type actors struct {
	mu      sync.Mutex
	windows []window
}

type window struct {
	rollout    string
	start, end time.Time
}

// maxWindows bounds the memory of past commands; events older than the
// oldest window remembered are attributed to the CLI, as before.
const maxWindows = 512

// record notes that a command on rollout was sent at start and answered at end.
func (a *actors) record(rollout string, start, end time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Wall clock only: stored event times have no monotonic reading.
	a.windows = append(a.windows, window{rollout: rollout, start: start.Round(0), end: end.Round(0)})
	if len(a.windows) > maxWindows {
		a.windows = a.windows[len(a.windows)-maxWindows:]
	}
}

// who names the actor of an event of rollout.
func (a *actors) who(rollout string) func(store.Event) string {
	a.mu.Lock()
	ws := make([]window, 0, len(a.windows))
	for _, w := range a.windows {
		if w.rollout == rollout {
			ws = append(ws, w)
		}
	}
	a.mu.Unlock()
	return func(e store.Event) string {
		switch e.Actor {
		case "user":
			for _, w := range ws {
				if !e.Time.Before(w.start) && !e.Time.After(w.end) {
					return "dashboard"
				}
			}
			return "cli"
		case "", "fledge":
			return "fledge"
		default: // an actor the daemon named itself
			return e.Actor
		}
	}
}
