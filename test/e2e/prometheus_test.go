package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider/prometheus/promtest"
)

// The tests below judge a canary through a real Prometheus (package
// promtest: the Debian binary; FLEDGE_SKIP_PROMETHEUS=1 skips them when it
// is missing) that scrapes the daemon's own /metrics every second. The
// Prometheus can only be started once the daemon has announced its
// address, so revision 1 is deployed without analysis and revision 2's
// spec adds the template.

// startWithPrometheus deploys v1 (strategy v1Strategy), starts a
// Prometheus scraping the daemon and user load on listen, and waits until
// Prometheus has stable's requests.
func startWithPrometheus(t *testing.T, h *harness, listen, v1Strategy string) (*promtest.Server, *load) {
	t.Helper()
	startStable(h, spec{version: "v1", strategy: v1Strategy})
	prom := promtest.Start(t, h.adminAddr())
	users := startLoad(t, listen, 2, 20*time.Millisecond, "GET /")
	prom.WaitFor(t, `fledge_requests_total{rollout="web",revision="1"} > 0`, 1)
	return prom, users
}

// A canary failing half of its GET / is aborted by a background analysis
// whose only evidence is what Prometheus scraped off the daemon's
// /metrics: the failed measurements carry Prometheus' ratio, traffic goes
// back to stable, and users (whose failed GETs were replayed on stable)
// see no error.
func TestPrometheusAnalysisAbortsBadCanary(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	steps := []string{"setWeight: 50", "pause: {}", "setWeight: 100"}
	prom, users := startWithPrometheus(t, h, listen, canaryStrategy(listen, steps...))

	strategy := canaryStrategy(listen, steps...) + "      analysis: {" + promAnalysis + ", startingStep: 1}\n"
	bad := spec{version: "v2", args: []string{"--error-rate", "GET /=0.5"}, strategy: strategy}
	// failureLimit 1: two measurements over 10%. inconclusiveLimit 5: the
	// canary's series needs two scrapes before a rate exists.
	h.must("apply", "-f", h.writeSpec("v2.yaml", bad.yaml()+promTemplate(prom.URL, "failureLimit: 1", "inconclusiveLimit: 5")))

	s := h.waitFor("web", "the Prometheus analysis to abort revision 2", func(s status) bool {
		return s.Phase == "Degraded" && s.Abort
	})
	if s.CanaryRevision != "2" || s.StableRevision != "1" {
		t.Errorf("aborted with canary %q, stable %q; want 2 and 1", s.CanaryRevision, s.StableRevision)
	}
	if !strings.Contains(s.Message, "canary-error-ratio") || s.run("-background") != "Failed" {
		t.Errorf("message %q, background run %s: want the Prometheus metric Failed and named", s.Message, s.run("-background"))
	}
	run, m := h.waitMetric("web", "-background", "the background run's verdict", func(m v1alpha1.MetricResult) bool {
		return m.Phase == v1alpha1.AnalysisFailed
	})
	if m.Failed != 2 || run.Spec.Metrics[0].Provider.Prometheus == nil {
		t.Errorf("metric %s after %d failed measurements (want 2) of provider %+v:%s", m.Phase, m.Failed, run.Spec.Metrics[0].Provider, measurements(m))
	}
	t.Logf("aborted: %s%s", s.Message, measurements(m))
	for _, x := range m.Measurements {
		// Half of the canary's GET / fail: Prometheus' ratio is near 0.5.
		if v, err := strconv.ParseFloat(x.Value, 64); x.Phase == v1alpha1.AnalysisFailed && (err != nil || v < 0.2 || v > 0.8) {
			t.Errorf("a failed measurement has value %q, want Prometheus' error ratio of about 0.5:%s", x.Value, measurements(m))
		}
	}

	h.waitFor("web", "the canary's weight back to 0", func(s status) bool { return s.CanaryWeight == 0 })
	h.waitGone("the canary's replicas to exit", h.replicas("web-2-"))
	users.stop()
	if n, errs, vs, first := users.result(); errs > 0 || vs["v2"] == 0 {
		t.Errorf("users sent %d requests (versions %v) and saw %d errors, want some answered by v2 and none failed: %v", n, vs, errs, first)
	}
	if c := versions(t, listen, 100); c["v1"] != 100 {
		t.Errorf("after the abort, 100 requests went %v, want all to v1", c)
	}
}

