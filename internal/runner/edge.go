package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/run"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/router/proxy"
	"fledge.dev/fledge/internal/runner/process"
	"fledge.dev/fledge/internal/runner/store"
)

// edge is the embedded proxy that routes a rollout's traffic. Local mode
// has one router, the proxy, used directly because it also balances over
// the replicas the daemon starts.
type edge struct {
	proxy   *proxy.Proxy
	cfg     proxy.Config
	cancel  context.CancelFunc
	stopped chan struct{}
}

// proxyConfig is the proxy's configuration for a rollout.
func (w *worker) proxyConfig(ro *v1alpha1.Rollout) (proxy.Config, error) {
	cfg := proxy.Config{Rollout: ro.Name, Metrics: w.d.cfg.Metrics, Logger: w.d.log}
	tr := ro.Spec.Strategy.TrafficRouting()
	if c := ro.Spec.Strategy.Canary; c != nil {
		cfg.Stickiness = c.Stickiness
	}
	if tr == nil || tr.Proxy == nil {
		return cfg, fmt.Errorf("rollout %s: local mode needs trafficRouting.proxy", ro.Name)
	}
	cfg.Routing = *tr.Proxy
	return cfg, nil
}

// configureEdge makes the proxy follow the spec: stickiness and failover
// change in place; a new listen address starts a new proxy, then the old one
// stops after its requests in flight.
func (w *worker) configureEdge(ctx context.Context, ro *v1alpha1.Rollout) error {
	cfg, err := w.proxyConfig(ro)
	if err != nil {
		return err
	}
	old := w.edge.Load()
	if old != nil && old.cfg.Routing.Listen == cfg.Routing.Listen && old.cfg.Routing.PreviewListen == cfg.Routing.PreviewListen {
		if reflect.DeepEqual(old.cfg, cfg) {
			return nil
		}
		if err := old.proxy.Configure(cfg); err != nil {
			return fmt.Errorf("rollout %s: reconfigure proxy: %w", w.name, err)
		}
		old.cfg = cfg
		return nil
	}
	// A new proxy has no traffic set and no replicas: it would answer 503
	// (after a restart, or a listen change) until the next decision. It
	// gets the current ones before it accepts its first request.
	e, err := startProxy(ctx, cfg, func(p *proxy.Proxy) {
		w.setEndpoints(p)
		if err := p.SetTraffic(ctx, currentTraffic(ctx, old, ro)); err != nil {
			w.log.Warn("cannot set the new proxy's traffic; the next decision will", "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("rollout %s: %w", w.name, err)
	}
	w.edge.Store(e)
	w.setEndpoints(e.proxy) // a replica that changed meanwhile told the old proxy only
	if old != nil {
		old.cancel()
	}
	return nil // the proxy logs its addresses
}

// currentTraffic is the traffic a rollout's router enforces now: what the
// proxy being replaced enforces, else (after a restart) what the persisted
// status says it enforced. Header and mirror routes are not in the status:
// the next decision, made at once, adds them back.
func currentTraffic(ctx context.Context, old *edge, ro *v1alpha1.Rollout) rollout.Traffic {
	if old != nil {
		if t, err := old.proxy.Observed(ctx); err == nil {
			return t
		}
	}
	st := ro.Status
	t := rollout.Traffic{Stable: st.StableRevision}
	if st.CanaryRevision != "" && !st.Abort {
		t.Canary, t.CanaryWeight, t.Preview = st.CanaryRevision, st.CanaryWeight, st.CanaryRevision
	}
	return t
}

// setEndpoints gives a proxy the ready replicas of every revision.
func (w *worker) setEndpoints(p *proxy.Proxy) {
	for rev, g := range w.groups {
		p.SetEndpoints(rev, readyAddrs(g.Status()))
	}
}

// startProxy starts a proxy, primed before it listens, and waits until it
// listens.
func startProxy(ctx context.Context, cfg proxy.Config, prime func(*proxy.Proxy)) (*edge, error) {
	p, err := proxy.New(cfg)
	if err != nil {
		return nil, err
	}
	prime(p)
	pctx, cancel := context.WithCancel(ctx)
	e := &edge{proxy: p, cfg: cfg, cancel: cancel, stopped: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		defer close(e.stopped)
		errc <- p.Start(pctx)
	}()
	select {
	case <-p.Ready():
		return e, nil
	case err := <-errc:
		cancel()
		return nil, fmt.Errorf("proxy: %w", err)
	case <-time.After(10 * time.Second):
		cancel()
		return nil, fmt.Errorf("proxy did not start listening within 10s")
	}
}

// startRuns starts the rollout's analysis runs, resuming stored ones.
func (w *worker) startRuns(ctx context.Context) {
	w.runs = run.NewManager(run.Config{
		Rollout: w.name,
		Templates: func() []v1alpha1.NamedAnalysisTemplate {
			return w.snapshot().Spec.AnalysisTemplates
		},
		Deps:    provider.Deps{Metrics: w.d.cfg.Metrics},
		Store:   w.d.cfg.Store,
		Changed: w.kick,
		Logger:  w.log,
	})
	if runs, err := w.d.cfg.Store.Runs(w.name); err == nil {
		w.runs.Restore(runs)
	} else {
		w.log.Error("cannot restore analysis runs", "err", err)
	}
	go func() {
		if err := w.runs.Start(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("analysis stopped", "err", err)
		}
	}()
}

// scale brings every revision's group to its desired replica count; groups
// no longer wanted are scaled to zero and stopped.
func (w *worker) scale(want map[string]int32) {
	for rev, n := range want {
		g, ok := w.groups[rev]
		if !ok {
			var err error
			if g, err = w.newGroup(rev); err != nil {
				w.log.Error("cannot run revision", "revision", rev, "err", err)
				continue
			}
			w.groups[rev] = g
		}
		g.Scale(int(n))
	}
	for rev, g := range w.groups {
		if _, ok := want[rev]; ok {
			continue
		}
		delete(w.groups, rev)
		w.leaving.Add(1)
		go func(rev string, g *process.Group) {
			defer w.leaving.Done()
			ctx, cancel := context.WithTimeout(context.Background(), w.grace()+time.Minute)
			defer cancel()
			if err := g.Stop(ctx); err != nil {
				w.log.Warn("revision did not stop cleanly", "revision", rev, "err", err)
			}
			w.kick()
		}(rev, g)
	}
}

// newGroup builds the process group of a revision from its stored template.
func (w *worker) newGroup(rev string) (*process.Group, error) {
	w.mu.Lock()
	var r *store.Revision
	for i := range w.history {
		if w.history[i].ID == rev {
			r = &w.history[i]
		}
	}
	ro := w.ro
	w.mu.Unlock()
	if r == nil {
		return nil, fmt.Errorf("revision %s is not in the history", rev)
	}
	return process.NewGroup(process.GroupConfig{
		Rollout:          w.name,
		Revision:         rev,
		Template:         r.Template,
		Dir:              r.Dir,
		TerminationGrace: w.grace(),
		MinReady:         time.Duration(ro.Spec.MinReadySeconds) * time.Second,
		LogDir:           filepath.Join(w.d.cfg.StateDir, "logs"),
		StateDir:         filepath.Join(w.d.cfg.StateDir, "pids"),
		Logger:           w.d.log, // the group adds rollout and revision
		Hooks: process.Hooks{
			Changed: w.kick,
			Endpoints: func(rev string, addrs []string) {
				if e := w.edge.Load(); e != nil {
					e.proxy.SetEndpoints(rev, addrs)
				}
			},
			Drain: func(ctx context.Context, addr string) error {
				if e := w.edge.Load(); e != nil {
					return e.proxy.Drain(ctx, addr)
				}
				return nil
			},
		},
	}), nil
}

func (w *worker) grace() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if g := w.ro.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return v1alpha1.DefaultTerminationGrace * time.Second
}

// shutdown stops the service in the order that answers every request it
// accepted: the proxy first (it stops accepting, and the requests in flight
// finish on replicas still running), then the replicas (each drained and
// sent SIGTERM), then the analysis. Stopping the replicas first would leave
// the proxy accepting requests it can only answer 503.
func (w *worker) shutdown(cancelEdge context.CancelFunc) {
	if e := w.edge.Load(); e != nil {
		e.cancel()
		<-e.stopped
	}
	w.scale(nil)
	w.leaving.Wait()
	cancelEdge()
}

func readyAddrs(s process.GroupStatus) []string {
	var out []string
	for _, r := range s.Items {
		if r.Ready && r.Addr != "" {
			out = append(out, r.Addr)
		}
	}
	return out
}
