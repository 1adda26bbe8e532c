package cluster

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// proxyFamilies are the dashboard's metrics that only the local daemon's
// embedded proxy counts: on Kubernetes the requests go through the
// cluster's router (Gateway API, NGINX, Istio), which Fledge does not
// count, so the controller cannot export them.
var proxyFamilies = []string{"fledge_requests_total", "fledge_request_errors_total", "fledge_request_duration_seconds_bucket"}

// TestControllerMetrics runs the controller (with config/rbac's rights, a
// --notify-webhook and its metrics endpoint on loopback) through a canary
// judged by a real Prometheus analysis, then a promotion, scraping its
// /metrics: Fledge's own families are there with the daemon's names and a
// namespace label, with the values the Rollout and its AnalysisRun hold,
// the decisions' events, markers and times, and the notifications sent;
// every metric the Grafana dashboard queries is exported (but the proxy's).
func TestControllerMetrics(t *testing.T) {
	hook := newHookReceiver(t, false)
	ns := namespace(t)
	e := startExporter(t)
	prom := startPrometheus(t, e)
	addr := freeAddr(t)
	startNotifyingController(t, "--metrics-bind-address", addr, "--notify-webhook", hook.URL)
	applyYAML(t, ns, `
apiVersion: fledge.dev/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success
spec:
`+successTemplate("  ", prom.URL, "1s", 2))
	start := time.Now()
	setup(t, ns, `
        - setWeight: 20
        - analysis: {templates: [{templateName: success}], args: [{name: revision, valueFrom: {podTemplateHashValue: Latest}}]}
        - pause: {}
`)
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	rev := release(t, ns, e, prom, 1)
	waitStatus(t, ns, "web", "paused after the analysis", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CurrentStepIndex == 2 && st.CanaryWeight == 20
	})
	run := onlyRun(t, ns, "web", "run successful", func(r *v1alpha1.AnalysisRun) bool { return r.Status.Phase == v1alpha1.AnalysisSuccessful }).Name

	web := []string{"namespace", ns, "rollout", "web"}
	with := func(more ...string) []string { return append(slices.Clone(web), more...) }
	m := scrapeUntil(t, addr, "paused at 20% after a successful analysis, the notifications sent", func(m scraped) bool {
		sent, _ := m.value("fledge_notifications_sent_total", "kind", "webhook")
		_, counted := m.value("fledge_rollout_events_total", with("reason", "AnalysisStarted")...) // see below
		return m.is("fledge_rollout_phase", 1, with("phase", "Paused")...) && sent >= float64(len(hook.events(ns))) && len(hook.events(ns)) > 0 && counted
	})
	m.expect(t, map[string]sample{
		"not healthy":        {"fledge_rollout_phase", with("phase", "Healthy"), 0},
		"weight":             {"fledge_rollout_canary_weight", web, 20},
		"step":               {"fledge_rollout_step", web, 2},
		"revisions":          {"fledge_rollout_info", with("stable", first, "canary", rev), 1},
		"run":                {"fledge_analysis_run_phase", with("run", run, "phase", "Successful"), 1},
		"measurements":       {"fledge_analysis_measurements_total", with("run", run, "metric", "success-ratio", "phase", "Successful"), 2},
		"failed measurement": {"fledge_analysis_measurements_total", with("run", run, "metric", "success-ratio", "phase", "Failed"), 0},
		"started":            {"fledge_rollout_events_total", with("reason", "RolloutStarted"), 1},
		"analysis started":   {"fledge_rollout_events_total", with("reason", "AnalysisStarted"), 1},
	})
	if n, _ := m.value("fledge_rollout_decision_duration_seconds", web...); n < 3 {
		t.Errorf("%v decisions timed, want at least 3 (start, weight, analysis)", n)
	}
	if at, _ := m.value("fledge_rollout_event_timestamp_seconds", with("reason", "RolloutStarted")...); at < float64(start.Unix()) || at > float64(time.Now().Unix()+1) {
		t.Errorf("RolloutStarted marker at %v, want between %v and now", at, start.Unix())
	}

	command(t, ns, "web", "promote")
	waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool { return healthy(st) && st.StableRevision == rev })
	// The gauges come from the cache, which may show the promotion's status
	// write a moment before the decision's events are counted (right after
	// that write returns): wait for both.
	m = scrapeUntil(t, addr, "healthy on the new revision, the promotion counted", func(m scraped) bool {
		_, counted := m.value("fledge_rollout_events_total", with("reason", "Promoted")...)
		return m.is("fledge_rollout_phase", 1, with("phase", "Healthy")...) && m.is("fledge_rollout_info", 1, with("stable", rev, "canary", "")...) && counted
	})
	m.expect(t, map[string]sample{
		"promoted": {"fledge_rollout_events_total", with("reason", "Promoted"), 1},
		"weight":   {"fledge_rollout_canary_weight", web, 0},
	})
	if at, ok := m.value("fledge_rollout_event_timestamp_seconds", with("reason", "Promoted")...); !ok || at < float64(start.Unix()) {
		t.Errorf("Promoted marker at %v (%v), want after %v", at, ok, start.Unix())
	}
	if _, ok := m.value("controller_runtime_reconcile_total", "controller", "rollout"); !ok {
		t.Errorf("controller-runtime's own metrics are gone:\n%s", m.text)
	}

	for _, name := range dashboardMetrics(t) {
		if slices.Contains(proxyFamilies, name) {
			continue
		}
		if !m.exports(name) {
			t.Errorf("the Grafana dashboard queries %s, which the controller does not export", name)
		}
	}
}

