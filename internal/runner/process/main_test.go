package process

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// appBin is testdata/app, built once for every test.
var appBin string

func TestMain(m *testing.M) {
	if os.Getenv(crashDaemonEnv) != "" {
		runCrashDaemon()
		return
	}
	dir, err := os.MkdirTemp("", "process-test-app")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	appBin = filepath.Join(dir, "app")
	out, err := exec.Command("go", "build", "-o", appBin, "./testdata/app").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build test app: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// await bounds every wait of a test for an event.
const await = 20 * time.Second

// recorder records what a group tells its hooks, in order.
type recorder struct {
	mu        sync.Mutex
	events    []string
	endpoints []string
	changed   int
	notify    chan struct{}
	drain     func(ctx context.Context, addr string) error
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) record(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) hooks() Hooks {
	return Hooks{
		Changed: func() { r.record(func() { r.changed++ }) },
		Endpoints: func(rev string, addrs []string) {
			r.record(func() {
				r.endpoints = addrs
				r.events = append(r.events, "endpoints "+rev+" ["+strings.Join(addrs, " ")+"]")
			})
		},
		Drain: func(ctx context.Context, addr string) error {
			r.record(func() { r.events = append(r.events, "drain "+addr) })
			var err error
			if r.drain != nil {
				err = r.drain(ctx, addr)
			}
			r.record(func() { r.events = append(r.events, "drained "+addr) })
			return err
		},
	}
}

func (r *recorder) addrs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.endpoints)
}

func (r *recorder) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waitFor waits until cond holds, re-checking on every hook call (and every
// 50ms, for conditions no hook announces, like a process gone).
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(await)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-r.notify:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s; hook events: %q", await, what, r.log())
		}
	}
}

// newGroup builds a group of the test app with a readiness probe on /ready,
// changed by opts, and stops it when the test ends.
func newGroup(t *testing.T, rec *recorder, opts ...func(*GroupConfig)) *Group {
	t.Helper()
	cfg := GroupConfig{
		Rollout:  "web",
		Revision: "r1",
		Template: v1alpha1.ProcessTemplate{
			Command:        []string{appBin},
			ReadinessProbe: httpProbe("/ready", 1),
		},
		Dir:              t.TempDir(),
		TerminationGrace: 10 * time.Second,
		LogDir:           t.TempDir(),
		BackoffBase:      50 * time.Millisecond,
		BackoffMax:       time.Second,
		Hooks:            rec.hooks(),
		Logger:           slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	g := NewGroup(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := g.Stop(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return g
}

func withArgs(args ...string) func(*GroupConfig) {
	return func(c *GroupConfig) { c.Template.Command = append([]string{appBin}, args...) }
}

// httpProbe is a defaulted probe on path with the given failureThreshold
// and a 1s period.
func httpProbe(path string, failures int32) *v1alpha1.Probe {
	return &v1alpha1.Probe{
		HTTPGet:        &v1alpha1.HTTPGetAction{Path: path},
		TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: failures,
	}
}

// client talks to replicas without keeping connections (and goroutines).
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

func post(t *testing.T, url string) {
	t.Helper()
	resp, err := client.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

// appEnv is what the app's /env reports.
type appEnv struct {
	Port           string `json:"PORT"`
	Rollout        string `json:"FLEDGE_ROLLOUT"`
	Revision       string `json:"FLEDGE_REVISION"`
	Replica        string `json:"FLEDGE_REPLICA"`
	Greeting       string `json:"GREETING"`
	PID            int    `json:"pid"`
	ChildPID       int    `json:"childPID"`
	ReadyHitsEarly int64  `json:"readyHitsEarly"`
}

func env(t *testing.T, addr string) appEnv {
	t.Helper()
	var e appEnv
	if err := json.Unmarshal([]byte(get(t, "http://"+addr+"/env")), &e); err != nil {
		t.Fatalf("decode /env: %v", err)
	}
	return e
}

// replicaStatus returns the status of the replica named name.
func replicaStatus(g *Group, name string) (ReplicaStatus, bool) {
	for _, r := range g.Status().Items {
		if r.Name == name {
			return r, true
		}
	}
	return ReplicaStatus{}, false
}

func names(st GroupStatus) []string {
	var ns []string
	for _, r := range st.Items {
		ns = append(ns, r.Name)
	}
	return ns
}

func readLog(t *testing.T, g *Group, replica string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(g.cfg.LogDir, replica+".log"))
	if err != nil {
		t.Fatalf("replica log: %v", err)
	}
	return string(b)
}
