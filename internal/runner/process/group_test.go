package process

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

func TestReplicaBecomesReadyAndIsPublished(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	g := newGroup(t, rec, func(c *GroupConfig) {
		c.Template.Env = []v1alpha1.EnvVar{{Name: "GREETING", Value: "hi"}, {Name: "PORT", Value: "1"}}
	})
	g.Scale(1)
	rec.waitFor(t, "one endpoint", func() bool { return len(rec.addrs()) == 1 })

	addr := rec.addrs()[0]
	e := env(t, addr)
	_, port, _ := net.SplitHostPort(addr)
	if e.Port != port || e.Rollout != "web" || e.Revision != "r1" || e.Replica != "web-r1-0" || e.Greeting != "hi" {
		t.Errorf("replica env = %+v, want PORT %s (over the template's), FLEDGE_* and GREETING", e, port)
	}
	st := g.Status()
	if st.Replicas != 1 || st.Ready != 1 || len(st.Items) != 1 {
		t.Fatalf("status = %+v, want 1 replica, 1 ready", st)
	}
	r := st.Items[0]
	if r.Name != "web-r1-0" || r.PID != e.PID || r.Addr != addr || !r.Ready || !r.Available || !r.Started || !r.Live || r.State != StateRunning {
		t.Errorf("replica status = %+v, want running, ready, at %s with pid %d", r, addr, e.PID)
	}
	if log := readLog(t, g, "web-r1-0"); !strings.Contains(log, "listening") || !strings.Contains(log, "--- fledge") {
		t.Errorf("replica log lacks the app's output or fledge's start line:\n%s", log)
	}
	if rec.log()[0] != "endpoints r1 ["+addr+"]" {
		t.Errorf("first hook event = %q, want the endpoint", rec.log()[0])
	}
}

func TestScaleUpThenDownRemovesNotReadyThenNewest(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	g := newGroup(t, rec)
	g.Scale(3)
	if st := g.Status(); st.Replicas != 3 {
		t.Fatalf("after Scale(3): %d replicas, want 3 at once", st.Replicas)
	}
	rec.waitFor(t, "three endpoints", func() bool { return len(rec.addrs()) == 3 })
	r0, _ := replicaStatus(g, "web-r1-0")
	post(t, "http://"+r0.Addr+"/control/unready")
	rec.waitFor(t, "replica 0 unready", func() bool { return !slices.Contains(rec.addrs(), r0.Addr) })

	g.Scale(2)
	if st := g.Status(); st.Replicas != 2 {
		t.Fatalf("after Scale(2): %d replicas, want 2 at once (the third terminating)", st.Replicas)
	}
	rec.waitFor(t, "replica 0 gone", func() bool { return len(g.Status().Items) == 2 })
	if got := names(g.Status()); !slices.Equal(got, []string{"web-r1-1", "web-r1-2"}) {
		t.Fatalf("after scaling down the not-ready one: %v", got)
	}
	if syscall.Kill(r0.PID, 0) != syscall.ESRCH {
		t.Errorf("process %d of the removed replica still exists", r0.PID)
	}

	r2, _ := replicaStatus(g, "web-r1-2")
	g.Scale(1)
	rec.waitFor(t, "newest gone", func() bool { return len(g.Status().Items) == 1 })
	if got := names(g.Status()); !slices.Equal(got, []string{"web-r1-1"}) {
		t.Fatalf("after scaling down to 1: %v, want the oldest kept", got)
	}
	if got := rec.addrs(); len(got) != 1 || slices.Contains(got, r2.Addr) {
		t.Errorf("endpoints = %v, want only replica 1", got)
	}

	g.Scale(2)
	rec.waitFor(t, "two endpoints again", func() bool { return len(rec.addrs()) == 2 })
	if got := names(g.Status()); !slices.Equal(got, []string{"web-r1-0", "web-r1-1"}) {
		t.Errorf("after scaling up: %v, want the lowest free index reused", got)
	}
}

