package store

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
	bolt "go.etcd.io/bbolt"
)

// Revisions returns a rollout's revisions, oldest first (none for an
// unknown rollout).
func (s *Store) Revisions(name string) ([]Revision, error) {
	var out []Revision
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRevisions).Bucket([]byte(name))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r Revision
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode revision %s of rollout %s: %w", k, name, err)
			}
			out = append(out, r)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b Revision) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareIDs(a.ID, b.ID)
	})
	return out, err
}

// compareIDs orders revision ids as numbers when they are ("9" < "10").
func compareIDs(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// PruneRevisions deletes the revisions of a rollout that keep rejects.
func (s *Store) PruneRevisions(name string, keep func(Revision) bool) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRevisions).Bucket([]byte(name))
		if b == nil {
			return nil
		}
		var drop [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var r Revision
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode revision %s: %w", k, err)
			}
			if !keep(r) {
				drop = append(drop, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		return deleteKeys(b, drop)
	})
	if err != nil {
		return fmt.Errorf("prune revisions of rollout %s: %w", name, err)
	}
	return nil
}

// SaveRun stores an analysis run of a rollout, keyed by the run's name.
func (s *Store) SaveRun(rollout string, run *v1alpha1.AnalysisRun) error {
	if run == nil || run.Name == "" {
		return fmt.Errorf("save run of rollout %s: the run has no name", rollout)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := nested(tx, bucketRuns, rollout)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(run.Name), run)
	})
	if err != nil {
		return fmt.Errorf("save run %s of rollout %s: %w", run.Name, rollout, err)
	}
	return nil
}

// Runs returns a rollout's analysis runs, by name.
func (s *Store) Runs(rollout string) ([]*v1alpha1.AnalysisRun, error) {
	var out []*v1alpha1.AnalysisRun
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns).Bucket([]byte(rollout))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			r := &v1alpha1.AnalysisRun{}
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("decode run %s of rollout %s: %w", k, rollout, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// DeleteRuns deletes the analysis runs of a rollout that keep rejects.
func (s *Store) DeleteRuns(rollout string, keep func(*v1alpha1.AnalysisRun) bool) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns).Bucket([]byte(rollout))
		if b == nil {
			return nil
		}
		var drop [][]byte
		err := b.ForEach(func(k, v []byte) error {
			r := &v1alpha1.AnalysisRun{}
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("decode run %s: %w", k, err)
			}
			if !keep(r) {
				drop = append(drop, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		return deleteKeys(b, drop)
	})
	if err != nil {
		return fmt.Errorf("delete runs of rollout %s: %w", rollout, err)
	}
	return nil
}

// Events returns the newest limit events of a rollout (all when limit <= 0),
// oldest first.
func (s *Store) Events(rollout string, limit int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents).Bucket([]byte(rollout))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode event %d of rollout %s: %w", binary.BigEndian.Uint64(k), rollout, err)
			}
			out = append(out, e)
		}
		return nil
	})
	slices.Reverse(out)
	return out, err
}

// appendEvents adds events under increasing sequence numbers and drops the
// oldest beyond MaxEvents. Keys are big-endian so that bbolt's byte order
// is time order.
func appendEvents(tx *bolt.Tx, name string, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	b, err := nested(tx, bucketEvents, name)
	if err != nil {
		return err
	}
	var last uint64
	for _, e := range events {
		if last, err = b.NextSequence(); err != nil {
			return fmt.Errorf("event sequence: %w", err)
		}
		if err := putJSON(b, seqKey(last), e); err != nil {
			return fmt.Errorf("event %s: %w", e.Reason, err)
		}
	}
	if last <= MaxEvents {
		return nil
	}
	cutoff := seqKey(last - MaxEvents) // keys <= cutoff go
	var drop [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && string(k) <= string(cutoff); k, _ = c.Next() {
		drop = append(drop, slices.Clone(k))
	}
	return deleteKeys(b, drop)
}

func seqKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}

// deleteKeys deletes after iterating: deleting under a cursor skips keys.
func deleteKeys(b *bolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
