package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider/prometheus/promtest"
)

// The canary judge on Kubernetes: the controller reads both versions'
// counters from a real Prometheus, which scrapes a loopback exporter
// playing the gateway's per-Service metrics (the pods run nowhere: kwok).

// judgeTraffic feeds e, every 5ms until the test ends, with 4 requests to
// web-stable and 1 to web-canary, one canary request in canaryFailEvery
// failing (none when 0), all taking 8ms.
func judgeTraffic(t *testing.T, e *promtest.Exporter, canaryFailEvery int) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	bounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for range 4 {
				e.Add(`http_requests_total{service="web-stable",code="200"}`, 1)
				e.Observe("http_request_duration_seconds", `service="web-stable"`, bounds, 0.008)
			}
			code := "200"
			if canaryFailEvery > 0 && n%canaryFailEvery == 0 {
				code = "500"
			}
			e.Add(fmt.Sprintf(`http_requests_total{service="web-canary",code=%q}`, code), 1)
			e.Observe("http_request_duration_seconds", `service="web-canary"`, bounds, 0.008)
		}
	}()
}

// judgeTemplate is an AnalysisTemplate whose judge reads prom.
func judgeTemplate(promURL string) string {
	return `
apiVersion: fledge.dev/v1alpha1
kind: AnalysisTemplate
metadata:
  name: judge
spec:
  args: [{name: revision}]
  judge:
    interval: 1s
    latency: {threshold: 250ms}
    prometheus:
      address: ` + promURL + `
      timeout: 2s
      requests: 'http_requests_total{service="{{service}}"}'
      failures: 'http_requests_total{service="{{service}}", code=~"5.."}'
      latency: 'http_request_duration_seconds_bucket{service="{{service}}"}'
`
}

// startJudged starts the exporter, its traffic, Prometheus and the
// controller, and a Rollout whose step analysis is the judge, then
// releases a second revision; it returns the first.
func startJudged(t *testing.T, ns string, canaryFailEvery int) string {
	t.Helper()
	e := promtest.NewExporter(t)
	judgeTraffic(t, e, canaryFailEvery)
	prom := promtest.Start(t, e.Addr)
	prom.WaitFor(t, `http_requests_total{service=~"web-(stable|canary)"}`, 2)
	startController(t)
	setupAnalysis(t, ns, "templates: [{templateName: judge}]", judgeTemplate(prom.URL), "")
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	setText(t, ns, "web", "v2")
	return first
}

// judgeResult is the judge's result in a run.
func judgeResult(r *v1alpha1.AnalysisRun) *v1alpha1.JudgeResult {
	for _, m := range r.Status.MetricResults {
		if m.Judge != nil {
			return m.Judge
		}
	}
	return nil
}

// TestJudgeOnPrometheusAbortsABadCanary: the canary fails one request in
// five, stable none; the judge fails it on its errors and the rollout
// aborts, traffic back to stable.
func TestJudgeOnPrometheusAbortsABadCanary(t *testing.T) {
	ns := namespace(t)
	first := startJudged(t, ns, 5)
	st := waitStatus(t, ns, "web", "aborted", func(st *v1alpha1.RolloutStatus) bool { return st.Abort })
	if !strings.Contains(st.Message, `judge "judge" failed: errors`) {
		t.Errorf("status message %q, want the judge's failure on errors", st.Message)
	}
	eventually(t, 30e9, "traffic back to stable", func() (bool, string) {
		s, c := weights(t, ns, "web")
		return s == 100 && c == 0, fmt.Sprintf("weights %d/%d", s, c)
	})
	if st.StableRevision != first {
		t.Errorf("stable revision %s after the abort, want %s", st.StableRevision, first)
	}
	r := onlyRun(t, ns, "web", "run failed", func(r *v1alpha1.AnalysisRun) bool { return r.Status.Phase == v1alpha1.AnalysisFailed })
	if j := judgeResult(r); j == nil || j.Verdict != v1alpha1.JudgeFail || j.Reason != "Errors" || j.Errors.CanaryEvents == 0 || j.StableRequests == 0 {
		t.Errorf("judge result in AnalysisRun %s: %+v, want Fail on errors with the evidence", r.Name, j)
	}
}

// TestJudgeOnPrometheusPromotesAGoodCanary: the canary is as good as
// stable; the judge passes once it has served minRequests and the rollout
// is promoted.
func TestJudgeOnPrometheusPromotesAGoodCanary(t *testing.T) {
	ns := namespace(t)
	first := startJudged(t, ns, 0)
	st := waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision != first
	})
	r := onlyRun(t, ns, "web", "run successful", func(r *v1alpha1.AnalysisRun) bool { return r.Status.Phase == v1alpha1.AnalysisSuccessful })
	if j := judgeResult(r); j == nil || j.Verdict != v1alpha1.JudgePass || j.CanaryRequests < 100 {
		t.Errorf("judge result in AnalysisRun %s: %+v, want Pass on at least 100 canary requests", r.Name, j)
	}
	if r.Labels["fledge.dev/revision"] != st.StableRevision {
		t.Errorf("the run judged revision %s, the rollout promoted %s", r.Labels["fledge.dev/revision"], st.StableRevision)
	}
}
