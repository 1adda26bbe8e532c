package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrNotFound is returned for a rollout the store does not hold.
var ErrNotFound = errors.New("not found in the store")

// Revision is one version of a rollout's template, kept for undo.
type Revision struct {
	// ID is the revision's number as users see it ("1", "2", ...).
	ID string `json:"id"`
	// Hash identifies the template and directory; equal templates share a revision.
	Hash     string                   `json:"hash"`
	Template v1alpha1.ProcessTemplate `json:"template"`
	// Dir is where the template's relative commands resolve.
	Dir       string    `json:"dir"`
	CreatedAt time.Time `json:"createdAt"`
	// StableAt is the last time the revision became stable (undo goes back
	// to the most recent one); zero if it never was.
	StableAt time.Time `json:"stableAt,omitzero"`
}

// Event is one thing that happened to a rollout, for `fledge status` and
// the API's events.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	// Actor is who caused it: "fledge" for the engine, "user" for a command.
	Actor string `json:"actor,omitempty"`
}

// Change is what one Commit writes, all or nothing.
type Change struct {
	// Rollout is stored whole (spec and status); required.
	Rollout *v1alpha1.Rollout
	// Revision, if set, is inserted or replaced (by ID).
	Revision *Revision
	// Events are appended, oldest first.
	Events []Event
}

// MaxEvents is how many events are kept per rollout; older ones are
// dropped as new ones are appended.
const MaxEvents = 1000

// Top-level buckets. The last three hold one nested bucket per rollout.
var (
	bucketRollouts  = []byte("rollouts")
	bucketRevisions = []byte("revisions")
	bucketRuns      = []byte("runs")
	bucketEvents    = []byte("events")
	allBuckets      = [][]byte{bucketRollouts, bucketRevisions, bucketRuns, bucketEvents}
	perRollout      = [][]byte{bucketRevisions, bucketRuns, bucketEvents}
)

// lockTimeout bounds the wait for the file lock: a daemon holds it for as
// long as it runs, so waiting longer would only hide the conflict.
const lockTimeout = time.Second

// Store is an open state file. It is safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// Open opens (creating it with mode 0600 if needed) the state file at path.
// It fails within about a second if another process has it open.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open state %s: state dir in use by another fledge daemon (the file is locked): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise state %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	return s.db.Close()
}

// Commit writes the rollout, the revision and the events in one fsynced
// transaction.
func (s *Store) Commit(c Change) error {
	if c.Rollout == nil || c.Rollout.Name == "" {
		return errors.New("store: a Change needs a named Rollout")
	}
	name := c.Rollout.Name
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := putJSON(tx.Bucket(bucketRollouts), []byte(name), c.Rollout); err != nil {
			return fmt.Errorf("rollout: %w", err)
		}
		if c.Revision != nil {
			b, err := nested(tx, bucketRevisions, name)
			if err != nil {
				return err
			}
			if err := putJSON(b, []byte(c.Revision.ID), c.Revision); err != nil {
				return fmt.Errorf("revision %s: %w", c.Revision.ID, err)
			}
		}
		return appendEvents(tx, name, c.Events)
	})
	if err != nil {
		return fmt.Errorf("commit rollout %s: %w", name, err)
	}
	return nil
}

// Rollout returns a stored rollout, or an error wrapping ErrNotFound.
func (s *Store) Rollout(name string) (*v1alpha1.Rollout, error) {
	var r *v1alpha1.Rollout
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRollouts).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("rollout %s: %w", name, ErrNotFound)
		}
		r = &v1alpha1.Rollout{}
		if err := json.Unmarshal(v, r); err != nil {
			return fmt.Errorf("decode rollout %s: %w", name, err)
		}
		return nil
	})
	return r, err
}

// Rollouts returns every stored rollout, sorted by name.
func (s *Store) Rollouts() ([]*v1alpha1.Rollout, error) {
	var out []*v1alpha1.Rollout
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRollouts).ForEach(func(k, v []byte) error {
			r := &v1alpha1.Rollout{}
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("decode rollout %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// Delete forgets a rollout with its revisions, runs and events. It returns
// an error wrapping ErrNotFound when there was nothing to forget.
func (s *Store) Delete(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		found := tx.Bucket(bucketRollouts).Get([]byte(name)) != nil
		if found {
			if err := tx.Bucket(bucketRollouts).Delete([]byte(name)); err != nil {
				return fmt.Errorf("delete rollout %s: %w", name, err)
			}
		}
		for _, top := range perRollout {
			err := tx.Bucket(top).DeleteBucket([]byte(name))
			switch {
			case err == nil:
				found = true
			case !errors.Is(err, bolterrors.ErrBucketNotFound):
				return fmt.Errorf("delete %s of rollout %s: %w", top, name, err)
			}
		}
		if !found {
			return fmt.Errorf("rollout %s: %w", name, ErrNotFound)
		}
		return nil
	})
}

// nested returns (creating it) the bucket of one rollout under top.
func nested(tx *bolt.Tx, top []byte, name string) (*bolt.Bucket, error) {
	b, err := tx.Bucket(top).CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("%s bucket of rollout %s: %w", top, name, err)
	}
	return b, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}
