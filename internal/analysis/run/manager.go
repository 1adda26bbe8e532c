package run

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/rollout"
)

// Labels of an AnalysisRun.
const (
	// LabelRollout names the rollout the run belongs to.
	LabelRollout = "fledge.dev/rollout"
	// LabelRevision is the revision the run judges (version canary).
	LabelRevision = "fledge.dev/revision"
	// LabelStableRevision is the stable revision when the run started
	// (version stable).
	LabelStableRevision = "fledge.dev/stable-revision"
)

// KindAnalysisRun is the kind of the runs a Manager makes.
const KindAnalysisRun = "AnalysisRun"

// KeepUnlisted is how many runs no longer listed by Ensure a Manager still
// remembers (the most recently unlisted).
const KeepUnlisted = 20

// Store persists runs; the daemon implements it.
type Store interface {
	SaveRun(rollout string, run *v1alpha1.AnalysisRun) error
}

// Config configures a Manager.
type Config struct {
	// Rollout is the rollout's name.
	Rollout string
	// Templates returns the rollout's inline templates, defaulted.
	Templates func() []v1alpha1.NamedAnalysisTemplate
	// Deps are given to the providers.
	Deps provider.Deps
	// Store saves every run at each change; nil saves nothing.
	Store Store
	// Changed is called when a run's phase changes; it must not block.
	Changed func()
	// Clock reads the time; default time.Now.
	Clock func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Env is what the rollout is releasing when Ensure is called.
type Env struct {
	// CanaryRevision is judged by a run whose RunSpec names no revision.
	CanaryRevision string
	// StableRevision is what version stable measures.
	StableRevision string
}

// Manager runs the analysis runs of one rollout.
type Manager struct {
	cfg     Config
	wake    chan struct{}
	started atomic.Bool
	// saving orders saves: each writes the state current when it starts.
	saving sync.Mutex

	mu        sync.Mutex
	runs      map[string]*tracked
	providers map[string]provider.Provider // by provider id
	unlisted  uint64                       // count of unlistings, to order them
}

// tracked is a run and what measuring it needs.
type tracked struct {
	run *v1alpha1.AnalysisRun
	env provider.Env // without the window
	// providers measure each metric, by metric name.
	providers map[string]provider.Provider
	// windows read the traffic the judges judge, by judge name.
	windows map[string]windowReader
	listed  bool
	// resumedAt is when a run restored from the store resumed. What a
	// provider counted before a restart may be gone (the builtin counters
	// start again at zero), so no window starts before it and a metric
	// with an interval first measures a whole interval after it; the
	// downtime is left out rather than judged as a window without data.
	resumedAt time.Time
	// unlistedAt orders the runs no longer listed (larger is more recent).
	unlistedAt uint64
}

// NewManager returns a manager; Start runs its measurements.
func NewManager(cfg Config) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Changed == nil {
		cfg.Changed = func() {}
	}
	if cfg.Templates == nil {
		cfg.Templates = func() []v1alpha1.NamedAnalysisTemplate { return nil }
	}
	return &Manager{
		cfg:       cfg,
		wake:      make(chan struct{}, 1),
		runs:      map[string]*tracked{},
		providers: map[string]provider.Provider{},
	}
}

// Ensure starts the runs listed that are not running and terminates the
// runs not listed. A run listed again after it was terminated undecided
// starts over: being stopped was no verdict.
func (m *Manager) Ensure(specs []rollout.RunSpec, env Env) {
	var save []string
	changed := false
	m.mu.Lock()
	listed := map[string]bool{}
	for _, s := range specs {
		listed[s.Name] = true
		if t := m.runs[s.Name]; t != nil && !t.run.Spec.Terminate {
			t.listed = true
			continue
		}
		m.runs[s.Name] = m.start(s, env)
		save, changed = append(save, s.Name), true
	}
	now := m.cfg.Clock()
	for name, t := range m.runs {
		if listed[name] || !t.listed {
			continue
		}
		m.unlisted++
		t.listed, t.unlistedAt = false, m.unlisted
		if !t.run.Status.Phase.Completed() {
			m.terminate(t, now)
			save, changed = append(save, name), true
		}
	}
	m.forget()
	m.mu.Unlock()

	for _, name := range save {
		m.save(name)
	}
	m.poke()
	if changed {
		m.cfg.Changed()
	}
}

