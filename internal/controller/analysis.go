package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/run"
	"fledge.dev/fledge/internal/metrics/rollouts"
	"fledge.dev/fledge/internal/rollout"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	// The providers that measure from inside a cluster register themselves.
	// The builtin provider and a judge without a Prometheus source read
	// the embedded proxy's counters, which only the local daemon has (see
	// clusterSupport).
	_ "fledge.dev/fledge/internal/analysis/provider/prometheus"
	_ "fledge.dev/fledge/internal/analysis/provider/web"
)

// Analyses runs the analysis runs of every Rollout the controller drives:
// one run.Manager per Rollout, the one the local daemon uses, persisting
// each run as an AnalysisRun owned by the Rollout. It is a runnable that
// needs the leader election: only the leader measures, and a new leader
// resumes the runs from the AnalysisRun objects.
type Analyses struct {
	kube   client.Client
	reader client.Reader // uncached: a new leader restores what is stored now
	events record.EventRecorder
	log    logr.Logger
	// changed wakes the reconciler of a Rollout whose run changed phase,
	// so that a verdict is acted on at once, not at the next resync.
	changed chan event.GenericEvent

	mu      sync.Mutex
	ctx     context.Context // set by Start; nil before
	byOwner map[types.NamespacedName]*rolloutRuns
}

var _ manager.LeaderElectionRunnable = (*Analyses)(nil)

// rolloutRuns is the run manager of one Rollout.
type rolloutRuns struct {
	uid       types.UID
	mgr       *run.Manager
	store     *runStore
	templates []v1alpha1.NamedAnalysisTemplate // guarded by Analyses.mu
	cancel    context.CancelFunc               // nil until started
}

// NewAnalyses returns the runnable; changed receives a GenericEvent naming
// a Rollout when one of its runs changed phase.
func NewAnalyses(kube client.Client, reader client.Reader, events record.EventRecorder, log logr.Logger, changed chan event.GenericEvent) *Analyses {
	return &Analyses{kube: kube, reader: reader, events: events, log: log, changed: changed,
		byOwner: map[types.NamespacedName]*rolloutRuns{}}
}

// NeedLeaderElection is true: only the leader measures.
func (a *Analyses) NeedLeaderElection() bool { return true }

// Start starts the run managers made so far and those made later, until
// ctx ends; then every measurement stops.
func (a *Analyses) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.ctx != nil {
		a.mu.Unlock()
		return errors.New("analyses: already started")
	}
	a.ctx = ctx
	for _, rr := range a.byOwner {
		a.startLocked(rr)
	}
	a.mu.Unlock()
	<-ctx.Done()
	return nil
}

// startLocked runs a manager's measurements under the runnable's context.
func (a *Analyses) startLocked(rr *rolloutRuns) {
	if a.ctx == nil || rr.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(a.ctx)
	rr.cancel = cancel
	go func() {
		if err := rr.mgr.Start(ctx); err != nil {
			a.log.Error(err, "analysis runs stopped")
		}
	}()
}

// observe returns the phases of a Rollout's runs for the engine, making
// its manager (and restoring its runs from the cluster) the first time.
func (a *Analyses) observe(ctx context.Context, ro *v1alpha1.Rollout) (map[string]rollout.RunObservation, error) {
	if a == nil {
		return nil, nil // a reconciler without analysis (unit tests)
	}
	rr, err := a.forRollout(ctx, ro, false)
	if rr == nil || err != nil {
		return nil, err
	}
	return rr.mgr.Observations(), nil
}

// ensure starts the runs a decision lists and terminates the others, with
// the templates of the spec decided on (inline and standalone ones).
func (a *Analyses) ensure(ctx context.Context, ro *v1alpha1.Rollout, dec rollout.Decision) error {
	if a == nil {
		return nil
	}
	rr, err := a.forRollout(ctx, ro, len(dec.Analysis) > 0)
	if rr == nil || err != nil {
		return err
	}
	a.mu.Lock()
	rr.templates = ro.Spec.AnalysisTemplates
	a.mu.Unlock()
	rr.mgr.Ensure(dec.Analysis, run.Env{CanaryRevision: dec.Status.CanaryRevision, StableRevision: dec.Status.StableRevision})
	return rr.store.prune(ctx, rr.mgr.Runs())
}

