package store

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkCommit measures one decision persisted: rollout, revision and an
// event, fsynced. The daemon commits once per transition, so this bounds
// how fast a rollout can move.
func BenchmarkCommit(b *testing.B) {
	s, err := Open(b.TempDir() + "/state.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ro := rolloutAt("web", 1, "2")
	rev := revision("2", time.Now())
	for i := 0; b.Loop(); i++ {
		ro.Status.CurrentStepIndex = int32(i % 7)
		if err := s.Commit(Change{Rollout: ro, Revision: rev, Events: []Event{{Reason: "Step", Message: fmt.Sprint(i)}}}); err != nil {
			b.Fatal(err)
		}
	}
}