// start makes a run from its spec; a run that cannot start is in Error.
func (m *Manager) start(s rollout.RunSpec, env Env) *tracked {
	canary := s.Revision
	if canary == "" {
		canary = env.CanaryRevision
	}
	t := &tracked{listed: true, run: &v1alpha1.AnalysisRun{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.APIVersion, Kind: KindAnalysisRun},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Labels: map[string]string{
			LabelRollout: m.cfg.Rollout, LabelRevision: canary, LabelStableRevision: env.StableRevision,
		}},
		Spec: v1alpha1.AnalysisRunSpec{Blocking: s.Blocking},
	}}
	r, err := resolve(s.Analysis, m.cfg.Templates(), Env{CanaryRevision: canary, StableRevision: env.StableRevision})
	t.run.Spec.Metrics, t.run.Spec.Judges, t.run.Spec.Args = r.metrics, r.judges, r.args
	t.run.Spec.InconclusivePolicy = r.policy
	if err == nil {
		// Before the clock is read: a provider built now can see the whole
		// first window (the builtin one starts sampling when built).
		err = m.prepare(t)
	}
	now := m.cfg.Clock()
	t.run.CreationTimestamp = metav1.Time{Time: now}
	if err != nil {
		t.run.Status = v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisError, StartedAt: &metav1.Time{Time: now},
			Message: fmt.Sprintf("analysis run %s cannot start: %v", s.Name, err)}
		m.cfg.Logger.Error("analysis run cannot start", "run", s.Name, "err", err)
		return t
	}
	t.run.Status = analysis.Assess(t.run.Spec, v1alpha1.AnalysisRunStatus{}, now)
	m.cfg.Logger.Info("analysis run started", "run", s.Name, "revision", canary, "metrics", len(r.metrics), "judges", len(r.judges))
	return t
}

// prepare finds the providers of a run's metrics and its measurement
// environment.
func (m *Manager) prepare(t *tracked) error {
	t.providers = map[string]provider.Provider{}
	for _, metric := range t.run.Spec.Metrics {
		id, err := provider.Kind(metric.Provider)
		if err != nil {
			return fmt.Errorf("metric %q: %w", metric.Name, err)
		}
		p := m.providers[id]
		if p == nil {
			if p, err = provider.New(id, m.cfg.Deps); err != nil {
				return fmt.Errorf("metric %q: %w", metric.Name, err)
			}
			m.providers[id] = p
		}
		t.providers[metric.Name] = p
	}
	t.windows = map[string]windowReader{}
	for _, j := range t.run.Spec.Judges {
		w, err := m.windowReader(j)
		if err != nil {
			return fmt.Errorf("judge %q: %w", j.Name, err)
		}
		t.windows[j.Name] = w
	}
	args := map[string]string{}
	for _, a := range t.run.Spec.Args {
		args[a.Name] = a.Value
	}
	t.env = provider.Env{
		Rollout:        m.cfg.Rollout,
		CanaryRevision: t.run.Labels[LabelRevision],
		StableRevision: t.run.Labels[LabelStableRevision],
		Args:           args,
	}
	return nil
}

// terminate stops a run that is not decided: it ends Successful, and its
// message says it was stopped.
func (m *Manager) terminate(t *tracked, now time.Time) {
	t.run.Spec.Terminate = true
	t.run.Status = analysis.Assess(t.run.Spec, t.run.Status, now)
	if t.run.Status.Phase == v1alpha1.AnalysisSuccessful {
		t.run.Status.Message = "terminated before a verdict: " + t.run.Status.Message
	}
	m.cfg.Logger.Info("analysis run terminated", "run", t.run.Name, "phase", t.run.Status.Phase)
}

// forget drops the runs unlisted longest ago beyond KeepUnlisted.
func (m *Manager) forget() {
	var old []*tracked
	for _, t := range m.runs {
		if !t.listed {
			old = append(old, t)
		}
	}
	if len(old) <= KeepUnlisted {
		return
	}
	sort.Slice(old, func(i, j int) bool { return old[i].unlistedAt > old[j].unlistedAt })
	for _, t := range old[KeepUnlisted:] {
		delete(m.runs, t.run.Name)
	}
}

