package process

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// Hooks connect a group to the rest of the daemon.
type Hooks struct {
	// Changed is called (must not block; may be called often) whenever a
	// replica starts, becomes ready or unready, becomes available after
	// MinReady, restarts or exits.
	Changed func()
	// Endpoints is called with the addresses ("127.0.0.1:port") of the
	// group's ready replicas whenever that set changes (the proxy routes to
	// them). Calls are serialised and in order; it must not call Stop.
	Endpoints func(revision string, addrs []string)
	// Drain is called before a replica is stopped by Scale or Stop: it must
	// stop routing to addr and wait until no request to it is in flight (or
	// ctx ends, at most TerminationGrace). May be nil.
	Drain func(ctx context.Context, addr string) error
}

// GroupConfig configures the replicas of one revision.
type GroupConfig struct {
	Rollout, Revision string
	// Template is defaulted (probe defaults filled).
	Template v1alpha1.ProcessTemplate
	// Dir is the working directory when Template.WorkingDir is empty or
	// relative; relative commands ("./app") resolve against it.
	Dir string
	// TerminationGrace bounds the drain, and then the wait between SIGTERM
	// and SIGKILL (0 kills right after SIGTERM, as a Kubernetes grace of 0).
	TerminationGrace time.Duration
	// MinReady is minReadySeconds: how long a replica must be ready before
	// it counts in GroupStatus.Ready.
	MinReady time.Duration
	// LogDir receives each replica's stdout and stderr, appended to
	// LogDir/<rollout>-<revision>-<n>.log ("" discards them).
	LogDir string
	// StateDir receives a pid file per running replica, for ReapOrphans
	// ("" writes none).
	StateDir string
	// Restart back-off; zero values take the defaults (1s, 5m, 10m).
	BackoffBase, BackoffMax, BackoffReset time.Duration
	Hooks                                 Hooks
	Logger                                *slog.Logger
}

// Replica states, as kubectl would show them.
const (
	StateStarting         = "Starting"         // process started, startup probe not passed yet
	StateRunning          = "Running"          // started (ready or not)
	StateTerminating      = "Terminating"      // being stopped
	StateCrashLoopBackOff = "CrashLoopBackOff" // waiting out the back-off before a restart
)

// GroupStatus is what a group observes.
type GroupStatus struct {
	// Replicas counts the replicas running, starting or backing off; not
	// the terminating ones.
	Replicas int32
	// Ready counts those ready for at least MinReady.
	Ready int32
	// Items describes every replica, terminating ones included, by index.
	Items []ReplicaStatus
}

// ReplicaStatus describes one replica.
type ReplicaStatus struct {
	Name string
	PID  int    // 0 while backing off
	Addr string // 127.0.0.1:port
	// Ready: the readiness probe passes; Available: for at least MinReady.
	Ready, Available bool
	// Started: the startup probe passed; Live: the liveness probe passes.
	Started, Live bool
	Restarts      int
	StartedAt     time.Time // start of the current process
	ReadySince    time.Time
	LastExit      string        // why the previous process ended
	Backoff       time.Duration // the current back-off, in CrashLoopBackOff
	State         string
}

// Group runs the replicas of one revision.
type Group struct {
	cfg GroupConfig
	log *slog.Logger

	mu       sync.Mutex
	replicas []*replica
	seq      uint64
	stopped  bool // by Stop or Detach: Scale is ignored
	wg       sync.WaitGroup
	doneOnce sync.Once
	done     chan struct{}

	pubMu     sync.Mutex // serialises Endpoints calls
	published []string
}

// NewGroup returns a group with no replica; Scale starts them.
func NewGroup(cfg GroupConfig) *Group {
	cfg.BackoffBase = cmp.Or(cfg.BackoffBase, DefaultBackoffBase)
	cfg.BackoffMax = cmp.Or(cfg.BackoffMax, DefaultBackoffMax)
	cfg.BackoffReset = cmp.Or(cfg.BackoffReset, DefaultBackoffReset)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Group{
		cfg:  cfg,
		log:  log.With("rollout", cfg.Rollout, "revision", cfg.Revision),
		done: make(chan struct{}),
	}
}

