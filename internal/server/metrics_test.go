package server_test

import (
	"context"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// families parses an exposition with Prometheus' own parser.
func families(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("/metrics does not parse as the Prometheus text format: %v\n%s", err, text)
	}
	return fams
}

// value is the value of the family's sample whose labels include want
// (name=value pairs); ok is false when no sample has them.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.Counter.GetValue(), true
		case dto.MetricType_GAUGE:
			return m.Gauge.GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// expect checks samples of an exposition: each is family, labels, value.
type expect struct {
	family string
	labels []string
	want   float64
}

func check(t *testing.T, fams map[string]*dto.MetricFamily, text string, cases map[string]expect) {
	t.Helper()
	for name, c := range cases {
		got, ok := value(fams, c.family, c.labels...)
		if !ok {
			t.Errorf("%s: no sample %s%v in:\n%s", name, c.family, c.labels, grepFamily(text, c.family))
			continue
		}
		if got != c.want {
			t.Errorf("%s: %s%v = %v, want %v", name, c.family, c.labels, got, c.want)
		}
	}
}

func grepFamily(text, family string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, family) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// After real steps of a real rollout, /metrics holds Fledge's own state,
// analysis verdicts, events, decision times and notification counts, and
// parses as Prometheus reads it.
func TestMetricsOfARealRollout(t *testing.T) {
	h := startHost(t)
	start := time.Now()
	h.apply(releaseSpec("v1", h.listen))
	h.await("v1 stable", func(s v1alpha1.RolloutStatus) bool {
		return s.Phase == v1alpha1.PhaseHealthy && s.StableRevision == "1"
	})
	h.apply(releaseSpec("v2", h.listen))
	h.await("v2 paused for a human", func(s v1alpha1.RolloutStatus) bool { return s.Phase == v1alpha1.PhasePaused && s.CurrentStepIndex == 2 })
	h.traffic(20)

	// The notifications of the release so far (started, step, paused) are
	// sent from the notifier's goroutine: wait for them.
	var text string
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	for {
		text = h.scrape()
		fams = families(t, text)
		sent, _ := value(fams, "fledge_notifications_sent_total")
		if sent >= 3 && sent == float64(h.hooked.Load()) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	run := "web-r2-step2-1"
	check(t, fams, text, map[string]expect{
		"paused":                {"fledge_rollout_phase", []string{"rollout", "web", "phase", "Paused"}, 1},
		"not healthy":           {"fledge_rollout_phase", []string{"rollout", "web", "phase", "Healthy"}, 0},
		"step":                  {"fledge_rollout_step", []string{"rollout", "web"}, 2},
		"weight":                {"fledge_rollout_canary_weight", []string{"rollout", "web"}, 50},
		"revisions":             {"fledge_rollout_info", []string{"rollout", "web", "stable", "1", "canary", "2"}, 1},
		"run passed":            {"fledge_analysis_run_phase", []string{"rollout", "web", "run", run, "phase", "Successful"}, 1},
		"measurement passed":    {"fledge_analysis_measurements_total", []string{"rollout", "web", "run", run, "metric", "smoke", "phase", "Successful"}, 1},
		"no measurement failed": {"fledge_analysis_measurements_total", []string{"rollout", "web", "run", run, "metric", "smoke", "phase", "Failed"}, 0},
		"first revision":        {"fledge_rollout_events_total", []string{"rollout", "web", "reason", "InitialRevision"}, 1},
		"started":               {"fledge_rollout_events_total", []string{"rollout", "web", "reason", "RolloutStarted"}, 1},
		"weight changed":        {"fledge_rollout_events_total", []string{"rollout", "web", "reason", "WeightChanged"}, 1},
		"steps completed":       {"fledge_rollout_events_total", []string{"rollout", "web", "reason", "StepCompleted"}, 2},
		"analysis verdict":      {"fledge_rollout_events_total", []string{"rollout", "web", "reason", "AnalysisSuccessful"}, 1},
		"none failed":           {"fledge_notifications_failed_total", []string{"kind", "webhook", "target", h.hook.URL}, 0},
		"none dropped":          {"fledge_notifications_dropped_total", []string{"kind", "webhook", "target", h.hook.URL}, 0},
	})
	if sent, _ := value(fams, "fledge_notifications_sent_total", "kind", "webhook", "target", h.hook.URL); sent < 3 || sent != float64(h.hooked.Load()) {
		t.Errorf("notifications sent: %v, want the %d the receiver got (started, step, paused at least)", sent, h.hooked.Load())
	}
	var served float64
	for _, rev := range []string{"1", "2"} {
		v, _ := value(fams, "fledge_requests_total", "rollout", "web", "revision", rev)
		served += v
	}
	if served != 20 {
		t.Errorf("the proxy's requests: %v, want 20", served)
	}

	// Deployment markers: Applied comes from the stored events (it is not
	// a decision's), RolloutStarted from the decisions; both are times of
	// this test.
	for _, reason := range []string{"Applied", "RolloutStarted", "WeightChanged"} {
		ts, ok := value(fams, "fledge_rollout_event_timestamp_seconds", "rollout", "web", "reason", reason)
		at := time.UnixMilli(int64(ts * 1000))
		if !ok || at.Before(start.Add(-time.Second)) || at.After(time.Now()) {
			t.Errorf("marker %s at %v (%v), want a time of this test", reason, at, ok)
		}
	}
	decisions := fams["fledge_rollout_decision_duration_seconds"]
	if decisions == nil || len(decisions.Metric) != 1 {
		t.Fatalf("decision histogram: %v", decisions)
	}
	hist := decisions.Metric[0].Histogram
	if hist.GetSampleCount() < 5 || hist.GetSampleSum() <= 0 {
		t.Errorf("decision histogram: %d decisions in %vs", hist.GetSampleCount(), hist.GetSampleSum())
	}
	buckets := hist.GetBucket()
	for i := 1; i < len(buckets); i++ {
		if buckets[i].GetCumulativeCount() < buckets[i-1].GetCumulativeCount() {
			t.Errorf("buckets not cumulative: %v", buckets)
		}
	}
	promtoolCheck(t, text)

	// Promoted: the gauges follow, the events count on.
	if err := h.d.Command(context.Background(), "web", rollout.CommandPromote); err != nil {
		t.Fatal(err)
	}
	h.await("v2 promoted", func(s v1alpha1.RolloutStatus) bool {
		return s.Phase == v1alpha1.PhaseHealthy && s.StableRevision == "2"
	})
	// The decision's events are counted right after its status is stored,
	// where await saw it: scrape until they are (nothing to await on).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		text = h.scrape()
		fams = families(t, text)
		if _, ok := value(fams, "fledge_rollout_events_total", "rollout", "web", "reason", "Promoted"); ok || time.Now().After(deadline) {
			break
		}
	}
	check(t, fams, text, map[string]expect{
		"healthy":                           {"fledge_rollout_phase", []string{"rollout", "web", "phase", "Healthy"}, 1},
		"paused":                            {"fledge_rollout_phase", []string{"rollout", "web", "phase", "Paused"}, 0},
		"weight":                            {"fledge_rollout_canary_weight", []string{"rollout", "web"}, 0},
		"step":                              {"fledge_rollout_step", []string{"rollout", "web"}, 4},
		"stable":                            {"fledge_rollout_info", []string{"rollout", "web", "stable", "2", "canary", ""}, 1},
		"promoted":                          {"fledge_rollout_events_total", []string{"rollout", "web", "reason", "Promoted"}, 1},
		"the stable revision's run is kept": {"fledge_analysis_run_phase", []string{"rollout", "web", "run", run, "phase", "Successful"}, 1},
	})
}

// promtoolCheck lints an exposition with Prometheus' promtool, when the
// Debian package installed it.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("no promtool: the exposition was checked by the parser only")
		return
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// exported lists the sample names an exposition holds (a histogram's
// _bucket, _sum and _count included).
func exported(t *testing.T, text string) []string {
	t.Helper()
	seen := map[string]bool{}
	for name, f := range families(t, text) {
		if len(f.Metric) == 0 {
			continue
		}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			seen[name+"_bucket"], seen[name+"_sum"], seen[name+"_count"] = true, true, true
		} else {
			seen[name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
