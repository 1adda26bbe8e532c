// Package demo shows Fledge's loop end to end on this machine: v1 becomes
// stable, v2 (ready, but failing 20% of its logins) is caught by analysis
// and rolled back on its own, and v3 (good) is promoted to 100%, all under
// steady user traffic through the embedded proxy.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner"
	"fledge.dev/fledge/internal/runner/store"
)

// Options configure a demo run.
type Options struct {
	// Fast shortens pauses and measurement intervals (under a minute in all).
	Fast bool
	// Exe is the fledge binary whose sample-app the replicas run; default: this one.
	Exe string
	// Progress receives live progress lines; nil: none.
	Progress io.Writer
	// Logger receives the daemon's logs; nil: discarded.
	Logger *slog.Logger
}

// Report is what the demo measured, one entry per release.
type Report struct {
	Releases []Release `json:"releases"`
}

// Release is the outcome of one release.
type Release struct {
	Version  string `json:"version"`
	Revision string `json:"revision"`
	// Outcome is "promoted" or "aborted".
	Outcome string `json:"outcome"`
	// CanaryRequests and CanaryErrors are the requests the canary served and
	// failed, as the proxy counted them (failovers to stable included).
	CanaryRequests uint64 `json:"canaryRequests"`
	CanaryErrors   uint64 `json:"canaryErrors"`
	// UserRequests and UserVisibleErrors are what the users' side of the load saw.
	UserRequests      uint64 `json:"userRequests"`
	UserVisibleErrors uint64 `json:"userVisibleErrors"`
	// DecisionSeconds is the time from the apply to promotion or rollback.
	DecisionSeconds float64 `json:"decisionSeconds"`
	Message         string  `json:"message"`
}

// Run plays the demo and returns what it measured.
func Run(ctx context.Context, opts Options) (*Report, error) {
	t := normal
	if opts.Fast {
		t = fast
	}
	exe := opts.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("demo: find the fledge binary: %w", err)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}

	dir, err := os.MkdirTemp("", "fledge-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	reg := metrics.New()
	d, err := runner.NewDaemon(runner.Config{StateDir: dir, Store: st, Metrics: reg, Logger: log})
	if err != nil {
		return nil, err
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Start(dctx) }()
	defer func() { stop(); <-done }()

	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &player{d: d, reg: reg, exe: exe, listen: listen, t: t, out: progress, start: time.Now()}
	fmt.Fprintf(progress, "fledge demo: service on http://%s, %d requests/s of users (half GET /, half POST /login)\n", listen, t.rps)
	if err := p.first(ctx); err != nil {
		return nil, err
	}
	users := newLoad("http://"+listen, t.rps)
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { users.run(lctx); close(loadDone) }()
	defer func() { stopLoad(); <-loadDone }()

	report := &Report{}
	for _, r := range releases {
		rel, err := p.release(ctx, r, users)
		if err != nil {
			return report, err
		}
		report.Releases = append(report.Releases, *rel)
	}
	return report, nil
}

// player drives the releases and prints their progress.
type player struct {
	d      *runner.Daemon
	reg    *metrics.Registry
	exe    string
	listen string
	t      timing
	out    io.Writer
	start  time.Time
	last   string // the last progress line, printed once however often polled
}

// first applies v1, stable at once, and waits until it serves.
func (p *player) first(ctx context.Context) error {
	fmt.Fprintf(p.out, "[%5.1fs] v1: first version, stable at once\n", p.since())
	if err := p.d.Apply(ctx, []*v1alpha1.Rollout{spec(p.exe, "v1", "", p.listen, p.t)}, ""); err != nil {
		return fmt.Errorf("demo: apply v1: %w", err)
	}
	_, err := p.await(ctx, "v1", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.PhaseHealthy })
	return err
}

// release rolls out one version and reports its outcome.
func (p *player) release(ctx context.Context, r release, users *load) (*Release, error) {
	ro := spec(p.exe, r.version, r.errorRate, p.listen, p.t)
	flaw := "good"
	if r.errorRate != "" {
		flaw = "ready, but " + r.errorRate + " fails"
	}
	fmt.Fprintf(p.out, "[%5.1fs] %s: applying (%s)\n", p.since(), r.version, flaw)
	reqs0, errs0 := users.requests.Load(), users.errors.Load()
	began := time.Now()
	if err := p.d.Apply(ctx, []*v1alpha1.Rollout{ro}, ""); err != nil {
		return nil, fmt.Errorf("demo: apply %s: %w", r.version, err)
	}
	applied, err := p.d.Get(ctx, ro.Name)
	if err != nil {
		return nil, err
	}
	rev := applied.Annotations[runner.AnnotationRevision]
	final, err := p.await(ctx, r.version, func(ro *v1alpha1.Rollout) bool {
		// Until the daemon decided on the new spec, the status may still
		// tell the previous release's abort: only this revision's counts.
		return ro.Status.Abort && ro.Status.CanaryRevision == rev || ro.Status.StableRevision == rev && ro.Status.CanaryRevision == ""
	})
	if err != nil {
		return nil, err
	}
	rel := &Release{Version: r.version, Revision: rev, DecisionSeconds: time.Since(began).Seconds(), Message: final.Status.Message}
	rel.Outcome = "promoted"
	if final.Status.Abort {
		rel.Outcome = "aborted"
		// Users are still routed to stable while the canary drains: wait for it.
		if _, err := p.await(ctx, r.version, func(ro *v1alpha1.Rollout) bool { return ro.Status.CanaryWeight == 0 }); err != nil {
			return nil, err
		}
	}
	for k, c := range p.reg.Snapshot(func(k metrics.Key) bool { return k.Rollout == ro.Name && k.Revision == rev }) {
		_ = k
		rel.CanaryRequests += c.Requests
		rel.CanaryErrors += c.Errors
	}
	rel.UserRequests = users.requests.Load() - reqs0
	rel.UserVisibleErrors = users.errors.Load() - errs0
	fmt.Fprintf(p.out, "[%5.1fs] %s: %s after %.1fs — %s\n", p.since(), r.version, rel.Outcome, rel.DecisionSeconds, rel.Message)
	return rel, nil
}

// await polls the rollout, printing each change, until done holds; it
// plays the operator when the rollout waits for `fledge promote`.
func (p *player) await(ctx context.Context, version string, done func(*v1alpha1.Rollout) bool) (*v1alpha1.Rollout, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		ro, err := p.d.Get(ctx, "web")
		if err != nil && !errors.Is(err, runner.ErrNotFound) {
			return nil, err
		}
		if ro != nil {
			s := ro.Status
			line := fmt.Sprintf("%-11s step %d/%d  weight %3d%%  %s", s.Phase, s.CurrentStepIndex, len(ro.Spec.Strategy.Canary.Steps), s.CanaryWeight, s.Message)
			if line != p.last {
				fmt.Fprintf(p.out, "[%5.1fs] %s: %s\n", p.since(), version, line)
				p.last = line
			}
			if done(ro) {
				return ro, nil
			}
			if hasPause(s, v1alpha1.PauseCanaryStep) && s.StepAnalysisRun == nil && isIndefinitePause(ro) {
				fmt.Fprintf(p.out, "[%5.1fs] %s: operator: fledge promote web\n", p.since(), version)
				if err := p.d.Command(ctx, "web", rollout.CommandPromote); err != nil {
					return nil, err
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("demo: %s did not finish within 5 minutes", version)
}

func (p *player) since() float64 { return time.Since(p.start).Seconds() }

func hasPause(s v1alpha1.RolloutStatus, r v1alpha1.PauseReason) bool {
	for _, c := range s.PauseConditions {
		if c.Reason == r {
			return true
		}
	}
	return false
}

func isIndefinitePause(ro *v1alpha1.Rollout) bool {
	steps := ro.Spec.Strategy.Canary.Steps
	i := int(ro.Status.CurrentStepIndex)
	return i < len(steps) && steps[i].Pause != nil && steps[i].Pause.Duration == nil
}

// freeAddr picks a free loopback port for the demo's service.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
