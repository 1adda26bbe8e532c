package dashboard_test

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/dashboard"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/runner"
	"fledge.dev/fledge/internal/runner/store"
	"fledge.dev/fledge/internal/server"
)

// chromium finds the browser. Without one the browser tests fail, as CI
// must install it (Debian: apt-get install chromium), unless
// FLEDGE_SKIP_BROWSER=1 says to skip them.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("FLEDGE_SKIP_BROWSER") == "1" {
		t.Skip("FLEDGE_SKIP_BROWSER=1")
	}
	if p := os.Getenv("FLEDGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install it (Debian: apt-get install chromium), point FLEDGE_CHROMIUM at it, or set FLEDGE_SKIP_BROWSER=1 to skip the browser tests")
	return ""
}

// daemon is a real local daemon (runner, store, proxy, replicas of the
// sample app) behind the real API server, with the dashboard mounted.
type daemon struct {
	t     *testing.T
	d     *runner.Daemon
	api   *server.Server
	token string
	exe   string
}

func startDaemon(t *testing.T) *daemon {
	t.Helper()
	dir := t.TempDir()
	exe := filepath.Join(dir, "fledge")
	if out, err := exec.Command("go", "build", "-o", exe, "fledge.dev/fledge/cmd/fledge").CombinedOutput(); err != nil {
		t.Fatalf("build fledge: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	token, err := server.EnsureToken(state)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(state, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := metrics.New()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	d, err := runner.NewDaemon(runner.Config{StateDir: state, Store: st, Metrics: reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	notFound := func(err error) bool { return errors.Is(err, runner.ErrNotFound) }
	dash := dashboard.New(dashboard.Config{Token: token, Control: d, Metrics: reg, NotFound: notFound})
	api := server.New(server.Config{Addr: "127.0.0.1:0", Token: token, Control: d, Metrics: reg, NotFound: notFound, Dashboard: dash})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, start := range []func(context.Context) error{d.Start, dash.Start, api.Start} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := start(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("daemon part stopped: %v", err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	<-api.Ready()
	return &daemon{t: t, d: d, api: api, token: token, exe: exe}
}

func (e *daemon) url(path string) string { return "http://" + e.api.Addr() + path }

func (e *daemon) apply(ro *v1alpha1.Rollout) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.d.Apply(ctx, []*v1alpha1.Rollout{ro}, ""); err != nil {
		e.t.Fatalf("apply %s: %v", ro.Name, err)
	}
}

// await polls the rollout until ok holds, or fails after a deadline.
func (e *daemon) await(what string, ok func(*v1alpha1.Rollout) bool) *v1alpha1.Rollout {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var ro *v1alpha1.Rollout
	for time.Now().Before(deadline) {
		var err error
		if ro, err = e.d.Get(context.Background(), "web"); err == nil && ok(ro) {
			return ro
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("%s: not reached within 90s; last status %+v", what, ro.Status)
	return nil
}

// spec is a canary of the sample app that waits for a human at 20% and
// at 60%, judged in the background on its success rate.
func spec(exe, version, listen string) *v1alpha1.Rollout {
	i32 := func(v int32) *int32 { return &v }
	grace := int64(2)
	ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{
		Replicas: i32(1),
		Template: &v1alpha1.ProcessTemplate{
			Command:        []string{exe, "sample-app", "--version", version, "--latency", "GET /=2ms"},
			ReadinessProbe: &v1alpha1.Probe{HTTPGet: &v1alpha1.HTTPGetAction{Path: "/healthz"}, PeriodSeconds: 1, FailureThreshold: 2},
		},
		TerminationGracePeriodSeconds: &grace,
		Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			TrafficRouting: &v1alpha1.TrafficRouting{Proxy: &v1alpha1.ProxyRouting{Listen: listen}},
			Steps: []v1alpha1.CanaryStep{
				{SetWeight: i32(20)}, {Pause: &v1alpha1.RolloutPause{}},
				{SetWeight: i32(60)}, {Pause: &v1alpha1.RolloutPause{}},
				{SetWeight: i32(100)},
			},
			Analysis: &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{
				Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "success-rate"}},
			}},
		}},
		AnalysisTemplates: []v1alpha1.NamedAnalysisTemplate{{
			Name: "success-rate",
			AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{
				Name:              "success-rate",
				Interval:          &v1alpha1.Duration{Duration: time.Second},
				SuccessCondition:  "result >= 0.5",
				InconclusiveLimit: i32(1000), // a quiet second must not pause the test
				Provider:          v1alpha1.MetricProvider{Builtin: &v1alpha1.BuiltinMetric{SuccessRate: &struct{}{}}},
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

// load sends rps requests a second to url until the test ends, as users
// would, so that the charts and the analysis have traffic.
func load(t *testing.T, url string, rps int) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}}
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / time.Duration(rps))
		defer tick.Stop()
		sem := make(chan struct{}, 8)
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case sem <- struct{}{}:
			default:
				continue // all busy: skip rather than queue
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
		}
	}()
}

// inkShare is the share of pixels that differ from the most common colour
// (the background): near 0 for a blank page.
func inkShare(img image.Image) float64 {
	counts := map[[3]uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[[3]uint32{r >> 8, g >> 8, bl >> 8}]++
		}
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	total := b.Dx() * b.Dy()
	if total == 0 {
		return 0
	}
	return 1 - float64(most)/float64(total)
}
