package process

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// replica is one supervised slot of a group: a process, restarted as long
// as the replica lives. Its goroutine (run) owns the process; the fields
// below the line are shared with the group and guarded by g.mu.
type replica struct {
	g     *Group
	name  string
	index int
	seq   uint64 // creation order, for "newest first"

	stop   *signal // stop gracefully, for good
	kill   *signal // stop now (Stop's context ended)
	detach *signal // let go of the process

	// guarded by g.mu
	state                 string
	pid, port             int
	started, ready, live  bool
	startedAt, readySince time.Time
	restarts              int
	lastExit              string
	backoff               time.Duration
	terminating           bool
}

func newReplica(g *Group, index int, seq uint64) *replica {
	return &replica{
		g:     g,
		name:  fmt.Sprintf("%s-%s-%d", g.cfg.Rollout, g.cfg.Revision, index),
		index: index,
		seq:   seq,
		stop:  newSignal(), kill: newSignal(), detach: newSignal(),
		state: StateStarting,
	}
}

func (r *replica) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

func (r *replica) statusLocked(now time.Time, minReady time.Duration) ReplicaStatus {
	st := ReplicaStatus{
		Name: r.name, PID: r.pid, Ready: r.ready, Started: r.started, Live: r.live,
		Restarts: r.restarts, StartedAt: r.startedAt, ReadySince: r.readySince,
		LastExit: r.lastExit, Backoff: r.backoff, State: r.state,
	}
	if r.port != 0 {
		st.Addr = r.addr()
	}
	st.Available = r.ready && !r.terminating && now.Sub(r.readySince) >= minReady
	if r.terminating {
		st.State = StateTerminating
	}
	return st
}

// ending is how one run of the process ended.
type ending int

const (
	crashed  ending = iota // exited or failed a probe: restart after back-off
	stopped                // stopped by Scale or Stop
	detached               // left running by Detach
)

// run keeps the replica's process running until the replica is stopped.
func (r *replica) run() {
	g := r.g
	defer g.wg.Done()
	bo := backoff{base: g.cfg.BackoffBase, max: g.cfg.BackoffMax, reset: g.cfg.BackoffReset}
	notify := true
	defer func() { g.remove(r, notify) }()
	defer func() { releasePort(r.port) }()
	for first := true; ; first = false {
		end, ranFor := r.runOnce(first)
		switch end {
		case stopped:
			return
		case detached:
			notify = false
			return
		}
		delay := bo.next(ranFor)
		g.update(func() { r.state, r.backoff, r.pid = StateCrashLoopBackOff, delay, 0 })
		g.log.Warn("replica back-off before restart", "replica", r.name, "backoff", delay, "lastExit", r.status().LastExit)
		g.changed()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.stop.C():
			t.Stop()
			return
		case <-r.detach.C():
			t.Stop()
			notify = false
			return
		}
	}
}

func (r *replica) status() ReplicaStatus {
	r.g.mu.Lock()
	defer r.g.mu.Unlock()
	return r.statusLocked(time.Now(), r.g.cfg.MinReady)
}

// runOnce starts the process and supervises it until it ends.
func (r *replica) runOnce(first bool) (ending, time.Duration) {
	g := r.g
	port, err := pickPort(r.port)
	if err == nil {
		g.update(func() { r.port = port })
	}
	spec := r.spec(port)
	var p *proc
	if err == nil {
		p, err = startProcess(spec)
	}
	if err != nil {
		g.update(func() { r.lastExit = "StartError: " + err.Error() })
		g.log.Error("replica did not start", "replica", r.name, "err", err)
		return crashed, 0
	}
	g.update(func() {
		r.pid, r.startedAt, r.backoff, r.state = p.pid, p.begin, 0, StateStarting
		r.started, r.ready, r.live = false, false, true
		if !first {
			r.restarts++
		}
	})
	r.logLine(spec.log, fmt.Sprintf("started pid %d on port %d", p.pid, port))
	g.log.Info("replica started", "replica", r.name, "pid", p.pid, "port", port)
	if g.cfg.StateDir != "" {
		if err := writePidFile(g.cfg.StateDir, r.name, p.pid, port); err != nil {
			g.log.Error("replica pid file", "replica", r.name, "err", err)
		}
	}
	g.changed()

	end, reason := r.supervise(p, spec)
	if end == detached {
		return end, time.Since(p.begin)
	}
	if g.cfg.StateDir != "" {
		_ = os.Remove(pidPath(g.cfg.StateDir, r.name))
	}
	exit := describeExit(reason, p.err)
	r.logLine(spec.log, "exited: "+exit)
	g.log.Info("replica exited", "replica", r.name, "pid", p.pid, "exit", exit)
	g.update(func() { r.lastExit, r.started, r.ready, r.live, r.pid = exit, false, false, false, 0 })
	g.publish()
	g.changed()
	return end, time.Since(p.begin)
}

// spec builds the start of the replica on port.
func (r *replica) spec(port int) procSpec {
	cfg := r.g.cfg
	dir := cfg.Dir
	if wd := cfg.Template.WorkingDir; wd != "" {
		if filepath.IsAbs(wd) {
			dir = wd
		} else {
			dir = filepath.Join(cfg.Dir, wd)
		}
	}
	env := os.Environ()
	for _, e := range cfg.Template.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	env = append(env,
		"FLEDGE_ROLLOUT="+cfg.Rollout,
		"FLEDGE_REVISION="+cfg.Revision,
		"FLEDGE_REPLICA="+r.name,
		"PORT="+strconv.Itoa(port)) // last, so it wins
	s := procSpec{argv: cfg.Template.Command, dir: dir, env: env}
	if len(s.argv) == 0 {
		s.argv = []string{""}
	}
	if cfg.LogDir != "" {
		s.log = filepath.Join(cfg.LogDir, r.name+".log")
	}
	return s
}

// logLine appends a line of our own to the replica's log, so its reader
// sees starts and exits between the process's output.
func (r *replica) logLine(path, msg string) {
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "--- fledge %s %s: %s\n", time.Now().Format(time.RFC3339Nano), r.name, msg)
}

// describeExit says why a process ended, kubectl style.
func describeExit(reason string, err error) string {
	how := "exit status 0"
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		how = ee.Error()
	} else if err != nil {
		how = err.Error()
	}
	switch {
	case reason != "":
		return reason + " (" + how + ")"
	case err == nil:
		return "Completed (" + how + ")"
	}
	return "Error (" + how + ")"
}

// signal is a one-shot broadcast.
type signal struct {
	once sync.Once
	ch   chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) fire()              { s.once.Do(func() { close(s.ch) }) }
func (s *signal) C() <-chan struct{} { return s.ch }
