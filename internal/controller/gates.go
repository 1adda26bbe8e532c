package controller

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/gate"
	"fledge.dev/fledge/internal/rollout"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Gates calls the webhook gates of every Rollout the controller drives: one
// gate.Poller per Rollout, the one the local daemon uses, calling off the
// reconcile loop. Only the leader calls; answers live in memory, so a new
// leader asks again (a gate is polled for as long as a decision waits on it,
// and a gate not yet answered holds, so nothing passes unchecked).
type Gates struct {
	log *slog.Logger
	// changed wakes the reconciler of a Rollout whose gate answered
	// differently, so that an opened gate is acted on at once.
	changed chan event.GenericEvent

	mu      sync.Mutex
	ctx     context.Context // set by Start; nil before
	byOwner map[types.NamespacedName]*rolloutGates
}

var _ manager.LeaderElectionRunnable = (*Gates)(nil)

type rolloutGates struct {
	uid    types.UID
	poller *gate.Poller
}

// NewGates returns the runnable; changed receives a GenericEvent naming a
// Rollout when one of its gates' answers changed.
func NewGates(log *slog.Logger, changed chan event.GenericEvent) *Gates {
	return &Gates{log: log, changed: changed, byOwner: map[types.NamespacedName]*rolloutGates{}}
}

// NeedLeaderElection is true: only the leader calls webhooks.
func (g *Gates) NeedLeaderElection() bool { return true }

// Start makes pollers possible until ctx ends; then every call stops.
func (g *Gates) Start(ctx context.Context) error {
	g.mu.Lock()
	if g.ctx != nil {
		g.mu.Unlock()
		return errors.New("gates: already started")
	}
	g.ctx = ctx
	g.mu.Unlock()
	<-ctx.Done()
	g.mu.Lock()
	defer g.mu.Unlock()
	for key, rg := range g.byOwner {
		rg.poller.Stop()
		delete(g.byOwner, key)
	}
	return nil
}

// observe returns the last answers of a Rollout's gates for the engine.
func (g *Gates) observe(ro *v1alpha1.Rollout) map[v1alpha1.WebhookType]rollout.GateObservation {
	if g == nil || len(ro.Spec.Strategy.Webhooks()) == 0 {
		return nil
	}
	if rg := g.forRollout(ro); rg != nil {
		return rg.poller.Observations()
	}
	return nil
}

// want hands a Rollout's poller the gates the decision waits on, with the
// payload of the decided state.
func (g *Gates) want(ro *v1alpha1.Rollout, dec rollout.Decision) {
	if g == nil {
		return
	}
	hooks := ro.Spec.Strategy.Webhooks()
	if len(hooks) == 0 && len(dec.Gates) == 0 {
		g.drop(types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name})
		return
	}
	rg := g.forRollout(ro)
	if rg == nil {
		return // not the leader yet: the next reconcile asks again
	}
	st := dec.Status
	rg.poller.Want(dec.Gates, hooks, gate.Payload{
		Name: ro.Name, Namespace: ro.Namespace, Phase: string(st.Phase),
		Revision: gate.Revisions{Stable: st.StableRevision, Canary: st.CanaryRevision},
		Weight:   st.CanaryWeight,
	})
}

// forRollout returns the poller of a Rollout, made the first time; nil
// before Start (a controller that is not the leader).
func (g *Gates) forRollout(ro *v1alpha1.Rollout) *rolloutGates {
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx == nil || g.ctx.Err() != nil {
		return nil
	}
	if rg := g.byOwner[key]; rg != nil {
		if rg.uid == ro.UID {
			return rg
		}
		rg.poller.Stop() // deleted and made again under its name
	}
	ctx := g.ctx
	rg := &rolloutGates{uid: ro.UID}
	rg.poller = gate.NewPoller(ctx, gate.Config{
		Logger:  g.log.With("rollout", key.String()),
		Changed: func() { wake(ctx, g.changed, key) },
	})
	g.byOwner[key] = rg
	return rg
}

// drop stops the poller of a Rollout that is gone or has no gates.
func (g *Gates) drop(key types.NamespacedName) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if rg := g.byOwner[key]; rg != nil {
		rg.poller.Stop()
		delete(g.byOwner, key)
	}
}
