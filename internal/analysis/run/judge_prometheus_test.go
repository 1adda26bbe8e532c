package run

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/provider/prometheus/promtest"
	"fledge.dev/fledge/internal/rollout"
)

// The judge reading Prometheus, as on Kubernetes: a real Prometheus scrapes
// a real exporter of per-Service request counters and latency histograms
// (what an ingress controller or a mesh exposes), fed by a load of two
// rollouts, "good" and "bad", each with a stable and a canary Service. The
// managers have no embedded proxy's counters (provider.Deps is empty, as in
// the controller).

// serviceLoad is the traffic of one version: requests per tick, one in
// failEvery failing (none when 0), each taking latency seconds.
type serviceLoad struct {
	service   string
	perTick   int
	failEvery int
	latency   float64
}

// nginxBounds are ingress-nginx's default histogram bounds, in seconds.
var nginxBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// loadExporter feeds e with the loads every 5ms until the test ends.
func loadExporter(t *testing.T, e *promtest.Exporter, loads ...serviceLoad) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		served := map[string]int{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, l := range loads {
				for range l.perTick {
					served[l.service]++
					code := "200"
					if l.failEvery > 0 && served[l.service]%l.failEvery == 0 {
						code = "500"
					}
					e.Add(fmt.Sprintf(`http_requests_total{service=%q,code=%q}`, l.service, code), 1)
					e.Observe("http_request_duration_seconds", fmt.Sprintf(`service=%q`, l.service), nginxBounds, l.latency)
				}
			}
		}
	}()
}

// prometheusJudge is a template whose judge reads the exporter's series
// from prom, every 500ms.
func prometheusJudge(prom *promtest.Server, minRequests int64) v1alpha1.NamedAnalysisTemplate {
	tmpl := v1alpha1.NamedAnalysisTemplate{Name: "judge", AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{
		Judge: &v1alpha1.Judge{
			Interval:    &v1alpha1.Duration{Duration: 500 * time.Millisecond},
			MinRequests: &minRequests,
			Latency:     &v1alpha1.JudgeLatency{Threshold: &v1alpha1.Duration{Duration: 250 * time.Millisecond}},
			Prometheus: &v1alpha1.JudgePrometheus{
				Address:  prom.URL,
				Requests: `http_requests_total{service="{{service}}"}`,
				Failures: `http_requests_total{service="{{service}}", code=~"5.."}`,
				Latency:  `http_request_duration_seconds_bucket{service="{{service}}"}`,
			},
		},
	}}
	tmpl.Default()
	return tmpl
}

// prometheusManager runs the analysis of one rollout with tmpl, without
// the embedded proxy's counters.
func prometheusManager(t *testing.T, rolloutName string, tmpl v1alpha1.NamedAnalysisTemplate) *Manager {
	m := NewManager(Config{
		Rollout:   rolloutName,
		Templates: func() []v1alpha1.NamedAnalysisTemplate { return []v1alpha1.NamedAnalysisTemplate{tmpl} },
		Deps:      provider.Deps{},
		Store:     newStore(),
		Logger:    slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})
	return m
}

// judgeOf is the judge's result in a run of m.
func judgeOf(m *Manager, run string) (v1alpha1.MetricResult, bool) {
	for _, r := range m.Runs() {
		if r.Name == run {
			for _, res := range r.Status.MetricResults {
				if res.Judge != nil {
					return res, true
				}
			}
		}
	}
	return v1alpha1.MetricResult{}, false
}

