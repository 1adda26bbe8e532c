package process

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

func TestStopDrainsBeforeSIGTERM(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	g := newGroup(t, rec)
	g.Scale(1)
	rec.waitFor(t, "ready", func() bool { return len(rec.addrs()) == 1 })
	addr := rec.addrs()[0]

	// A slow request is in flight when the stop begins; the drain waits
	// for it, and checks the process has not been signalled yet.
	slow := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/slow?d=700ms")
		if err != nil {
			slow <- err.Error()
			return
		}
		resp.Body.Close()
		slow <- resp.Status
	}()
	rec.waitFor(t, "slow request in flight", func() bool { return strings.Contains(readLog(t, g, "web-r1-0"), "slow request started") })
	var during []string
	rec.drain = func(ctx context.Context, addr string) error {
		select {
		case s := <-slow:
			during = append(during, "slow: "+s)
		case <-ctx.Done():
			return ctx.Err()
		}
		if strings.Contains(readLog(t, g, "web-r1-0"), "SIGTERM") {
			during = append(during, "SIGTERM already sent")
		}
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			during = append(during, "not serving: "+err.Error())
		} else {
			resp.Body.Close()
		}
		return nil
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"endpoints r1 [" + addr + "]", "endpoints r1 []", "drain " + addr, "drained " + addr}
	if got := rec.log(); !slices.Equal(got, want) {
		t.Errorf("hook events = %q, want %q", got, want)
	}
	if !slices.Equal(during, []string{"slow: 200 OK"}) {
		t.Errorf("during the drain: %q, want the slow request done and the process untouched", during)
	}
	if log := readLog(t, g, "web-r1-0"); !strings.Contains(log, "SIGTERM received") || !strings.Contains(log, "exited: Terminated (exit status 0)") {
		t.Errorf("replica log lacks the SIGTERM and its clean exit:\n%s", log)
	}
}

func TestSIGTERMIgnoredIsKilledAfterGrace(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	const grace = 500 * time.Millisecond
	g := newGroup(t, rec, withArgs("-ignore-sigterm", "-child"), func(c *GroupConfig) { c.TerminationGrace = grace })
	g.Scale(1)
	rec.waitFor(t, "ready", func() bool { return len(rec.addrs()) == 1 })
	e := env(t, rec.addrs()[0])

	start := time.Now()
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < grace {
		t.Errorf("stopped after %v, before the grace period %v", took, grace)
	}
	log := readLog(t, g, "web-r1-0")
	if !strings.Contains(log, "SIGTERM ignored") || !strings.Contains(log, "exited: Terminated (signal: killed)") {
		t.Errorf("replica log lacks the ignored SIGTERM and the SIGKILL:\n%s", log)
	}
	rec.waitFor(t, "child killed with its group", func() bool { return !alive(e.ChildPID) })
	if syscall.Kill(e.PID, 0) != syscall.ESRCH {
		t.Errorf("process %d still exists", e.PID)
	}
}

func TestStopCutShortByContextKills(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	g := newGroup(t, rec, withArgs("-ignore-sigterm"))
	g.Scale(2)
	rec.waitFor(t, "ready", func() bool { return len(rec.addrs()) == 2 })
	pids := []int{g.Status().Items[0].PID, g.Status().Items[1].PID}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := g.Stop(ctx); err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("Stop with a short context = %v, want the deadline error", err)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) != syscall.ESRCH {
			t.Errorf("process %d survived Stop", pid)
		}
	}
}

func TestStopIsIdempotentIgnoresScaleAndLeaksNothing(t *testing.T) {
	rec := newRecorder()
	before := runtime.NumGoroutine()
	g := newGroup(t, rec, func(c *GroupConfig) {
		c.Template.StartupProbe = &v1alpha1.Probe{TCPSocket: &v1alpha1.TCPSocketAction{}, TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 5}
		c.Template.LivenessProbe = &v1alpha1.Probe{Exec: &v1alpha1.ExecAction{Command: []string{"true"}}, TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
	})
	g.Scale(2)
	rec.waitFor(t, "ready", func() bool { return g.Status().Ready == 2 })
	for range 2 {
		if err := g.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	g.Scale(3)
	if st := g.Status(); st.Replicas != 0 || len(st.Items) != 0 {
		t.Fatalf("Scale after Stop started replicas: %+v", st)
	}
	if got := rec.addrs(); len(got) != 0 {
		t.Errorf("endpoints after Stop = %v, want none", got)
	}
	rec.waitFor(t, "goroutines back to the start", func() bool { return runtime.NumGoroutine() <= before })
}

func TestDetachLeavesProcessesForReapOrphans(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	state := t.TempDir()
	g := newGroup(t, rec, func(c *GroupConfig) { c.StateDir = state })
	g.Scale(1)
	rec.waitFor(t, "ready", func() bool { return len(rec.addrs()) == 1 })
	addr := rec.addrs()[0]
	pid := g.Status().Items[0].PID
	if _, err := os.Stat(pidPath(state, "web-r1-0")); err != nil {
		t.Fatalf("pid file: %v", err)
	}

	g.Detach()
	g.Scale(2)
	if st := g.Status(); len(st.Items) != 0 {
		t.Fatalf("after Detach: %+v, want nothing supervised", st)
	}
	get(t, "http://"+addr+"/healthz") // still serving

	if err := ReapOrphans(state); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "process gone", func() bool { return syscall.Kill(pid, 0) == syscall.ESRCH })
	if _, err := os.Stat(pidPath(state, "web-r1-0")); !os.IsNotExist(err) {
		t.Errorf("pid file still there: %v", err)
	}
}

// BenchmarkScaleToReady measures a replica's way from Scale(1) to its
// address in the endpoints (process start, first readiness probes), and
// its graceful stop.
func BenchmarkScaleToReady(b *testing.B) {
	rec := newRecorder()
	g := NewGroup(GroupConfig{
		Rollout: "web", Revision: "r1",
		Template:         v1alpha1.ProcessTemplate{Command: []string{appBin}, ReadinessProbe: httpProbe("/ready", 1)},
		Dir:              b.TempDir(),
		TerminationGrace: 10 * time.Second,
		Hooks:            rec.hooks(),
	})
	defer g.Stop(context.Background())
	var ready, stop time.Duration
	for b.Loop() {
		start := time.Now()
		g.Scale(1)
		for len(rec.addrs()) == 0 {
			<-rec.notify
		}
		ready += time.Since(start)
		start = time.Now()
		g.Scale(0)
		for len(g.Status().Items) != 0 {
			<-rec.notify
		}
		stop += time.Since(start)
	}
	b.ReportMetric(float64(ready.Microseconds())/float64(b.N)/1000, "ms-to-ready")
	b.ReportMetric(float64(stop.Microseconds())/float64(b.N)/1000, "ms-to-stop")
}
