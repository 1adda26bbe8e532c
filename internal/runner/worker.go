package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/run"
	"fledge.dev/fledge/internal/gate"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/process"
	"fledge.dev/fledge/internal/runner/store"
)

// Annotations the daemon keeps on a stored Rollout.
const (
	// AnnotationRevision is the revision id of spec.template.
	AnnotationRevision = "fledge.dev/revision"
	// AnnotationDir is the directory relative paths of spec.template resolve against.
	AnnotationDir = "fledge.dev/dir"
)

// tick bounds the time between two decisions: observations that arrive
// without a hook (a router that changed under us) are seen within it.
const tick = 2 * time.Second

// worker drives one rollout: a single goroutine gathers observations,
// decides, persists, then applies.
type worker struct {
	d    *Daemon
	name string
	log  *slog.Logger

	mu      sync.Mutex
	ro      *v1alpha1.Rollout // the last persisted spec and status
	history []store.Revision

	kickc chan struct{}
	cmdc  chan cmdRequest
	stopc chan struct{}
	done  chan struct{}

	// Owned by the loop goroutine.
	groups  map[string]*process.Group
	leaving sync.WaitGroup
	runs    *run.Manager
	gates   *gate.Poller // webhook gates, called off the loop

	// edge is read by replica hooks too.
	edge atomic.Pointer[edge]
}

type cmdRequest struct {
	cmd   rollout.Command
	reply chan error
}

func newWorker(d *Daemon, ro *v1alpha1.Rollout, history []store.Revision) *worker {
	return &worker{
		d: d, name: ro.Name, ro: ro, history: history,
		log:    d.log.With("rollout", ro.Name),
		kickc:  make(chan struct{}, 1),
		cmdc:   make(chan cmdRequest),
		stopc:  make(chan struct{}),
		done:   make(chan struct{}),
		groups: map[string]*process.Group{},
	}
}

// kick asks for a decision soon; it never blocks.
func (w *worker) kick() {
	select {
	case w.kickc <- struct{}{}:
	default:
	}
}

// snapshot returns a copy of the rollout as last persisted.
func (w *worker) snapshot() *v1alpha1.Rollout {
	w.mu.Lock()
	defer w.mu.Unlock()
	return deepCopy(w.ro)
}

