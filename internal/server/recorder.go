package server

import (
	"bytes"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics/rollouts"
	"fledge.dev/fledge/internal/runner/store"
)

// Recorder counts what a scrape cannot read back from the Control: the
// events of each rollout by reason, and how long its decisions take (a
// rollouts.Recorder naming rollouts by name, as the daemon's store does).
// The edges feed it (runner.Config.Observers); a nil Recorder records
// nothing and writes the families empty.
type Recorder struct {
	rec *rollouts.Recorder
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{rec: rollouts.NewRecorder()}
}

// Record counts the events one decision pass of a rollout stored and the
// time it took.
func (r *Recorder) Record(rollout string, events []store.Event, took time.Duration) {
	if r == nil {
		return
	}
	r.rec.Record(rollouts.ID{Name: rollout}, events, took)
}

// write writes the counts of the rollouts in rs (a deleted rollout's are
// forgotten), with the last event times merged with the stored events'.
func (r *Recorder) write(buf *bytes.Buffer, rs []*v1alpha1.Rollout, stored map[string][]store.Event) {
	var rec *rollouts.Recorder
	if r != nil {
		rec = r.rec
	}
	byID := make(map[rollouts.ID][]store.Event, len(stored))
	for name, evs := range stored {
		byID[rollouts.ID{Name: name}] = evs
	}
	rec.Write(buf, rs, rollouts.ByName, byID)
}
