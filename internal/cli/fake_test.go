package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
)

var errNotFound = errors.New("rollout not found")

// fakeControl is an in-memory stand-in for the daemon, to test the CLI and
// its HTTP path alone. A rollout may be given a script of statuses, one
// taken per Get, to drive --watch.
type fakeControl struct {
	mu       sync.Mutex
	rollouts map[string]*v1alpha1.Rollout
	scripts  map[string][]v1alpha1.RolloutStatus
	history  map[string][]store.Revision
	runs     map[string][]*v1alpha1.AnalysisRun
	events   map[string][]store.Event
	calls    []string
	lists    int // List calls
}

func newFake() *fakeControl {
	return &fakeControl{
		rollouts: map[string]*v1alpha1.Rollout{}, scripts: map[string][]v1alpha1.RolloutStatus{},
		history: map[string][]store.Revision{}, runs: map[string][]*v1alpha1.AnalysisRun{}, events: map[string][]store.Event{},
	}
}

func (f *fakeControl) add(r *v1alpha1.Rollout) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rollouts[r.Name] = r
}

func (f *fakeControl) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// lookup finds a rollout and records the call; f.mu is held.
func (f *fakeControl) lookup(name, format string, args ...any) (*v1alpha1.Rollout, error) {
	r, ok := f.rollouts[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", errNotFound, name)
	}
	if format != "" {
		f.calls = append(f.calls, fmt.Sprintf(format, args...))
	}
	return r, nil
}

func (f *fakeControl) Apply(ctx context.Context, rs []*v1alpha1.Rollout, dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rs {
		f.calls = append(f.calls, fmt.Sprintf("apply %s dir=%s", r.Name, dir))
		f.rollouts[r.Name] = r
	}
	return nil
}

func (f *fakeControl) Get(ctx context.Context, name string) (*v1alpha1.Rollout, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.lookup(name, "")
	if err != nil {
		return nil, err
	}
	if s := f.scripts[name]; len(s) > 0 {
		r.Status = s[0]
		f.scripts[name] = s[1:]
	}
	return copyOf(r), nil
}

func (f *fakeControl) List(ctx context.Context) ([]*v1alpha1.Rollout, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	var out []*v1alpha1.Rollout
	for _, r := range f.rollouts {
		out = append(out, copyOf(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeControl) Command(ctx context.Context, name string, cmd rollout.Command) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.lookup(name, "%s %s", cmd, name)
	if err != nil {
		return err
	}
	if cmd == rollout.CommandRetry && !r.Status.Abort {
		return fmt.Errorf("%s: nothing to retry: the rollout is not aborted", name)
	}
	return nil
}

func (f *fakeControl) Undo(ctx context.Context, name, revision string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.lookup(name, "undo %s to=%q", name, revision)
	if err != nil {
		return err
	}
	if revision == "" {
		revision = "1"
	}
	r.Annotations = map[string]string{"fledge.dev/revision": revision}
	return nil
}

func (f *fakeControl) History(ctx context.Context, name string) ([]store.Revision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(name, "history %s", name); err != nil {
		return nil, err
	}
	return f.history[name], nil
}

func (f *fakeControl) Runs(ctx context.Context, name string) ([]*v1alpha1.AnalysisRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(name, ""); err != nil {
		return nil, err
	}
	return f.runs[name], nil
}

func (f *fakeControl) Events(ctx context.Context, name string) ([]store.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(name, ""); err != nil {
		return nil, err
	}
	return f.events[name], nil
}

func (f *fakeControl) Delete(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(name, "delete %s", name); err != nil {
		return err
	}
	delete(f.rollouts, name)
	return nil
}

// copyOf returns a copy the server can encode while the test changes the
// original.
func copyOf(r *v1alpha1.Rollout) *v1alpha1.Rollout {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	out := &v1alpha1.Rollout{}
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}
