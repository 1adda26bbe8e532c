package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/process"
	"fledge.dev/fledge/internal/runner/store"

	// The metric providers register themselves: the builtin one reads the
	// proxy's counters; the others call Prometheus, web endpoints and
	// commands.
	_ "fledge.dev/fledge/internal/analysis/provider/builtin"
	_ "fledge.dev/fledge/internal/analysis/provider/job"
	_ "fledge.dev/fledge/internal/analysis/provider/prometheus"
	_ "fledge.dev/fledge/internal/analysis/provider/web"
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
	// Observers hear of every decision pass (notifications, metrics).
	Observers []Observer
}

// Daemon runs rollouts locally: one worker per rollout gathers observations
// from processes, the proxy and analysis runs, asks the engine to decide,
// persists the decision, then applies it.
type Daemon struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	ctx     context.Context
	workers map[string]*worker
	wg      sync.WaitGroup
	started chan struct{}
}

// ErrNotFound is returned for a rollout that does not exist.
var ErrNotFound = errors.New("rollout not found")

// NewDaemon builds a daemon; Start runs it.
func NewDaemon(cfg Config) (*Daemon, error) {
	if cfg.Store == nil || cfg.Metrics == nil || cfg.StateDir == "" {
		return nil, errors.New("runner: Config needs StateDir, Store and Metrics")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Daemon{cfg: cfg, log: log, workers: map[string]*worker{}, started: make(chan struct{})}, nil
}

// Start resumes every stored rollout where it was and runs until ctx is
// done, then stops every replica gracefully.
func (d *Daemon) Start(ctx context.Context) error {
	// Replicas of a daemon that was killed still run: stop them, then start
	// the revisions the stored status asks for.
	if err := process.ReapOrphans(filepath.Join(d.cfg.StateDir, "pids")); err != nil {
		d.log.Warn("cannot reap replicas of a previous daemon", "err", err)
	}
	stored, err := d.cfg.Store.Rollouts()
	if err != nil {
		return fmt.Errorf("load rollouts: %w", err)
	}
	d.mu.Lock()
	d.ctx = ctx
	for _, ro := range stored {
		history, err := d.cfg.Store.Revisions(ro.Name)
		if err != nil {
			d.mu.Unlock()
			return fmt.Errorf("load revisions of %s: %w", ro.Name, err)
		}
		d.log.Info("resuming rollout", "rollout", ro.Name, "phase", ro.Status.Phase, "step", ro.Status.CurrentStepIndex, "weight", ro.Status.CanaryWeight)
		d.startWorker(newWorker(d, ro, history))
	}
	close(d.started)
	d.mu.Unlock()
	<-ctx.Done()
	d.wg.Wait()
	return nil
}

// startWorker runs a worker; d.mu is held.
func (d *Daemon) startWorker(w *worker) {
	d.workers[w.name] = w
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		w.loop(d.ctx)
	}()
}