// Scale starts or gracefully stops replicas until n run; it returns at
// once. Scaling down removes replicas that are not ready first, then the
// newest. After Stop or Detach it does nothing.
func (g *Group) Scale(n int) {
	n = max(n, 0)
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return
	}
	active := g.activeLocked()
	for i := len(active); i < n; i++ {
		g.startLocked()
	}
	if len(active) > n {
		slices.SortStableFunc(active, scaleDownFirst)
		for _, r := range active[:len(active)-n] {
			r.terminating = true
			r.stop.fire()
		}
	}
	changed := len(active) != n
	g.mu.Unlock()
	if changed {
		g.changed()
	}
}

// scaleDownFirst orders replicas the way a ReplicaSet picks victims: not
// ready before ready, then newest first.
func scaleDownFirst(a, b *replica) int {
	if a.ready != b.ready {
		if !a.ready {
			return -1
		}
		return 1
	}
	return cmp.Compare(b.seq, a.seq)
}

// Status returns the counts and every replica's state.
func (g *Group) Status() GroupStatus {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	var st GroupStatus
	rs := slices.Clone(g.replicas)
	slices.SortFunc(rs, func(a, b *replica) int { return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(a.seq, b.seq)) })
	for _, r := range rs {
		rs := r.statusLocked(now, g.cfg.MinReady)
		st.Items = append(st.Items, rs)
		if !r.terminating {
			st.Replicas++
			if rs.Available {
				st.Ready++
			}
		}
	}
	return st
}

// Stop stops every replica gracefully (out of the endpoints, drained,
// SIGTERM, grace, SIGKILL) and waits for them. When ctx ends first, the
// remaining processes are killed at once and ctx's error is returned. Stop
// may be called more than once.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	g.stopped = true
	for _, r := range g.replicas {
		r.terminating = true
		r.stop.fire()
	}
	g.mu.Unlock()
	g.changed()
	done := g.allDone()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	for _, r := range g.replicas {
		r.kill.fire()
	}
	g.mu.Unlock()
	<-done
	return fmt.Errorf("stop %s/%s: killed before the end of the grace period: %w", g.cfg.Rollout, g.cfg.Revision, ctx.Err())
}

// Detach stops supervising without stopping the processes, as if the
// daemon had crashed: no more probes, restarts or hooks; processes and pid
// files stay (ReapOrphans cleans them up). For tests and emergencies.
func (g *Group) Detach() {
	g.mu.Lock()
	g.stopped = true
	for _, r := range g.replicas {
		r.detach.fire()
	}
	g.mu.Unlock()
	<-g.allDone()
}

func (g *Group) allDone() <-chan struct{} {
	g.doneOnce.Do(func() {
		go func() {
			g.wg.Wait()
			close(g.done)
		}()
	})
	return g.done
}

// activeLocked returns the replicas not terminating.
func (g *Group) activeLocked() []*replica {
	var rs []*replica
	for _, r := range g.replicas {
		if !r.terminating {
			rs = append(rs, r)
		}
	}
	return rs
}

// startLocked adds a replica with the lowest free index, so names stay
// small and stable across scale-downs (like a StatefulSet's).
func (g *Group) startLocked() {
	idx := 0
	for slices.ContainsFunc(g.replicas, func(r *replica) bool { return r.index == idx }) {
		idx++
	}
	g.seq++
	r := newReplica(g, idx, g.seq)
	g.replicas = append(g.replicas, r)
	g.wg.Add(1)
	go r.run()
}

// remove forgets a replica whose goroutine is ending.
func (g *Group) remove(r *replica, notify bool) {
	g.mu.Lock()
	g.replicas = slices.DeleteFunc(g.replicas, func(x *replica) bool { return x == r })
	g.mu.Unlock()
	if notify {
		g.publish()
		g.changed()
	}
}

// update changes a replica's fields under the lock.
func (g *Group) update(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f()
}

func (g *Group) changed() {
	if g.cfg.Hooks.Changed != nil {
		g.cfg.Hooks.Changed()
	}
}

// publish calls Endpoints if the set of ready addresses changed since the
// last call. The lock makes calls sequential, so the last call always
// carries the latest set.
func (g *Group) publish() {
	g.pubMu.Lock()
	defer g.pubMu.Unlock()
	g.mu.Lock()
	var addrs []string
	for _, r := range g.replicas {
		if r.ready {
			addrs = append(addrs, r.addr())
		}
	}
	g.mu.Unlock()
	slices.Sort(addrs)
	if slices.Equal(addrs, g.published) {
		return
	}
	g.published = addrs
	if g.cfg.Hooks.Endpoints != nil {
		g.cfg.Hooks.Endpoints(g.cfg.Revision, slices.Clone(addrs))
	}
}