// scraped is one scrape of the controller's metrics endpoint.
type scraped struct {
	text string
	fams map[string]*dto.MetricFamily
}

// sample is a family, labels (name, value, ...) and the value wanted.
type sample struct {
	family string
	labels []string
	want   float64
}

// scrapeUntil scrapes the endpoint at addr until cond holds.
func scrapeUntil(t *testing.T, addr, desc string, cond func(scraped) bool) scraped {
	t.Helper()
	var m scraped
	eventually(t, 30*time.Second, desc, func() (bool, string) {
		m = scrape(t, addr)
		return cond(m), grepFledge(m.text)
	})
	return m
}

func scrape(t *testing.T, addr string) scraped {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s %v\n%s", resp.Status, err, b)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("/metrics does not parse as the Prometheus text format: %v", err)
	}
	return scraped{text: string(b), fams: fams}
}

// value is the value of the family's first sample whose labels include
// want (a histogram's: its count).
func (m scraped) value(family string, want ...string) (float64, bool) {
	f := m.fams[family]
	if f == nil {
		return 0, false
	}
next:
	for _, s := range f.Metric {
		labels := map[string]string{}
		for _, l := range s.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] { // an empty label is no label
				continue next
			}
		}
		switch {
		case s.Counter != nil:
			return s.Counter.GetValue(), true
		case s.Gauge != nil:
			return s.Gauge.GetValue(), true
		case s.Histogram != nil:
			return float64(s.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func (m scraped) is(family string, want float64, labels ...string) bool {
	v, ok := m.value(family, labels...)
	return ok && v == want
}

func (m scraped) expect(t *testing.T, cases map[string]sample) {
	t.Helper()
	for name, c := range cases {
		got, ok := m.value(c.family, c.labels...)
		switch {
		case !ok:
			t.Errorf("%s: no sample %s%v in:\n%s", name, c.family, c.labels, grepFledge(m.text))
		case got != c.want:
			t.Errorf("%s: %s%v = %v, want %v", name, c.family, c.labels, got, c.want)
		}
	}
}

// exports tells whether a sample line of name (a family, or a histogram's
// _bucket, _sum or _count) is in the scrape.
func (m scraped) exports(name string) bool {
	for _, l := range strings.Split(m.text, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			return true
		}
	}
	return false
}

// grepFledge is the scrape's fledge_ lines, for failure messages.
func grepFledge(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "fledge_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// dashboardMetrics are the fledge_ metrics the Grafana dashboard's panels,
// annotations and variables query (internal/server/grafana_test.go checks
// that each is one the daemon exports, and that its queries evaluate).
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "grafana", "fledge.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query") {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	walk(d)
	var names []string
	for _, n := range regexp.MustCompile(`\bfledge_[a-zA-Z0-9_]+`).FindAllString(strings.Join(exprs, "\n"), -1) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d metrics in the dashboard's queries: %v", len(names), names)
	}
	return names
}