// A good canary's step analysis loses its Prometheus while measuring: the
// measurements become Errors, the run ends in Error after
// consecutiveErrorLimit+1 of them, and the rollout pauses; while
// Prometheus is down the canary keeps its 20% and revision 1 stays stable.
// Once a Prometheus is back (at a new address, which the spec is updated
// with), `fledge resume` runs the analysis again and the release finishes.
func TestPrometheusDownPausesAnalysis(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	prom, users := startWithPrometheus(t, h, listen, canaryStrategy(listen, "setWeight: 100"))

	strategy := canaryStrategy(listen, "setWeight: 20", "analysis: {"+promAnalysis+"}", "setWeight: 100")
	good := spec{version: "v2", strategy: strategy}
	// count 30: the run is still measuring a minute later, whatever the
	// machine's load, so Prometheus is stopped mid-analysis.
	limits := []string{"count: 30", "inconclusiveLimit: 5", "consecutiveErrorLimit: 2"}
	h.must("apply", "-f", h.writeSpec("v2.yaml", good.yaml()+promTemplate(prom.URL, limits...)))
	h.waitMetric("web", "-step", "a successful measurement through Prometheus", func(m v1alpha1.MetricResult) bool {
		return m.Successful >= 1
	})
	if s, raw, err := h.status("web"); err != nil || s.CanaryWeight != 20 || s.CurrentStepIndex != 1 || s.Phase != "Progressing" {
		t.Fatalf("while measuring: %v\n%s\nwant step 1 at weight 20, Progressing", err, raw)
	}

	prom.Stop()
	// Until the pause, every status must still be step 1 at 20% on top of
	// stable revision 1: the errors never count as a pass.
	s := h.waitFor("web", "the rollout to pause on the analysis error", func(s status) bool {
		if s.StableRevision != "1" || s.CanaryWeight != 20 || s.CurrentStepIndex != 1 || s.Phase == "Healthy" {
			t.Fatalf("Prometheus is down, yet the rollout moved on: phase %s, step %d, weight %d, stable %q",
				s.Phase, s.CurrentStepIndex, s.CanaryWeight, s.StableRevision)
		}
		return s.Phase == "Paused" && s.pausedFor("InconclusiveAnalysis")
	})
	if !strings.Contains(s.Message, "Error") || s.Abort {
		t.Errorf("paused with message %q, abort %v; want the analysis Error said, no abort", s.Message, s.Abort)
	}
	_, m := h.waitMetric("web", "-step", "the step run's verdict", func(m v1alpha1.MetricResult) bool {
		return m.Phase.Completed()
	})
	t.Logf("paused: %s%s", s.Message, measurements(m))
	if m.Phase != v1alpha1.AnalysisError || m.Error < 3 || m.ConsecutiveError < 3 {
		t.Errorf("metric %s with %d errors (%d in a row); want Error after 3 in a row:%s", m.Phase, m.Error, m.ConsecutiveError, measurements(m))
	}
	if last := m.Measurements[len(m.Measurements)-1]; last.Phase != v1alpha1.AnalysisError || !strings.Contains(last.Message, "connection refused") {
		t.Errorf("last measurement %s %q, want an Error saying Prometheus refused the connection", last.Phase, last.Message)
	}
	users.hold()
	counts := versions(t, listen, 100)
	users.release()
	checkSplit(t, counts, 100, 20, "v1", "v2")

	// A new Prometheus, with the canary's rate in it; the spec points at it
	// (same revision: the replicas' template is unchanged) and asks for 3
	// measurements, so that the fresh run ends soon.
	prom = promtest.Start(t, h.adminAddr())
	prom.WaitFor(t, `rate(fledge_requests_total{rollout="web",revision="2"}[10s]) > 0`, 1)
	h.must("apply", "-f", h.writeSpec("v2-fixed.yaml", good.yaml()+promTemplate(prom.URL, "count: 3", "inconclusiveLimit: 5")))
	h.must("resume", "web")
	s = h.waitFor("web", "revision 2 promoted after the resumed analysis", func(s status) bool {
		return s.Phase == "Healthy" && s.StableRevision == "2"
	})
	if _, m := lastRun(mustRuns(t, h), "-step"); m.Phase != v1alpha1.AnalysisSuccessful || m.Successful == 0 {
		t.Errorf("the resumed step run's metric is %s with %d successful measurements, want Successful:%s", m.Phase, m.Successful, measurements(m))
	}
	users.stop()
	if n, errs, _, first := users.result(); errs > 0 {
		t.Errorf("users saw %d errors in %d requests, want none: %v", errs, n, first)
	}
}

func mustRuns(t *testing.T, h *harness) []*v1alpha1.AnalysisRun {
	t.Helper()
	rs, err := h.runs("web")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
