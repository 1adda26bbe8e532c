package job

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
)

// ID is the provider's name, the JSON name of MetricProvider.Job.
const ID = "job"

func init() { provider.Register(ID, New) }

const (
	// TimeoutStatus is the result of a command killed for outliving its
	// timeoutSeconds, as timeout(1) exits.
	TimeoutStatus = 124
	// KillGrace is how long a command has between SIGTERM and SIGKILL.
	KillGrace = 2 * time.Second
	// OutputTail is how much of the end of the output a message keeps.
	OutputTail = 1024
	// drainWait bounds the wait for the output once the group is killed: a
	// process that left the group may still hold it open.
	drainWait = time.Second
)

// Provider runs commands.
type Provider struct{}

var _ provider.Provider = (*Provider)(nil)

// New builds a provider; it needs nothing from d.
func New(provider.Deps) (provider.Provider, error) { return &Provider{}, nil }

// Measure runs the metric's command to completion and returns its exit
// status.
func (p *Provider) Measure(ctx context.Context, m v1alpha1.Metric, env provider.Env) (provider.Result, error) {
	j := m.Provider.Job
	if j == nil || len(j.Command) == 0 || j.Command[0] == "" {
		return provider.Result{}, fmt.Errorf("job provider: metric %q has no provider.job.command", m.Name)
	}
	runCtx := ctx
	if j.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, time.Duration(j.TimeoutSeconds)*time.Second)
		defer cancel()
	}
	out := &tail{max: OutputTail}
	start := time.Now()
	state, stopped, err := run(runCtx, j, environ(j, env), out)
	took := time.Since(start).Round(time.Millisecond)
	name := j.Command[0]
	switch {
	case err != nil:
		return provider.Result{}, fmt.Errorf("job %q: %w", name, err)
	case stopped && ctx.Err() != nil:
		// The measurement's own limit, or the daemon shutting down.
		return provider.Result{}, fmt.Errorf("job %q was killed after %s: the measurement ended first (%w); %s",
			name, took, ctx.Err(), out.text())
	case stopped:
		return provider.Result{Value: float64(TimeoutStatus), Message: join(
			fmt.Sprintf("timed out after %ds: killed its process group (status %d)", j.TimeoutSeconds, TimeoutStatus), out.text())}, nil
	}
	code, how := status(state)
	return provider.Result{Value: float64(code), Message: join(fmt.Sprintf("%s after %s", how, took), out.text())}, nil
}

// run starts the command in its own process group and waits for it; when
// ctx ends first the group is terminated and stopped is true. Whatever
// the command left in its group is killed once it has exited.
func run(ctx context.Context, j *v1alpha1.JobMetric, env []string, out io.Writer) (state *os.ProcessState, stopped bool, err error) {
	cmd := exec.Command(j.Command[0], j.Command[1:]...)
	cmd.Dir, cmd.Env = j.WorkingDir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A pipe of our own: Wait then returns when the command exits, not when
	// the last process holding its output does.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, false, fmt.Errorf("cannot start: %w", err)
	}
	drained := make(chan struct{})
	go func() { _, _ = io.Copy(out, r); close(drained) }()
	pgid := cmd.Process.Pid

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-ctx.Done():
		stopped = true
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(KillGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // what it left behind
	select {
	case <-drained:
	case <-time.After(drainWait):
	}
	return cmd.ProcessState, stopped, nil
}

// status is a process's exit status as a shell reports it, and in words.
func status(s *os.ProcessState) (int, string) {
	if ws, ok := s.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), fmt.Sprintf("killed by signal %s (status %d)", ws.Signal(), 128+int(ws.Signal()))
	}
	return s.ExitCode(), fmt.Sprintf("exit status %d", s.ExitCode())
}

// environ is the command's environment: the daemon's, what the rollout is
// releasing, then the metric's own (later entries win).
func environ(j *v1alpha1.JobMetric, env provider.Env) []string {
	out := append(os.Environ(),
		"FLEDGE_ROLLOUT="+env.Rollout,
		"FLEDGE_CANARY_REVISION="+env.CanaryRevision,
		"FLEDGE_STABLE_REVISION="+env.StableRevision,
	)
	for _, e := range j.Env {
		out = append(out, e.Name+"="+e.Value)
	}
	return out
}

// tail keeps the last max bytes written to it. It is locked: a process
// that left the group may still write after the output is read.
type tail struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += len(p)
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// text is the end of the output on one line (lines joined by " | "), at
// most max bytes of it, saying when its start was cut.
func (t *tail) text() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total == 0 {
		return "no output"
	}
	lines := strings.FieldsFunc(strings.ToValidUTF8(string(t.buf), ""), func(r rune) bool { return r == '\n' || r == '\r' })
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			kept = append(kept, l)
		}
	}
	s := strings.Join(kept, " | ")
	cut := t.total > len(t.buf)
	if len(s) > t.max {
		s, cut = strings.ToValidUTF8(s[len(s)-t.max:], ""), true
	}
	if cut {
		return fmt.Sprintf("output (the end of %d bytes): ...%s", t.total, s)
	}
	return "output: " + s
}

func join(a, b string) string { return a + "; " + b }
