package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/server"
)

// canaryErrorRatio is the share of the canary revision's requests that
// failed over the last 10 s, as Prometheus computes it from the counters
// it scraped off the daemon's /metrics: NaN (no data) while the canary has
// no traffic, and no series before the canary's first scrape.
const canaryErrorRatio = `sum(rate(fledge_request_errors_total{rollout="web",revision="{{args.canary}}"}[10s]))` +
	` / sum(rate(fledge_requests_total{rollout="web",revision="{{args.canary}}"}[10s]))`

// promAnalysis (inside an analysis's braces) refers to the Prometheus-backed template, judging
// revision 2: Fledge has no built-in canary-revision argument (Argo's
// valueFrom is not supported), so the spec gives it as a literal, which
// is safe because revisions are numbered in the order they are applied.
const promAnalysis = `templates: [{templateName: prom-errors}], args: [{name: canary, value: "2"}]`

// promTemplate is an analysisTemplates section (to append to spec.yaml())
// with one metric, measured every 2 s: the canary's error ratio through
// the Prometheus at address, at most 10%. limits holds more metric fields
// (count, failureLimit, ...), one per line.
func promTemplate(address string, limits ...string) string {
	query, _ := json.Marshal(canaryErrorRatio) // a JSON string is a YAML string
	var extra strings.Builder
	for _, l := range limits {
		fmt.Fprintf(&extra, "      %s\n", l)
	}
	return fmt.Sprintf(`  analysisTemplates:
  - name: prom-errors
    args: [{name: canary}]
    metrics:
    - name: canary-error-ratio
      interval: 2s
%s      successCondition: "result <= 0.1"
      provider:
        prometheus:
          address: %s
          timeout: 1s
          query: %s
`, extra.String(), address, query)
}

// adminAddr is the host:port of the daemon's API and /metrics, as it
// announced it in daemon.json.
func (h *harness) adminAddr() string {
	h.t.Helper()
	info, err := server.ReadInfo(h.state)
	if err != nil || info.Address == "" {
		h.t.Fatalf("read the daemon's address: %+v, %v", info, err)
	}
	return info.Address
}

// runs fetches the rollout's analysis runs, measurements included, from
// the daemon's API (the status the CLI prints has no measurements).
func (h *harness) runs(name string) ([]*v1alpha1.AnalysisRun, error) {
	c, err := server.Discover(h.state)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Runs(ctx, name)
}

// lastRun is the most recent run whose name holds part, and its one
// metric's result.
func lastRun(runs []*v1alpha1.AnalysisRun, part string) (*v1alpha1.AnalysisRun, v1alpha1.MetricResult) {
	var last *v1alpha1.AnalysisRun
	for _, r := range runs {
		if strings.Contains(r.Name, part) && (last == nil || runNumber(r.Name) > runNumber(last.Name)) {
			last = r
		}
	}
	if last == nil || len(last.Status.MetricResults) == 0 {
		return last, v1alpha1.MetricResult{}
	}
	return last, last.Status.MetricResults[0]
}

// runNumber is the N of a run named ROLLOUT-rREVISION-ROLE-N.
func runNumber(name string) int {
	var n int
	fmt.Sscan(name[strings.LastIndexByte(name, '-')+1:], &n)
	return n
}

// waitMetric polls the most recent run whose name holds part until its
// metric's result satisfies cond, and returns the run and the result.
func (h *harness) waitMetric(name, part, what string, cond func(v1alpha1.MetricResult) bool) (*v1alpha1.AnalysisRun, v1alpha1.MetricResult) {
	h.t.Helper()
	var run *v1alpha1.AnalysisRun
	var m v1alpha1.MetricResult
	h.poll(what, func() (bool, string) {
		rs, err := h.runs(name)
		if err != nil {
			return false, err.Error()
		}
		run, m = lastRun(rs, part)
		b, _ := json.MarshalIndent(rs, "", "  ")
		return run != nil && cond(m), string(b)
	})
	return run, m
}

// measurements is a one-line summary of a metric's last measurements, for
// failure messages.
func measurements(m v1alpha1.MetricResult) string {
	var b strings.Builder
	for _, x := range m.Measurements {
		fmt.Fprintf(&b, "\n  %s %s: %s", x.Phase, x.Value, x.Message)
	}
	return b.String()
}
