package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
)

// errNotFound stands for the daemon's own not-found error, recognised
// through Config.NotFound.
var errNotFound = errors.New("rollout not found")

// fakeControl is an in-memory Control that records what reached it, to
// test the HTTP layer alone.
type fakeControl struct {
	mu       sync.Mutex
	rollouts map[string]*v1alpha1.Rollout
	calls    []string
	// applyErr, if set, is returned by Apply.
	applyErr error
	// refuse makes Command return this error.
	refuse error
}

func newFake(names ...string) *fakeControl {
	f := &fakeControl{rollouts: map[string]*v1alpha1.Rollout{}}
	for _, n := range names {
		f.rollouts[n] = &v1alpha1.Rollout{
			TypeMeta:   metaRollout,
			ObjectMeta: objectMeta(n),
			Status:     v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "1"},
		}
	}
	return f
}

func (f *fakeControl) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeControl) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeControl) lookup(name string) (*v1alpha1.Rollout, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rollouts[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", errNotFound, name)
	}
	return r, nil
}

func (f *fakeControl) Apply(ctx context.Context, rs []*v1alpha1.Rollout, dir string) error {
	if f.applyErr != nil {
		return f.applyErr
	}
	for _, r := range rs {
		f.record("apply %s dir=%s", r.Name, dir)
		f.mu.Lock()
		f.rollouts[r.Name] = r
		f.mu.Unlock()
	}
	return nil
}

func (f *fakeControl) Get(ctx context.Context, name string) (*v1alpha1.Rollout, error) {
	return f.lookup(name)
}

func (f *fakeControl) List(ctx context.Context) ([]*v1alpha1.Rollout, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*v1alpha1.Rollout
	for _, r := range f.rollouts {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeControl) Command(ctx context.Context, name string, cmd rollout.Command) error {
	if _, err := f.lookup(name); err != nil {
		return err
	}
	if f.refuse != nil {
		return f.refuse
	}
	f.record("%s %s", cmd, name)
	return nil
}

func (f *fakeControl) Undo(ctx context.Context, name, revision string) error {
	if _, err := f.lookup(name); err != nil {
		return err
	}
	f.record("undo %s to=%q", name, revision)
	return nil
}

func (f *fakeControl) History(ctx context.Context, name string) ([]store.Revision, error) {
	if _, err := f.lookup(name); err != nil {
		return nil, err
	}
	f.record("history %s", name)
	return []store.Revision{{ID: "1", Template: v1alpha1.ProcessTemplate{Command: []string{"./app", "v1"}}}, {ID: "2", Template: v1alpha1.ProcessTemplate{Command: []string{"./app", "v2"}}}}, nil
}

func (f *fakeControl) Runs(ctx context.Context, name string) ([]*v1alpha1.AnalysisRun, error) {
	if _, err := f.lookup(name); err != nil {
		return nil, err
	}
	f.record("runs %s", name)
	return nil, nil
}

func (f *fakeControl) Events(ctx context.Context, name string) ([]store.Event, error) {
	if _, err := f.lookup(name); err != nil {
		return nil, err
	}
	f.record("events %s", name)
	return []store.Event{{Reason: "Applied", Message: "spec applied", Actor: "user"}}, nil
}

func (f *fakeControl) Delete(ctx context.Context, name string) error {
	if _, err := f.lookup(name); err != nil {
		return err
	}
	f.mu.Lock()
	delete(f.rollouts, name)
	f.mu.Unlock()
	f.record("delete %s", name)
	return nil
}
