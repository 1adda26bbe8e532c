package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/notify"
	"fledge.dev/fledge/internal/runner"
	"fledge.dev/fledge/internal/runner/store"
	"fledge.dev/fledge/internal/server"
)

// replicaEnv makes this test binary a replica: a small HTTP server on
// $PORT, stopped by SIGTERM. The daemon tests run it as their program.
const replicaEnv = "FLEDGE_SERVER_TEST_REPLICA"

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

// host is a real daemon with its API server, wired as `fledge serve`
// wires them: a Recorder and a Notifier (to a local receiver) observe it.
type host struct {
	t      *testing.T
	d      *runner.Daemon
	api    *server.Server
	listen string // the rollout's proxy
	hook   *httptest.Server
	hooked atomic.Int64 // notifications the hook received
	logs   *syncBuffer
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

func startHost(t *testing.T) *host {
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
	h := &host{t: t, logs: &syncBuffer{}, listen: freeAddr(t)}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h.hooked.Add(1)
	}))
	t.Cleanup(h.hook.Close)
	n, err := notify.New(notify.Config{Sinks: []notify.Sink{{Kind: notify.Webhook, URL: h.hook.URL + "/hook"}}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rec := server.NewRecorder()
	reg := metrics.New()
	observers := []runner.Observer{
		runner.ObserverFunc(func(p runner.Pass) { rec.Record(p.Rollout, p.Events, p.Took) }),
		runner.ObserverFunc(func(p runner.Pass) {
			n.Notify(notify.Change{Rollout: p.Rollout, Previous: p.Previous, Status: p.Status, Events: p.Events, Time: time.Now()})
		}),
	}
	h.d, err = runner.NewDaemon(runner.Config{StateDir: dir, Store: st, Metrics: reg, Logger: log, Observers: observers})
	if err != nil {
		t.Fatal(err)
	}
	h.api = server.New(server.Config{Addr: "127.0.0.1:0", Token: "t", Control: h.d, Metrics: reg, Logger: log,
		NotFound: func(err error) bool { return errors.Is(err, runner.ErrNotFound) },
		Recorder: rec, Collectors: []server.Collector{n}})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, start := range []func(context.Context) error{h.d.Start, h.api.Start, n.Start} {
		wg.Go(func() {
			if err := start(ctx); err != nil {
				t.Errorf("start: %v", err)
			}
		})
	}
	<-h.api.Ready()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		st.Close()
		if t.Failed() {
			t.Logf("daemon logs:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *host) apply(ro *v1alpha1.Rollout) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.d.Apply(ctx, []*v1alpha1.Rollout{ro}, ""); err != nil {
		h.t.Fatalf("apply: %v", err)
	}
}

// await polls the rollout until ok holds, or fails after a deadline.
func (h *host) await(what string, ok func(v1alpha1.RolloutStatus) bool) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var st v1alpha1.RolloutStatus
	for time.Now().Before(deadline) {
		if ro, err := h.d.Get(context.Background(), "web"); err == nil {
			if st = ro.Status; ok(st) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("%s: not reached within 60s; last status %+v", what, st)
}

// traffic sends n requests through the rollout's proxy.
func (h *host) traffic(n int) {
	h.t.Helper()
	for range n {
		resp, err := http.Get("http://" + h.listen + "/")
		if err != nil {
			h.t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// scrape returns the API's /metrics.
func (h *host) scrape() string {
	h.t.Helper()
	resp, err := http.Get("http://" + h.api.Addr() + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		h.t.Fatalf("/metrics: %v %v", resp.Status, err)
	}
	return string(b)
}

// releaseSpec is a canary of version: weight 50, an analysis that passes,
// a pause for a human, then all the traffic.
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
				Name: "smoke", Count: i32(1),
				Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Command: []string{"true"}}},
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
