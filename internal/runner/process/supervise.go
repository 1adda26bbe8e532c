package process

import (
	"context"
	"sync"
	"syscall"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// supervise runs the probes of process p and acts on their results until
// the process ends, must restart, or the replica is stopped or detached.
// reason says why it was ended by us ("" when it exited by itself).
func (r *replica) supervise(p *proc, spec procSpec) (end ending, reason string) {
	g, t := r.g, &r.g.cfg.Template
	results := make(chan probeResult)
	gate := make(chan struct{}) // closed once started
	stopProbes := r.startProbes(p, spec, gate, results)
	defer stopProbes()

	avail := newAvailTimer(g.cfg.MinReady)
	defer avail.stop()
	setReady := func(v bool) {
		if r.setReady(v) {
			avail.reset(v)
		}
	}
	markStarted := func() {
		close(gate)
		g.update(func() { r.started, r.state = true, StateRunning })
		if t.ReadinessProbe == nil {
			setReady(true)
		} else {
			g.changed()
		}
	}
	if t.StartupProbe == nil {
		markStarted()
	}
	for {
		select {
		case <-p.done:
			return crashed, ""
		case res := <-results:
			switch {
			case res.kind == startupProbe && res.ok:
				markStarted()
			case res.kind == startupProbe:
				r.terminate(p, false)
				return crashed, "Startup probe failed: " + res.msg
			case res.kind == readinessProbe:
				if !res.ok {
					g.log.Info("replica unready", "replica", r.name, "why", res.msg)
				}
				setReady(res.ok)
			case res.kind == livenessProbe && !res.ok:
				// The process is deemed broken: no drain, its SIGTERM
				// handler may still finish what it can.
				g.update(func() { r.live = false })
				r.terminate(p, false)
				return crashed, "Liveness probe failed: " + res.msg
			}
		case <-avail.C():
			g.changed()
		case <-r.stop.C():
			r.terminate(p, true)
			return stopped, "Terminated"
		case <-r.detach.C():
			return detached, ""
		}
	}
}

// startProbes runs the template's probes of p, readiness and liveness held
// back by gate, until the returned function is called (which waits for them).
func (r *replica) startProbes(p *proc, spec procSpec, gate chan struct{}, out chan<- probeResult) (stop func()) {
	t := &r.g.cfg.Template
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for kind, probe := range map[probeKind]*v1alpha1.Probe{
		startupProbe: t.StartupProbe, readinessProbe: t.ReadinessProbe, livenessProbe: t.LivenessProbe,
	} {
		if probe == nil {
			continue
		}
		pr := &prober{kind: kind, spec: probe, check: newChecker(probe, r.portNow(), spec.env, spec.dir), out: out}
		if kind != startupProbe {
			pr.gate = gate
		}
		wg.Go(func() { pr.run(ctx, p.begin) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

func (r *replica) portNow() int {
	r.g.mu.Lock()
	defer r.g.mu.Unlock()
	return r.port
}

// setReady changes readiness, publishes the endpoints and reports whether
// anything changed.
func (r *replica) setReady(v bool) bool {
	g := r.g
	changed := false
	g.update(func() {
		if r.ready != v {
			r.ready, changed = v, true
			if v {
				r.readySince = time.Now()
			}
		}
	})
	if changed {
		g.publish()
		g.changed()
	}
	return changed
}

// terminate stops p in the order that loses no request: out of the
// endpoints, drained (when drain is set and a Drain hook exists), SIGTERM
// to the group, up to TerminationGrace, SIGKILL. The kill signal cuts every
// wait short.
func (r *replica) terminate(p *proc, drain bool) {
	g := r.g
	r.setReady(false)
	g.update(func() { r.state = StateTerminating })
	g.changed()
	grace := g.cfg.TerminationGrace
	if drain && g.cfg.Hooks.Drain != nil {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		go func() {
			select {
			case <-r.kill.C():
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := g.cfg.Hooks.Drain(ctx, r.addrNow()); err != nil {
			g.log.Warn("replica drain incomplete", "replica", r.name, "err", err)
		}
		cancel()
	}
	p.signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return
	case <-timer.C:
		g.log.Warn("replica ignored SIGTERM for the grace period, killing", "replica", r.name, "grace", grace)
	case <-r.kill.C():
	}
	p.signal(syscall.SIGKILL)
	<-p.done
}

func (r *replica) addrNow() string {
	r.g.mu.Lock()
	defer r.g.mu.Unlock()
	return r.addr()
}

// availTimer fires when a replica has been ready for MinReady, so the
// daemon re-gathers when it becomes available (nothing else would wake it).
type availTimer struct {
	d time.Duration
	t *time.Timer
}

func newAvailTimer(d time.Duration) *availTimer { return &availTimer{d: d} }

func (a *availTimer) reset(ready bool) {
	a.stop()
	if ready && a.d > 0 {
		a.t = time.NewTimer(a.d)
	}
}

func (a *availTimer) stop() {
	if a.t != nil {
		a.t.Stop()
		a.t = nil
	}
}

// C is nil (blocks forever) when no timer runs.
func (a *availTimer) C() <-chan time.Time {
	if a.t == nil {
		return nil
	}
	return a.t.C
}
