package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Get returns a rollout with its status.
func (d *Daemon) Get(ctx context.Context, name string) (*v1alpha1.Rollout, error) {
	w, err := d.worker(ctx, name)
	if err != nil {
		return nil, err
	}
	return w.snapshot(), nil
}

// List returns every rollout, sorted by name.
func (d *Daemon) List(ctx context.Context) ([]*v1alpha1.Rollout, error) {
	select {
	case <-d.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	stored, err := d.cfg.Store.Rollouts()
	if err != nil {
		return nil, err
	}
	out := make([]*v1alpha1.Rollout, 0, len(stored))
	for _, ro := range stored {
		if w, err := d.worker(ctx, ro.Name); err == nil {
			ro = w.snapshot()
		}
		out = append(out, ro)
	}
	return out, nil
}

// Command applies a user command (promote, abort, ...) in the rollout's
// next decision and says why it did not apply, if it did not.
func (d *Daemon) Command(ctx context.Context, name string, cmd rollout.Command) error {
	w, err := d.worker(ctx, name)
	if err != nil {
		return err
	}
	return w.command(ctx, cmd)
}

// Undo goes back to revision (when empty: the stable one while a release is
// in progress, else the previous stable one): the template becomes that
// revision's again, and it is promoted at once, skipping the steps, as a
// rollback should be. Going back to the stable revision during a release
// promotes nothing: the release is aborted (traffic back to stable at once)
// and withdrawn, and the rollout is Healthy on stable again.
func (d *Daemon) Undo(ctx context.Context, name, revision string) error {
	w, err := d.worker(ctx, name)
	if err != nil {
		return err
	}
	d.mu.Lock()
	ro := w.snapshot()
	w.mu.Lock()
	history := append([]store.Revision(nil), w.history...)
	w.mu.Unlock()
	var target store.Revision
	found := false
	releasing := ro.Status.CanaryRevision != ""
	switch {
	case revision == "" && releasing:
		// The template is the release's: the revision before it is stable.
		for _, r := range history {
			if r.ID == ro.Status.StableRevision {
				target, found = r, true
			}
		}
		if !found {
			d.mu.Unlock()
			return fmt.Errorf("undo %s: stable revision %s is not in the history", name, ro.Status.StableRevision)
		}
	case revision == "":
		target, found = previousRevision(history, ro.Status.StableRevision)
		if !found {
			d.mu.Unlock()
			return fmt.Errorf("undo %s: no previous stable revision to go back to", name)
		}
	default:
		for _, r := range history {
			if r.ID == revision {
				target, found = r, true
			}
		}
		if !found {
			d.mu.Unlock()
			return fmt.Errorf("undo %s: revision %s is not in the history (see `fledge history %s`)", name, revision, name)
		}
	}
	backToStable := target.ID == ro.Status.StableRevision
	if backToStable && !releasing {
		d.mu.Unlock()
		return fmt.Errorf("undo %s: revision %s is already stable", name, target.ID)
	}
	if backToStable && !ro.Status.Abort {
		// Traffic leaves the canary first, as on any abort; d.mu keeps
		// another apply out meanwhile.
		if err := w.command(ctx, rollout.CommandAbort); err != nil {
			d.mu.Unlock()
			return fmt.Errorf("undo %s: %w", name, err)
		}
	}
	tmpl := target.Template
	ro.Spec.Template = &tmpl
	ro.Annotations[AnnotationRevision], ro.Annotations[AnnotationDir] = target.ID, target.Dir
	err = w.commitSpec(ro, store.Change{Events: []store.Event{{
		Time: time.Now(), Type: rollout.EventNormal, Reason: "Undo", Actor: "user",
		Message: fmt.Sprintf("undo: back to revision %s", target.ID),
	}}}, history)
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("undo %s: %w", name, err)
	}
	if backToStable {
		// The engine withdraws a release whose template is back to stable:
		// wait for that decision so that the caller sees its result.
		return w.command(ctx, rollout.CommandNone)
	}
	return w.command(ctx, rollout.CommandPromoteFull)
}

// History lists a rollout's revisions, oldest first.
func (d *Daemon) History(ctx context.Context, name string) ([]store.Revision, error) {
	w, err := d.worker(ctx, name)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]store.Revision(nil), w.history...), nil
}

// Runs lists a rollout's analysis runs.
func (d *Daemon) Runs(ctx context.Context, name string) ([]*v1alpha1.AnalysisRun, error) {
	if _, err := d.worker(ctx, name); err != nil {
		return nil, err
	}
	return d.cfg.Store.Runs(name)
}

// Events lists a rollout's recent events, oldest first.
func (d *Daemon) Events(ctx context.Context, name string) ([]store.Event, error) {
	if _, err := d.worker(ctx, name); err != nil {
		return nil, err
	}
	return d.cfg.Store.Events(name, 200)
}

// Delete stops a rollout's replicas and proxy and forgets it.
func (d *Daemon) Delete(ctx context.Context, name string) error {
	w, err := d.worker(ctx, name)
	if err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.workers, name)
	d.mu.Unlock()
	close(w.stopc)
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := d.cfg.Store.Delete(name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

func metaNow() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }
