package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner"
	"fledge.dev/fledge/internal/runner/store"
)

// replicaEnv makes this test binary a replica: a small HTTP server on
// $PORT, stopped by SIGTERM. The daemon tests run it as their program.
const replicaEnv = "FLEDGE_NOTIFY_TEST_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) == "1" {
		serveReplica()
		return
	}
	os.Exit(m.Run())
}

func serveReplica() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, os.Getenv("VERSION"))
	})}
	go srv.Serve(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	srv.Close()
	os.Exit(0)
}

// daemon is a real local daemon whose replicas are this test binary.
type daemon struct {
	t    *testing.T
	d    *runner.Daemon
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startDaemon(t *testing.T, observers ...runner.Observer) *daemon {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"logs", "pids"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := runner.NewDaemon(runner.Config{StateDir: dir, Store: st, Metrics: metrics.New(), Logger: log, Observers: observers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Start(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
		if t.Failed() {
			t.Logf("daemon logs:\n%s", logs.String())
		}
	})
	return &daemon{t: t, d: d, logs: logs}
}

func (e *daemon) apply(ro *v1alpha1.Rollout) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.d.Apply(ctx, []*v1alpha1.Rollout{ro}, ""); err != nil {
		e.t.Fatalf("apply: %v", err)
	}
}

// await polls the rollout until ok holds, or fails after a deadline.
func (e *daemon) await(what string, ok func(v1alpha1.RolloutStatus) bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var st v1alpha1.RolloutStatus
	for time.Now().Before(deadline) {
		if ro, err := e.d.Get(context.Background(), "web"); err == nil {
			if st = ro.Status; ok(st) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("%s: not reached within 60s; last status %+v", what, st)
}

// releaseSpec is a canary of version: weight 50, an analysis that fails
// for revision 3 only, a pause for a human, then all the traffic.
func releaseSpec(version, listen string) *v1alpha1.Rollout {
	i32 := func(v int32) *int32 { return &v }
	grace := int64(2)
	smoke := v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "smoke"}}}
	ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{
		Replicas: i32(1),
		Template: &v1alpha1.ProcessTemplate{
			Command:        []string{os.Args[0], "-test.run=^$"},
			Env:            []v1alpha1.EnvVar{{Name: replicaEnv, Value: "1"}, {Name: "VERSION", Value: version}},
			ReadinessProbe: &v1alpha1.Probe{HTTPGet: &v1alpha1.HTTPGetAction{Path: "/"}, PeriodSeconds: 1, FailureThreshold: 2},
		},
		TerminationGracePeriodSeconds: &grace,
		Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			TrafficRouting: &v1alpha1.TrafficRouting{Proxy: &v1alpha1.ProxyRouting{Listen: listen}},
			Steps: []v1alpha1.CanaryStep{
				{SetWeight: i32(50)}, {Analysis: &smoke}, {Pause: &v1alpha1.RolloutPause{}}, {SetWeight: i32(100)},
			},
		}},
		AnalysisTemplates: []v1alpha1.NamedAnalysisTemplate{{
			Name: "smoke",
			AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{
				Name:     "smoke",
				Count:    i32(1),
				Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Command: []string{"sh", "-c", `test "$FLEDGE_CANARY_REVISION" != 3`}}},
			}}},
		}},
	}}
	ro.APIVersion, ro.Kind, ro.Name = v1alpha1.APIVersion, v1alpha1.KindRollout, "web"
	return ro
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A real daemon tells a receiver each step of two releases, one promoted
// and one aborted by its analysis, while another receiver that never
// answers holds nothing up.
func TestDaemonNotifiesReleases(t *testing.T) {
	all := newReceiver(t)
	stuck := newReceiver(t)
	release := stuck.stuck()
	defer release()
	n := start(t, Config{Sinks: []Sink{{Kind: Webhook, URL: stuck.URL}, {Kind: Webhook, URL: all.URL + "/all"}}})
	e := startDaemon(t, runner.ObserverFunc(func(p runner.Pass) {
		n.Notify(Change{Rollout: p.Rollout, Previous: p.Previous, Status: p.Status, Events: p.Events, Time: time.Now()})
	}))
	listen := freeAddr(t)

	e.apply(releaseSpec("v1", listen))
	e.await("v1 stable", func(s v1alpha1.RolloutStatus) bool {
		return s.Phase == v1alpha1.PhaseHealthy && s.StableRevision == "1"
	})
	e.apply(releaseSpec("v2", listen))
	e.await("v2 paused for a human", func(s v1alpha1.RolloutStatus) bool { return s.Phase == v1alpha1.PhasePaused && s.CurrentStepIndex == 2 })
	if err := e.d.Command(context.Background(), "web", rollout.CommandPromote); err != nil {
		t.Fatal(err)
	}
	e.await("v2 promoted", func(s v1alpha1.RolloutStatus) bool {
		return s.Phase == v1alpha1.PhaseHealthy && s.StableRevision == "2"
	})
	e.apply(releaseSpec("v3", listen))
	e.await("v3 aborted", func(s v1alpha1.RolloutStatus) bool { return s.Abort && s.Phase == v1alpha1.PhaseDegraded })

	// All of that happened while the stuck receiver held its first request.
	if stuck.count() != 1 {
		t.Errorf("the stuck receiver got %d requests, want 1 (its first, still held)", stuck.count())
	}

	want := []struct {
		event          Event
		stable, canary string
		weight         int32
	}{
		{Started, "1", "2", 0},
		{Step, "1", "2", 50},
		{Paused, "1", "2", 50},
		{Promoted, "2", "", 0},
		{Started, "2", "3", 0},
		{Step, "2", "3", 50},
		{AnalysisFailed, "2", "3", 0},
		{Aborted, "2", "3", 0},
	}
	var got []Message
	var seq []string
	for i := 0; i < len(want); {
		var body []byte
		select {
		case body = <-all.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification %+v within 10s after %v", want[i], seq)
		}
		var m Message
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
		seq = append(seq, fmt.Sprintf("%s(%s, %s->%s, %d%%)", m.Event, m.Reason, m.Revision.Stable, m.Revision.Canary, m.Weight))
		if w := want[i]; m.Event == w.event && m.Revision.Stable == w.stable && m.Revision.Canary == w.canary && (w.weight == 0 || m.Weight == w.weight) {
			i++
		}
	}
	t.Logf("notifications: %v", seq)
	for _, m := range got {
		if m.Rollout != "web" || m.Time.IsZero() || m.Phase == "" {
			t.Errorf("incomplete notification %+v", m)
		}
		if m.Event == Paused && m.Reason != string(v1alpha1.PauseCanaryStep) {
			t.Errorf("paused by %q, want the pause step's reason", m.Reason)
		}
		if m.Event == Aborted && (m.Reason != "AnalysisFailed" || m.Phase != string(v1alpha1.PhaseDegraded)) {
			t.Errorf("aborted %+v, want the analysis' reason and Degraded", m)
		}
	}
}