// waitRun polls a run until ok says so, at most a minute (Prometheus
// hands a new target to its scrapers within 5s, then scrapes every 1s).
func waitRun(t *testing.T, m *Manager, run string, what string, ok func(rollout.RunObservation, v1alpha1.MetricResult) bool) (rollout.RunObservation, v1alpha1.MetricResult) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		obs := m.Observations()[run]
		res, _ := judgeOf(m, run)
		if ok(obs, res) {
			return obs, res
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: not %s after a minute: %s %s, judge %+v", run, what, obs.Phase, obs.Message, res.Judge)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPrometheusJudgeFailsABadCanaryAndPassesAGoodOne checks the judge on
// Prometheus end to end: the bad canary (one request in five failing,
// against stable's one in 500) is failed on its errors in a background run,
// while the good canary (as good as its stable) passes its step analysis,
// across a reset of its counters (a canary pod restarted).
func TestPrometheusJudgeFailsABadCanaryAndPassesAGoodOne(t *testing.T) {
	promtest.Binary(t)
	e := promtest.NewExporter(t)
	loadExporter(t, e,
		serviceLoad{service: "good-stable", perTick: 4, latency: 0.008},
		serviceLoad{service: "good-canary", perTick: 1, latency: 0.008},
		serviceLoad{service: "bad-stable", perTick: 4, failEvery: 500, latency: 0.008},
		serviceLoad{service: "bad-canary", perTick: 1, failEvery: 5, latency: 0.008},
	)
	prom := promtest.Start(t, e.Addr)
	prom.WaitFor(t, `http_requests_total{service=~"(good|bad)-(stable|canary)"}`, 4)

	runEnv := Env{CanaryRevision: "2", StableRevision: "1"}
	bad := prometheusManager(t, "bad", prometheusJudge(prom, 100))
	good := prometheusManager(t, "good", prometheusJudge(prom, 1000))
	bad.Ensure([]rollout.RunSpec{{Name: "bad-r2-background-1", Revision: "2",
		Analysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "judge"}}}}}, runEnv)
	good.Ensure([]rollout.RunSpec{{Name: "good-r2-step-1", Revision: "2", Blocking: true,
		Analysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "judge"}}}}}, runEnv)

	// The good canary's pod restarts once the judge has seen some of it.
	waitRun(t, good, "good-r2-step-1", "judging traffic", func(_ rollout.RunObservation, r v1alpha1.MetricResult) bool {
		return r.Judge != nil && r.Judge.CanaryRequests >= 200
	})
	e.Reset(`service="good-canary"`)

	obs, r := waitRun(t, bad, "bad-r2-background-1", "decided", func(o rollout.RunObservation, _ v1alpha1.MetricResult) bool { return o.Phase.Completed() })
	if obs.Phase != v1alpha1.AnalysisFailed || r.Judge == nil || r.Judge.Verdict != v1alpha1.JudgeFail || r.Judge.Reason != "Errors" ||
		!strings.Contains(obs.Message, "errors") {
		t.Errorf("bad canary: %s %q, judge %+v; want Failed on errors", obs.Phase, obs.Message, r.Judge)
	}
	t.Logf("bad canary: %s", obs.Message)
	if j := r.Judge; j != nil && (j.Errors.CanaryEvents == 0 || j.CanaryRequests == 0 || j.StableRequests < 2*j.CanaryRequests) {
		t.Errorf("bad canary's evidence: %d of %d canary requests failed, %d stable requests", j.Errors.CanaryEvents, j.CanaryRequests, j.StableRequests)
	}

	obs, r = waitRun(t, good, "good-r2-step-1", "decided", func(o rollout.RunObservation, _ v1alpha1.MetricResult) bool { return o.Phase.Completed() })
	if obs.Phase != v1alpha1.AnalysisSuccessful || r.Judge == nil || r.Judge.Verdict != v1alpha1.JudgePass || obs.HoldWeight {
		t.Fatalf("good canary: %s %q, judge %+v; want Successful on a pass", obs.Phase, obs.Message, r.Judge)
	}
	j := r.Judge
	t.Logf("good canary: %s (%d canary, %d stable requests in %d windows)", obs.Message, j.CanaryRequests, j.StableRequests, j.Windows)
	if j.CanaryRequests < 1000 || j.Errors.CanaryEvents != 0 || j.Latency == nil || j.Latency.Slow.CanaryEvents != 0 || r.Error != 0 {
		t.Errorf("good canary passed on %d canary requests (%d failed, latency %+v) with %d errors reading Prometheus; want ≥ 1000, none failed nor slow, no error",
			j.CanaryRequests, j.Errors.CanaryEvents, j.Latency, r.Error)
	}
	// Four stable requests for one canary: the reset lost none of the
	// canary's traffic and counted none twice (within a few scrapes).
	if ratio := float64(j.StableRequests) / float64(j.CanaryRequests); ratio < 3.5 || ratio > 4.5 {
		t.Errorf("good canary: %d stable requests for %d canary ones, want about 4 to 1", j.StableRequests, j.CanaryRequests)
	}
}