// worker returns the worker of a rollout once the daemon has started.
func (d *Daemon) worker(ctx context.Context, name string) (*worker, error) {
	select {
	case <-d.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.workers[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return w, nil
}

// Apply validates every rollout first and stores none if one is invalid;
// then it stores each (a new template is a new revision) and acts on it.
func (d *Daemon) Apply(ctx context.Context, rs []*v1alpha1.Rollout, dir string) error {
	select {
	case <-d.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := d.check(rs); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range rs {
		if err := d.applyOne(r, dir); err != nil {
			return err
		}
	}
	return nil
}

// check validates rollouts for local mode, all errors at once. A mistake
// found here (not by Validate) names its rollout: a file may hold several.
func (d *Daemon) check(rs []*v1alpha1.Rollout) error {
	var errs []error
	owner := map[string]string{} // address -> the rollout whose proxy listens on it
	d.mu.Lock()
	for name, w := range d.workers {
		for _, l := range listens(w.snapshot()) {
			owner[l.addr] = name
		}
	}
	d.mu.Unlock()
	claimed := map[string]string{} // address -> the rollout of rs that wants it
	localErr := func(r *v1alpha1.Rollout, path, reason string) {
		errs = append(errs, fmt.Errorf("Rollout %q: %w", r.Name, &v1alpha1.FieldError{Path: path, Reason: reason}))
	}
	for _, r := range rs {
		r.Default()
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if r.Spec.Template == nil {
			localErr(r, "spec.template", "required in local mode (spec.workloadRef needs the Kubernetes controller)")
			continue
		}
		for _, l := range listens(r) {
			if _, port, _ := net.SplitHostPort(l.addr); port == "0" {
				continue // a port of its own, whatever the others use
			}
			other, used := owner[l.addr]
			if !used || other == r.Name {
				other, used = claimed[l.addr]
			}
			switch {
			case used && other != r.Name:
				localErr(r, l.path, fmt.Sprintf("address %s is already used by rollout %s", l.addr, other))
			case owner[l.addr] != r.Name && !free(l.addr):
				localErr(r, l.path, fmt.Sprintf("cannot listen on %s: address in use", l.addr))
			}
			claimed[l.addr] = r.Name
		}
	}
	return errors.Join(errs...)
}

// applyOne stores one valid rollout and starts or updates its worker; d.mu is held.
func (d *Daemon) applyOne(r *v1alpha1.Rollout, dir string) error {
	history, err := d.cfg.Store.Revisions(r.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("apply %s: %w", r.Name, err)
	}
	rev, isNew := resolveRevision(history, r.Spec.Template, dir, time.Now())
	if r.Annotations == nil {
		r.Annotations = map[string]string{}
	}
	r.Annotations[AnnotationRevision], r.Annotations[AnnotationDir] = rev.ID, dir
	change := store.Change{Events: []store.Event{{Time: time.Now(), Type: rollout.EventNormal, Reason: "Applied", Message: fmt.Sprintf("spec applied (revision %s)", rev.ID), Actor: "user"}}}
	if isNew {
		change.Revision = &rev
		history = append(history, rev)
	}
	st := v1alpha1.RolloutStatus{}
	if w := d.workers[r.Name]; w != nil {
		st = w.snapshot().Status
	}
	keep := keepRevision(history, &st, rev.ID, int(v1alpha1.Int32(r.Spec.RevisionHistoryLimit)))
	var kept []store.Revision
	for _, h := range history {
		if keep(h) {
			kept = append(kept, h)
		}
	}
	if w := d.workers[r.Name]; w != nil {
		if err := w.commitSpec(r, change, kept); err != nil {
			return fmt.Errorf("apply %s: %w", r.Name, err)
		}
	} else {
		r.Generation, r.CreationTimestamp = 1, metaNow()
		change.Rollout = r
		if err := d.cfg.Store.Commit(change); err != nil {
			return fmt.Errorf("apply %s: %w", r.Name, err)
		}
		d.startWorker(newWorker(d, r, kept))
	}
	if err := d.cfg.Store.PruneRevisions(r.Name, keep); err != nil {
		d.log.Warn("cannot prune old revisions", "rollout", r.Name, "err", err)
	}
	return nil
}

// listen is an address a rollout's proxy listens on, and its field.
type listen struct{ path, addr string }

// listens are the addresses a rollout's proxy listens on.
func listens(r *v1alpha1.Rollout) []listen {
	var tr *v1alpha1.TrafficRouting
	path := "spec.strategy."
	if c := r.Spec.Strategy.Canary; c != nil {
		tr, path = c.TrafficRouting, path+"canary"
	}
	if b := r.Spec.Strategy.BlueGreen; b != nil {
		tr, path = b.TrafficRouting, path+"blueGreen"
	}
	if tr == nil || tr.Proxy == nil {
		return nil
	}
	path += ".trafficRouting.proxy."
	out := []listen{{path + "listen", tr.Proxy.Listen}}
	if tr.Proxy.PreviewListen != "" {
		out = append(out, listen{path + "previewListen", tr.Proxy.PreviewListen})
	}
	return out
}

// free tells whether addr can be listened on now (port 0 always can).
func free(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}