// forRollout returns the manager of a Rollout, made and restored from the
// Rollout's AnalysisRuns the first time. A Rollout deleted and made again
// under its name gets a new one. A manager is kept only once its runs are
// restored: starting a run again under a stored name would overwrite it.
//
// A Rollout that names no analysis and never ran one (status.runSeq) has
// no runs to restore or prune, and gets no manager (nil) unless want says
// a decision starts a run: most Rollouts of a large cluster then cost no
// goroutine, and a new leader does not LIST the AnalysisRuns of each
// Rollout from the API server on its first reconcile (10,000 LISTs at
// start at 10,000 Rollouts).
func (a *Analyses) forRollout(ctx context.Context, ro *v1alpha1.Rollout, want bool) (*rolloutRuns, error) {
	key := client.ObjectKeyFromObject(ro)
	a.mu.Lock()
	rr := a.byOwner[key]
	a.mu.Unlock()
	if rr != nil && rr.uid == ro.UID {
		return rr, nil
	}
	a.drop(key)
	if !want && !mayHaveRuns(ro) {
		return nil, nil
	}

	var list v1alpha1.AnalysisRunList
	if err := a.reader.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingLabels{run.LabelRollout: ro.Name}); err != nil {
		return nil, fmt.Errorf("restore the analysis runs of rollout %s: %w", ro.Name, err)
	}
	store := newRunStore(a, ro)
	rr = &rolloutRuns{uid: ro.UID, store: store}
	rr.mgr = run.NewManager(run.Config{
		Rollout: ro.Name,
		Templates: func() []v1alpha1.NamedAnalysisTemplate {
			a.mu.Lock()
			defer a.mu.Unlock()
			return rr.templates
		},
		Deps:    provider.Deps{}, // no embedded proxy: no counters to read
		Store:   store,
		Changed: func() { a.wake(key) },
		Logger:  slog.New(logr.ToSlogHandler(a.log.WithValues("rollout", key.String()))),
	})
	var runs []*v1alpha1.AnalysisRun
	for i := range list.Items {
		r := &list.Items[i]
		if !ownedBy(r, ro) {
			continue // a run of an earlier Rollout of the same name, on its way out
		}
		store.known(r)
		runs = append(runs, r)
	}
	rr.mgr.Restore(runs)
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur := a.byOwner[key]; cur != nil && cur.uid == ro.UID {
		return cur, nil // made meanwhile
	}
	a.byOwner[key] = rr
	a.startLocked(rr)
	return rr, nil
}

// mayHaveRuns says whether a Rollout names an analysis or has run one,
// so that AnalysisRuns of it may exist.
func mayHaveRuns(ro *v1alpha1.Rollout) bool {
	return len(analysisRefs(ro)) > 0 || ro.Status.RunSeq > 0
}

// drop stops the runs of a Rollout that is gone (or no longer one the
// controller drives); its AnalysisRuns go with it.
func (a *Analyses) drop(key types.NamespacedName) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if rr := a.byOwner[key]; rr != nil {
		if rr.cancel != nil {
			rr.cancel()
		}
		delete(a.byOwner, key)
	}
}

// AnalysisRuns are the runs the run managers hold, by Rollout: what they
// stored, or newer. Only the leader reconciles, so only its Analyses holds
// any.
func (a *Analyses) AnalysisRuns() map[rollouts.ID][]*v1alpha1.AnalysisRun {
	a.mu.Lock()
	owners := maps.Clone(a.byOwner)
	a.mu.Unlock()
	out := make(map[rollouts.ID][]*v1alpha1.AnalysisRun, len(owners))
	for key, rr := range owners {
		if runs := rr.mgr.Runs(); len(runs) > 0 {
			out[rollouts.ID{Namespace: key.Namespace, Name: key.Name}] = runs
		}
	}
	return out
}

// wake asks for a reconcile of a Rollout (see wake).
func (a *Analyses) wake(key types.NamespacedName) { wake(a.context(), a.changed, key) }

// context is the runnable's context for the writes of the run managers,
// which have none of their own.
func (a *Analyses) context() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx == nil {
		return context.Background()
	}
	return a.ctx
}

// ownedBy tells whether obj's controller is ro.
func ownedBy(obj client.Object, ro *v1alpha1.Rollout) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == ro.UID {
			return true
		}
	}
	return false
}
