package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner/store"
)

// templateHash identifies a version: the template and the directory its
// relative paths resolve against.
func templateHash(t *v1alpha1.ProcessTemplate, dir string) string {
	b, _ := json.Marshal(struct {
		T   *v1alpha1.ProcessTemplate
		Dir string
	}{t, dir})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// resolveRevision returns the revision of a template: the existing one with
// the same hash (so that an undo reuses a version that may still be warm), or
// a new one numbered after the highest.
func resolveRevision(history []store.Revision, t *v1alpha1.ProcessTemplate, dir string, now time.Time) (store.Revision, bool) {
	h := templateHash(t, dir)
	highest := 0
	for _, r := range history {
		if r.Hash == h {
			return r, false
		}
		if n, err := strconv.Atoi(r.ID); err == nil && n > highest {
			highest = n
		}
	}
	return store.Revision{ID: strconv.Itoa(highest + 1), Hash: h, Template: *t, Dir: dir, CreatedAt: now}, true
}

// previousRevision is what undo goes back to: the revision that was stable
// most recently before the current stable one.
func previousRevision(history []store.Revision, stable string) (store.Revision, bool) {
	var best store.Revision
	found := false
	for _, r := range history {
		if r.ID == stable || r.StableAt.IsZero() {
			continue
		}
		if !found || r.StableAt.After(best.StableAt) {
			best, found = r, true
		}
	}
	return best, found
}

// keepRevision tells which revisions survive pruning: the ones in use and
// the newest limit others.
func keepRevision(history []store.Revision, st *v1alpha1.RolloutStatus, desired string, limit int) func(store.Revision) bool {
	inUse := map[string]bool{st.StableRevision: true, st.CanaryRevision: true, desired: true}
	for _, s := range st.ScaleDowns {
		inUse[s.Revision] = true
	}
	keep := map[string]bool{}
	n := 0
	for i := len(history) - 1; i >= 0; i-- {
		id := history[i].ID
		if inUse[id] {
			keep[id] = true
		} else if n < limit {
			keep[id] = true
			n++
		}
	}
	return func(r store.Revision) bool { return keep[r.ID] }
}