func TestGroupsRunSideBySide(t *testing.T) {
	t.Parallel()
	recA, recB := newRecorder(), newRecorder()
	a := newGroup(t, recA)
	b := newGroup(t, recB, func(c *GroupConfig) { c.Revision = "r2" })
	a.Scale(2)
	b.Scale(2)
	recA.waitFor(t, "r1 ready", func() bool { return a.Status().Ready == 2 })
	recB.waitFor(t, "r2 ready", func() bool { return b.Status().Ready == 2 })
	all := append(recA.addrs(), recB.addrs()...)
	slices.Sort(all)
	if len(slices.Compact(all)) != 4 {
		t.Fatalf("addresses %v: want 4 distinct", all)
	}
	if e := env(t, recB.addrs()[0]); e.Revision != "r2" {
		t.Errorf("r2's endpoint serves revision %q", e.Revision)
	}
}

func TestReadinessFailureUnpublishesWithoutRestart(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	g := newGroup(t, rec)
	g.Scale(1)
	rec.waitFor(t, "ready", func() bool { return len(rec.addrs()) == 1 })
	before := g.Status().Items[0]

	post(t, "http://"+before.Addr+"/control/unready")
	rec.waitFor(t, "unpublished", func() bool { return len(rec.addrs()) == 0 })
	st := g.Status()
	r := st.Items[0]
	if st.Replicas != 1 || st.Ready != 0 || r.Ready || r.PID != before.PID || r.Restarts != 0 || r.State != StateRunning {
		t.Errorf("after readiness failure: %+v, want the same process running, unready", st)
	}

	post(t, "http://"+before.Addr+"/control/ready")
	rec.waitFor(t, "published again", func() bool { return slices.Equal(rec.addrs(), []string{before.Addr}) })
}

func TestLivenessFailureRestarts(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	g := newGroup(t, rec, func(c *GroupConfig) {
		c.Template.LivenessProbe = httpProbe("/healthz", 1)
		c.Template.LivenessProbe.InitialDelaySeconds = 1
	})
	g.Scale(1)
	rec.waitFor(t, "ready", func() bool { return len(rec.addrs()) == 1 })
	before := g.Status().Items[0]

	post(t, "http://"+before.Addr+"/control/unhealthy")
	rec.waitFor(t, "restart", func() bool { r, _ := replicaStatus(g, "web-r1-0"); return r.Restarts == 1 })
	rec.waitFor(t, "ready again", func() bool { return g.Status().Ready == 1 })
	r := g.Status().Items[0]
	if r.PID == before.PID || !strings.Contains(r.LastExit, "Liveness probe failed") || !strings.Contains(r.LastExit, "statuscode: 500") {
		t.Errorf("after liveness failure: %+v, want a new process and the liveness failure as last exit", r)
	}
	if e := env(t, r.Addr); e.PID != r.PID {
		t.Errorf("endpoint %s served by pid %d, want the new process %d", r.Addr, e.PID, r.PID)
	}
}