// Observations returns the phase and message of every run remembered,
// whether its judges hold the canary's weight, and its inconclusive policy.
func (m *Manager) Observations() map[string]rollout.RunObservation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]rollout.RunObservation, len(m.runs))
	for name, t := range m.runs {
		out[name] = observe(t.run)
	}
	return out
}

// observe is what the rollout engine sees of a run.
func observe(r *v1alpha1.AnalysisRun) rollout.RunObservation {
	obs := rollout.RunObservation{Phase: r.Status.Phase, Message: r.Status.Message, InconclusivePolicy: r.Spec.InconclusivePolicy}
	obs.HoldWeight, obs.HoldReason = analysis.Hold(r.Spec, r.Status)
	return obs
}

// Runs returns copies of the runs remembered, oldest first.
func (m *Manager) Runs() []*v1alpha1.AnalysisRun {
	m.mu.Lock()
	out := make([]*v1alpha1.AnalysisRun, 0, len(m.runs))
	for _, t := range m.runs {
		out = append(out, clone(t.run))
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].CreationTimestamp.Time, out[j].CreationTimestamp.Time
		return a.Before(b) || a.Equal(b) && out[i].Name < out[j].Name
	})
	return out
}

// Restore remembers runs saved before a restart; running ones resume, the
// next measurement scheduled from their last one. Runs already known are
// left alone. Until the next Ensure they count as listed.
func (m *Manager) Restore(runs []*v1alpha1.AnalysisRun) {
	var save []string
	m.mu.Lock()
	for _, r := range runs {
		if r == nil || m.runs[r.Name] != nil {
			continue
		}
		t := &tracked{run: clone(r), listed: true, resumedAt: m.cfg.Clock()}
		m.runs[r.Name] = t
		if t.run.Status.Phase.Completed() {
			continue
		}
		if err := m.prepare(t); err != nil {
			t.run.Status.Phase = v1alpha1.AnalysisError
			t.run.Status.Message = fmt.Sprintf("analysis run %s cannot resume: %v", r.Name, err)
			save = append(save, r.Name)
			continue
		}
		t.run.Status = analysis.Assess(t.run.Spec, t.run.Status, m.cfg.Clock())
		m.cfg.Logger.Info("analysis run resumed", "run", r.Name, "phase", t.run.Status.Phase)
	}
	m.mu.Unlock()
	for _, name := range save {
		m.save(name)
	}
	m.poke()
}

// notBefore is the earliest a measurement of metric may be taken: for a
// resumed run, a whole interval after it resumed.
func (t *tracked) notBefore(metric v1alpha1.Metric) time.Time {
	if t.resumedAt.IsZero() || metric.Interval == nil {
		return t.resumedAt
	}
	return t.resumedAt.Add(metric.Interval.Duration)
}

// save writes the current state of a run to the store.
func (m *Manager) save(name string) {
	if m.cfg.Store == nil {
		return
	}
	m.saving.Lock()
	defer m.saving.Unlock()
	m.mu.Lock()
	t := m.runs[name]
	var c *v1alpha1.AnalysisRun
	if t != nil {
		c = clone(t.run)
	}
	m.mu.Unlock()
	if c == nil {
		return
	}
	if err := m.cfg.Store.SaveRun(m.cfg.Rollout, c); err != nil {
		m.cfg.Logger.Error("cannot save analysis run", "run", name, "err", err)
	}
}

// poke wakes the measuring loop to look at the runs again.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// clone copies a run deeply enough to be read while the original changes:
// the manager replaces what it changes (statuses, measurements, a judge's
// result) and never writes through a shared pointer.
func clone(r *v1alpha1.AnalysisRun) *v1alpha1.AnalysisRun {
	c := *r
	c.Labels = maps.Clone(r.Labels)
	c.Annotations = maps.Clone(r.Annotations)
	c.Spec.Metrics = slices.Clone(r.Spec.Metrics)
	c.Spec.Judges = slices.Clone(r.Spec.Judges)
	c.Spec.Args = slices.Clone(r.Spec.Args)
	c.Status.MetricResults = slices.Clone(r.Status.MetricResults)
	for i := range c.Status.MetricResults {
		c.Status.MetricResults[i].Measurements = slices.Clone(r.Status.MetricResults[i].Measurements)
	}
	return &c
}
