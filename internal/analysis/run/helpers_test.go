package run

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	_ "fledge.dev/fledge/internal/analysis/provider/builtin"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
)

// memStore keeps saved runs as JSON, as a persistent store would.
type memStore struct {
	mu    sync.Mutex
	runs  map[string][]byte
	saves int
}

func newStore() *memStore { return &memStore{runs: map[string][]byte{}} }

func (s *memStore) SaveRun(ro string, r *v1alpha1.AnalysisRun) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[ro+"/"+r.Name] = b
	s.saves++
	return nil
}

func (s *memStore) get(t *testing.T, ro, name string) *v1alpha1.AnalysisRun {
	t.Helper()
	s.mu.Lock()
	b := s.runs[ro+"/"+name]
	s.mu.Unlock()
	if b == nil {
		t.Fatalf("run %s/%s was never saved", ro, name)
	}
	r := &v1alpha1.AnalysisRun{}
	if err := json.Unmarshal(b, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// fixture is a manager of rollout "web" over a real metrics registry.
type fixture struct {
	reg *metrics.Registry
	// live is reg, for the load goroutines, which follow it when a test
	// replaces it (setRegistry), as a restarted daemon's traffic goes to
	// its new counters.
	live    atomic.Pointer[metrics.Registry]
	store   *memStore
	m       *Manager
	changed chan struct{}
	stop    func() // stops the manager and waits for Start to return
}

// templateOption changes the test template's one metric.
type templateOption func(*v1alpha1.NamedAnalysisTemplate)

// newFixture makes a manager whose template "rate" measures canary's
// success rate every 100ms, blocking runs taking 3 measurements.
func newFixture(t *testing.T, opts ...templateOption) *fixture {
	t.Helper()
	tmpl := v1alpha1.NamedAnalysisTemplate{Name: "rate", AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{
		Metrics: []v1alpha1.Metric{{
			Name:             "success-rate",
			Interval:         &v1alpha1.Duration{Duration: 100 * time.Millisecond},
			SuccessCondition: "result >= 0.95",
			Provider:         v1alpha1.MetricProvider{Builtin: &v1alpha1.BuiltinMetric{SuccessRate: &struct{}{}}},
		}},
	}}
	for _, o := range opts {
		o(&tmpl)
	}
	tmpl.Default()
	f := &fixture{store: newStore(), changed: make(chan struct{}, 1)}
	f.setRegistry(metrics.New())
	f.m = f.manager(tmpl)
	f.stop = f.run(t, f.m)
	return f
}

func (f *fixture) manager(tmpl v1alpha1.NamedAnalysisTemplate) *Manager {
	return NewManager(Config{
		Rollout:   "web",
		Templates: func() []v1alpha1.NamedAnalysisTemplate { return []v1alpha1.NamedAnalysisTemplate{tmpl} },
		Deps:      provider.Deps{Metrics: f.reg},
		Store:     f.store,
		Logger:    slog.New(slog.DiscardHandler),
		Changed: func() {
			select {
			case f.changed <- struct{}{}:
			default:
			}
		},
	})
}

// run starts m and returns a function that stops it.
func (f *fixture) run(t *testing.T, m *Manager) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Start: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// setRegistry replaces the metrics registry, as a restarted daemon has new
// counters; call it only while no manager is being built.
func (f *fixture) setRegistry(r *metrics.Registry) {
	f.reg = r
	f.live.Store(r)
}

// load sends requests to a revision of "web" until the test ends, one in
// every failEvery failing (none when 0), into the current registry.
func (f *fixture) load(t *testing.T, rev string, failEvery int) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for i := 1; ctx.Err() == nil; i++ {
			f.live.Load().Observe(metrics.Key{Rollout: "web", Revision: rev, Route: "GET /"}, failEvery > 0 && i%failEvery == 0, time.Millisecond)
			time.Sleep(200 * time.Microsecond)
		}
	}()
}

// spec is a run of template "rate" judging revision 2.
func spec(name string, blocking bool) rollout.RunSpec {
	return rollout.RunSpec{Name: name, Revision: "2", Blocking: blocking,
		Analysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "rate"}}}}
}

var env = Env{CanaryRevision: "2", StableRevision: "1"}

// waitPhase waits for a run to reach a phase, woken by Changed.
func (f *fixture) waitPhase(t *testing.T, name string, want v1alpha1.AnalysisPhase) rollout.RunObservation {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		obs := f.m.Observations()[name]
		if obs.Phase == want {
			return obs
		}
		if obs.Phase.Completed() {
			t.Fatalf("run %s ended %s (%s), want %s", name, obs.Phase, obs.Message, want)
		}
		select {
		case <-f.changed:
		case <-deadline:
			t.Fatalf("run %s is %s (%s) after 10s, want %s", name, obs.Phase, obs.Message, want)
		}
	}
}

// waitMeasured waits until a run has at least n measurements of its first
// metric.
func (f *fixture) waitMeasured(t *testing.T, name string, n int32) *v1alpha1.AnalysisRun {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range f.m.Runs() {
			if r.Name == name && len(r.Status.MetricResults) > 0 && r.Status.MetricResults[0].Count >= n {
				return r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("run %s did not take %d measurements within 10s", name, n)
	return nil
}
