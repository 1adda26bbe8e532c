package runner

import (
	"context"
	"errors"
	"log/slog"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
)

// Config configures the local daemon.
type Config struct {
	// StateDir holds the store, replica logs and pid files.
	StateDir string
	// Store is the open state store.
	Store *store.Store
	// Metrics receives the proxies' per-request counts.
	Metrics *metrics.Registry
	Logger  *slog.Logger
}

// Daemon runs rollouts locally: it gathers observations from processes,
// proxies and analysis runs, asks the engine to decide, and applies.
type Daemon struct {
	cfg Config
}

// ErrNotFound is returned for a rollout that does not exist.
var ErrNotFound = errors.New("rollout not found")

// NewDaemon builds a daemon; Start runs it.
func NewDaemon(cfg Config) (*Daemon, error) { return &Daemon{cfg: cfg}, nil }

// Start resumes every stored rollout and runs until ctx is done, then stops
// every replica gracefully.
func (d *Daemon) Start(ctx context.Context) error { <-ctx.Done(); return nil }

// Apply validates and stores the rollouts (all or none) and starts acting on them.
func (d *Daemon) Apply(ctx context.Context, rs []*v1alpha1.Rollout, dir string) error {
	return errors.New("not implemented")
}

// Get returns a rollout with its status.
func (d *Daemon) Get(ctx context.Context, name string) (*v1alpha1.Rollout, error) {
	return nil, ErrNotFound
}

// List returns every rollout.
func (d *Daemon) List(ctx context.Context) ([]*v1alpha1.Rollout, error) { return nil, nil }

// Command applies a user command (promote, abort, ...).
func (d *Daemon) Command(ctx context.Context, name string, cmd rollout.Command) error {
	return ErrNotFound
}

// Undo rolls back to revision (the previous one when empty).
func (d *Daemon) Undo(ctx context.Context, name, revision string) error { return ErrNotFound }

// History lists a rollout's revisions, oldest first.
func (d *Daemon) History(ctx context.Context, name string) ([]store.Revision, error) {
	return nil, ErrNotFound
}

// Runs lists a rollout's analysis runs.
func (d *Daemon) Runs(ctx context.Context, name string) ([]*v1alpha1.AnalysisRun, error) {
	return nil, ErrNotFound
}

// Events lists a rollout's recent events, oldest first.
func (d *Daemon) Events(ctx context.Context, name string) ([]store.Event, error) {
	return nil, ErrNotFound
}

// Delete stops a rollout's replicas and forgets it.
func (d *Daemon) Delete(ctx context.Context, name string) error { return ErrNotFound }