// TestRestartBackoffGrows covers the two ways into CrashLoopBackOff: a
// process that exits and one whose startup probe fails.
func TestRestartBackoffGrows(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args     []string
		startup  *v1alpha1.Probe
		wantExit string
	}{
		"process exits": {
			args:     []string{"-exit-after=100ms", "-exit-code=3"},
			wantExit: "Error (exit status 3)",
		},
		"startup probe fails": {
			args: []string{"-listen-delay=1h"},
			startup: &v1alpha1.Probe{TCPSocket: &v1alpha1.TCPSocketAction{},
				TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1},
			wantExit: "Startup probe failed",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			var g *Group
			var backoffs []time.Duration // each back-off entered, in order
			g = newGroup(t, rec, withArgs(tc.args...), func(c *GroupConfig) {
				c.Template.StartupProbe = tc.startup
				changed := c.Hooks.Changed
				c.Hooks.Changed = func() {
					if st := g.Status(); len(st.Items) == 1 && st.Items[0].State == StateCrashLoopBackOff {
						rec.record(func() {
							if b := st.Items[0].Backoff; len(backoffs) == 0 || backoffs[len(backoffs)-1] != b {
								backoffs = append(backoffs, b)
							}
						})
					}
					changed()
				}
			})
			g.Scale(1)
			rec.waitFor(t, "three restarts", func() bool { r, _ := replicaStatus(g, "web-r1-0"); return r.Restarts >= 3 })
			r, _ := replicaStatus(g, "web-r1-0")
			if !strings.Contains(r.LastExit, tc.wantExit) {
				t.Errorf("last exit = %q, want %q", r.LastExit, tc.wantExit)
			}
			if st := g.Status(); st.Replicas != 1 || st.Ready != 0 {
				t.Errorf("status = %+v, want 1 replica, none ready", st)
			}
			rec.mu.Lock()
			got := slices.Clone(backoffs)
			rec.mu.Unlock()
			want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
			if len(got) < 3 || !slices.Equal(got[:3], want) {
				t.Errorf("back-offs = %v, want %v first", got, want)
			}
			if len(rec.addrs()) != 0 {
				t.Errorf("endpoints = %v, want none", rec.addrs())
			}
		})
	}
}

func TestStartupProbeHoldsReadinessBack(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	g := newGroup(t, rec, withArgs("-healthy-after=1500ms"), func(c *GroupConfig) {
		c.Template.StartupProbe = httpProbe("/healthz", 10)
	})
	g.Scale(1)
	rec.waitFor(t, "ready", func() bool { return len(rec.addrs()) == 1 })
	r := g.Status().Items[0]
	if !r.Started || r.Restarts != 0 {
		t.Errorf("status = %+v, want started without restart", r)
	}
	if e := env(t, r.Addr); e.ReadyHitsEarly != 0 {
		t.Errorf("readiness probed %d times before the startup probe passed", e.ReadyHitsEarly)
	}
}

func TestMinReadyDelaysAvailability(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	g := newGroup(t, rec, func(c *GroupConfig) { c.MinReady = time.Second })
	g.Scale(1)
	rec.waitFor(t, "published", func() bool { return len(rec.addrs()) == 1 })
	st := g.Status()
	if elapsed := time.Since(st.Items[0].ReadySince); elapsed < time.Second && (st.Ready != 0 || st.Items[0].Available) {
		t.Fatalf("ready for %v but counted available: %+v", elapsed, st)
	}
	rec.waitFor(t, "available", func() bool { return g.Status().Ready == 1 })
}

func TestProbeHandlers(t *testing.T) {
	t.Parallel()
	tests := map[string]*v1alpha1.Probe{
		"tcpSocket": {TCPSocket: &v1alpha1.TCPSocketAction{}},
		"httpGet with headers": {HTTPGet: &v1alpha1.HTTPGetAction{
			Path: "header", Scheme: "HTTP",
			HTTPHeaders: []v1alpha1.HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "probe.example"}}}},
		// The exec probe runs in the replica's directory with its PORT; it
		// passes once the test creates its file.
		"exec": {Exec: &v1alpha1.ExecAction{Command: []string{"sh", "-c", `touch "probed-$PORT" && test -f "ready-$PORT"`}}},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold = 1, 1, 1, 1
			g := newGroup(t, rec, func(c *GroupConfig) { c.Template.ReadinessProbe = p })
			g.Scale(1)
			if p.Exec != nil {
				var port string
				rec.waitFor(t, "exec probe run", func() bool {
					_, port, _ = net.SplitHostPort(g.Status().Items[0].Addr)
					_, err := os.Stat(filepath.Join(g.cfg.Dir, "probed-"+port))
					return err == nil
				})
				if st := g.Status(); st.Items[0].Ready || len(rec.addrs()) != 0 {
					t.Fatalf("ready before the exec probe could pass: %+v", st)
				}
				if err := os.WriteFile(filepath.Join(g.cfg.Dir, "ready-"+port), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rec.waitFor(t, "ready", func() bool { return len(rec.addrs()) == 1 })
		})
	}
}
