package gate_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/runner"
	"fledge.dev/fledge/internal/runner/store"
)

// replicaEnv makes this test binary a replica: an HTTP server on $PORT,
// stopped by SIGTERM. The daemon test runs it as the rollout's program.
const replicaEnv = "FLEDGE_GATE_TEST_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) == "1" {
		ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func startDaemon(t *testing.T) *runner.Daemon {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := runner.NewDaemon(runner.Config{StateDir: dir, Store: st, Metrics: metrics.New(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return d
}

func spec(version, listen string, hooks []v1alpha1.Webhook) *v1alpha1.Rollout {
	i32 := func(v int32) *int32 { return &v }
	grace := int64(2)
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
			Steps:          []v1alpha1.CanaryStep{{SetWeight: i32(10)}, {SetWeight: i32(50)}},
			Webhooks:       hooks,
		}},
	}}
	ro.APIVersion, ro.Kind, ro.Name = v1alpha1.APIVersion, v1alpha1.KindRollout, "web"
	return ro
}

// A real daemon holds a rollout's first weight while its
// confirm-traffic-increase receiver answers 403, and releases it once the
// receiver answers 200; a rollback receiver that never answers holds
// nothing up.
func TestDaemonHoldsOnGate(t *testing.T) {
	var code, calls atomic.Int32
	code.Store(http.StatusForbidden)
	confirm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(int(code.Load()))
	}))
	defer confirm.Close()
	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(release) // before Close, which waits for the handlers
	hooks := []v1alpha1.Webhook{
		{Name: "confirm", Type: v1alpha1.WebhookConfirmTrafficIncrease, URL: confirm.URL},
		{Name: "silent", Type: v1alpha1.WebhookRollback, URL: silent.URL, Timeout: &v1alpha1.Duration{Duration: time.Minute}},
	}
	d := startDaemon(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	apply := func(ro *v1alpha1.Rollout) {
		if err := d.Apply(context.Background(), []*v1alpha1.Rollout{ro}, ""); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	await := func(what string, ok func(v1alpha1.RolloutStatus) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		var st v1alpha1.RolloutStatus
		for time.Now().Before(deadline) {
			if ro, err := d.Get(context.Background(), "web"); err == nil {
				if st = ro.Status; ok(st) {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: not reached within 60s; last status %+v", what, st)
	}

	apply(spec("v1", listen, hooks))
	await("v1 stable", func(s v1alpha1.RolloutStatus) bool {
		return s.Phase == v1alpha1.PhaseHealthy && s.StableRevision == "1"
	})
	apply(spec("v2", listen, hooks))
	await("held by the 403, polled again and again", func(s v1alpha1.RolloutStatus) bool {
		if s.CanaryWeight != 0 {
			t.Fatalf("weight rose to %d%% while the gate answered 403", s.CanaryWeight)
		}
		return strings.Contains(s.Message, "weight increase to 10% held by webhook gate confirm-traffic-increase: webhook confirm answered 403") &&
			calls.Load() >= 6
	})
	code.Store(http.StatusOK)
	await("v2 promoted once the gate opens", func(s v1alpha1.RolloutStatus) bool {
		return s.Phase == v1alpha1.PhaseHealthy && s.StableRevision == "2"
	})
}