// command runs a user command in the next decision and returns its error.
func (w *worker) command(ctx context.Context, cmd rollout.Command) error {
	req := cmdRequest{cmd: cmd, reply: make(chan error, 1)}
	select {
	case w.cmdc <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		return fmt.Errorf("rollout %s is stopping", w.name)
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop decides until stop is called or ctx ends, then stops everything the
// rollout runs.
func (w *worker) loop(ctx context.Context) {
	defer close(w.done)
	ectx, cancelEdge := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelEdge()
	w.startRuns(ectx)
	w.startGates(ectx)
	defer w.gates.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		var req *cmdRequest
		select {
		case <-ctx.Done():
			w.shutdown(cancelEdge)
			return
		case <-w.stopc:
			w.shutdown(cancelEdge)
			return
		case <-w.kickc:
		case <-timer.C:
		case r := <-w.cmdc:
			req = &r
		}
		after := w.reconcile(ectx, req)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(after)
	}
}

// reconcile is one pass: gather, decide, persist, apply.
func (w *worker) reconcile(ctx context.Context, req *cmdRequest) time.Duration {
	pass := Pass{Rollout: w.name, start: time.Now()}
	defer w.d.observe(&pass)
	w.mu.Lock()
	ro, history := deepCopy(w.ro), w.history
	w.mu.Unlock()
	if err := w.configureEdge(ctx, ro); err != nil {
		w.log.Error("cannot run the rollout's proxy", "err", err)
		w.reply(req, err)
		return tick
	}

	in := w.gather(ctx, ro, req)
	dec := rollout.Decide(in)
	if req != nil && dec.CommandError != "" {
		w.reply(req, fmt.Errorf("%s: %s", w.name, dec.CommandError))
		req = nil
	}
	pass.Previous, pass.Status = ro.Status, ro.Status
	events, err := w.persist(ro, history, dec, req != nil)
	if errors.Is(err, errStale) {
		w.reply(req, err)
		return 0
	} else if err != nil {
		w.log.Error("cannot persist the decision; not acting on it", "err", err)
		w.reply(req, err)
		return time.Second
	}
	w.reply(req, nil)
	pass.Status, pass.Events = dec.Status, events
	w.apply(ctx, dec)
	w.wantGates(ro, dec)

	after := tick
	if dec.RequeueAfter > 0 && dec.RequeueAfter < after {
		after = dec.RequeueAfter
	}
	if !trafficEqual(dec.Traffic, in.Traffic) || len(dec.Events) > 0 {
		after = 20 * time.Millisecond // the router moved: observe it at once
	}
	return after
}

func (w *worker) reply(req *cmdRequest, err error) {
	if req != nil {
		req.reply <- err
	}
}

// gather builds the engine's Input from what runs now.
func (w *worker) gather(ctx context.Context, ro *v1alpha1.Rollout, req *cmdRequest) rollout.Input {
	in := rollout.Input{
		Rollout:         ro,
		DesiredRevision: ro.Annotations[AnnotationRevision],
		Now:             time.Now(),
		Replicas:        map[string]rollout.ReplicaObservation{},
		Analysis:        w.runs.Observations(),
		Gates:           w.gates.Observations(),
	}
	for rev, g := range w.groups {
		s := g.Status()
		in.Replicas[rev] = rollout.ReplicaObservation{Replicas: s.Replicas, Ready: s.Ready}
	}
	if t, err := w.edge.Load().proxy.Observed(ctx); err == nil {
		in.Traffic = t
	}
	if req != nil {
		in.Command = req.cmd
	}
	return in
}

// persist stores the decided status and events before anything acts on
// them, and returns the events stored.
func (w *worker) persist(ro *v1alpha1.Rollout, history []store.Revision, dec rollout.Decision, byUser bool) ([]store.Event, error) {
	if reflect.DeepEqual(dec.Status, ro.Status) && len(dec.Events) == 0 {
		return nil, nil
	}
	prevStable := ro.Status.StableRevision
	ro.Status = dec.Status
	change := store.Change{Rollout: ro}
	now := time.Now()
	if s := dec.Status.StableRevision; s != prevStable {
		for i := range history {
			if history[i].ID == s {
				history[i].StableAt = now
				rev := history[i]
				change.Revision = &rev
			}
		}
	}
	actor := "fledge"
	if byUser {
		actor = "user"
	}
	for _, e := range dec.Events {
		change.Events = append(change.Events, store.Event{Time: now, Type: e.Type, Reason: e.Reason, Message: e.Message, Actor: actor})
		level := slog.LevelInfo
		if e.Type == rollout.EventWarning {
			level = slog.LevelWarn
		}
		w.log.Log(context.Background(), level, e.Message, "reason", e.Reason)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ro.Generation != ro.Generation {
		return nil, errStale // decided on a spec replaced meanwhile: decide again
	}
	if err := w.d.cfg.Store.Commit(change); err != nil {
		return nil, fmt.Errorf("persist rollout %s: %w", w.name, err)
	}
	w.ro.Status = ro.Status
	w.history = history
	return change.Events, nil
}

// errStale says a decision was made on a spec that has since been replaced.
var errStale = errors.New("the spec changed while deciding")

// commitSpec stores a new spec (apply, undo) over the current status and
// asks for a decision. The worker's lock is held across the store's commit
// so that a decision on the old spec cannot overwrite the new one.
func (w *worker) commitSpec(r *v1alpha1.Rollout, change store.Change, history []store.Revision) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	r.Status = w.ro.Status
	r.Generation = w.ro.Generation + 1
	r.CreationTimestamp = w.ro.CreationTimestamp
	change.Rollout = r
	if err := w.d.cfg.Store.Commit(change); err != nil {
		return err
	}
	w.ro, w.history = r, history
	w.kick()
	return nil
}

// apply moves the edges toward the decision: traffic first, so that a
// revision losing traffic is scaled down only in a later decision.
func (w *worker) apply(ctx context.Context, dec rollout.Decision) {
	if err := w.edge.Load().proxy.SetTraffic(ctx, dec.Traffic); err != nil {
		w.log.Error("cannot apply traffic", "err", err)
	}
	w.scale(dec.Replicas)
	w.runs.Ensure(dec.Analysis, run.Env{CanaryRevision: dec.Status.CanaryRevision, StableRevision: dec.Status.StableRevision})
}

// trafficEqual compares two router states, an empty list equal to none.
func trafficEqual(a, b rollout.Traffic) bool {
	if len(a.HeaderRoutes) == 0 && len(b.HeaderRoutes) == 0 {
		a.HeaderRoutes, b.HeaderRoutes = nil, nil
	}
	if len(a.MirrorRoutes) == 0 && len(b.MirrorRoutes) == 0 {
		a.MirrorRoutes, b.MirrorRoutes = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func deepCopy(ro *v1alpha1.Rollout) *v1alpha1.Rollout {
	b, err := json.Marshal(ro)
	if err != nil {
		panic(fmt.Sprintf("rollout %s does not marshal: %v", ro.Name, err))
	}
	out := &v1alpha1.Rollout{}
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("rollout %s does not unmarshal: %v", ro.Name, err))
	}
	return out
}
