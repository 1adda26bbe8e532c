package controller

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics/rollouts"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Metrics exports Fledge's own metric families on the manager's metrics
// endpoint (--metrics-bind-address), next to controller-runtime's: the
// same families the local daemon serves on /metrics, with the same names,
// help and meaning, and a namespace label, so that one Grafana dashboard
// (docs/grafana/fledge.json) draws either.
//
//   - fledge_rollout_phase, _canary_weight, _step and _info from the
//     Rollouts in the manager's cache (the ones with a workloadRef, which
//     the controller drives): every replica reports them;
//   - fledge_analysis_run_phase and fledge_analysis_measurements_total from
//     the AnalysisRuns of each Rollout's stable and canary revisions, as the
//     leader's run managers hold them (what they stored, or newer): only
//     the leader measures, so only it reports them. Listing them from the
//     API server at each scrape cost every replica a LIST of every run in
//     the cluster, which grows with the Rollouts and their releases;
//   - fledge_rollout_events_total, fledge_rollout_event_timestamp_seconds
//     (the deployment markers) and fledge_rollout_decision_duration_seconds,
//     counted by the reconciler: only the leader decides, so only its
//     counts move, and they start from nothing with each leader;
//   - the notifier's fledge_notifications_* counters.
//
// It is a prometheus.Collector registered unchecked on controller-runtime's
// registry. The families are written by the daemon's own writers
// (internal/metrics/rollouts, notify.Notifier.WritePrometheus) in the text
// format, then parsed back with Prometheus' parser into the samples the
// registry gathers: one source for names, help, types and values in both
// modes, at the price of a parse per scrape (a few thousand lines at most).
type Metrics struct {
	cache client.Reader // the manager's cache: the Rollouts
	runs  RunSource     // nil: no analysis families
	notes *Notifications
	rec   *rollouts.Recorder
	log   logr.Logger
}

var _ prometheus.Collector = (*Metrics)(nil)

// scrapeTimeout bounds the reads of one scrape.
const scrapeTimeout = 5 * time.Second

// RunSource holds the AnalysisRuns of the Rollouts, by Rollout.
type RunSource interface {
	AnalysisRuns() map[rollouts.ID][]*v1alpha1.AnalysisRun
}

// NewMetrics returns the collector: Rollouts are read from cache,
// AnalysisRuns taken from runs (the Analyses runnable), the notifications'
// counts from notes (nil: none).
func NewMetrics(cache client.Reader, runs RunSource, notes *Notifications, log logr.Logger) *Metrics {
	return &Metrics{cache: cache, runs: runs, notes: notes, rec: rollouts.NewRecorder(), log: log}
}

// Describe describes nothing: the collector is unchecked, as the families'
// label sets are the writers' to choose.
func (m *Metrics) Describe(chan<- *prometheus.Desc) {}

// Collect writes the families and hands their samples to the registry. A
// read that fails leaves its families out (and is logged), never the rest
// of the endpoint.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var buf bytes.Buffer
	m.write(ctx, &buf)
	if err := collectText(&buf, ch); err != nil {
		m.log.Error(err, "fledge metrics not exported")
	}
}

// write writes every family in the text format.
func (m *Metrics) write(ctx context.Context, w io.Writer) {
	rs, err := m.rollouts(ctx)
	if err != nil {
		m.log.Error(err, "metrics: cannot list the Rollouts")
	} else {
		rollouts.WriteState(w, rs, rollouts.ByNamespace)
		var runs map[rollouts.ID][]*v1alpha1.AnalysisRun
		if m.runs != nil {
			runs = m.runs.AnalysisRuns()
		}
		rollouts.WriteAnalysis(w, rs, rollouts.ByNamespace, func(ro *v1alpha1.Rollout) []*v1alpha1.AnalysisRun {
			return runs[rollouts.ByNamespace(ro)]
		})
		// The markers of events older than this leader are in Prometheus
		// already; the Kubernetes Events are not cached to add them.
		m.rec.Write(w, rs, rollouts.ByNamespace, nil)
	}
	if m.notes != nil {
		m.notes.notifier.WritePrometheus(w)
	}
}

// rollouts are the cached Rollouts the controller drives.
func (m *Metrics) rollouts(ctx context.Context) ([]*v1alpha1.Rollout, error) {
	var list v1alpha1.RolloutList
	if err := m.cache.List(ctx, &list); err != nil {
		return nil, err
	}
	var out []*v1alpha1.Rollout
	for i := range list.Items {
		if list.Items[i].Spec.WorkloadRef != nil {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// pass times one decision pass of a Rollout and collects the events it
// persisted, for the Recorder.
type pass struct {
	m      *Metrics
	id     rollouts.ID
	start  time.Time
	events []store.Event
}

// pass starts timing a decision pass of ro (nil Metrics: a pass that
// records nothing).
func (m *Metrics) pass(ro *v1alpha1.Rollout) *pass {
	return &pass{m: m, id: rollouts.ByNamespace(ro), start: time.Now()}
}

// persisted notes the events of the decision persisted at t.
func (p *pass) persisted(events []rollout.Event, t time.Time) {
	for _, e := range events {
		p.events = append(p.events, store.Event{Time: t, Type: e.Type, Reason: e.Reason, Message: e.Message})
	}
}

// done records the pass: its events and how long it took.
func (p *pass) done() {
	if p.m == nil {
		return
	}
	p.m.rec.Record(p.id, p.events, time.Since(p.start))
}

// collectText parses families written in the text format and sends their
// samples to ch, each with the help its family was written with.
func collectText(text io.Reader, ch chan<- prometheus.Metric) error {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(text)
	if err != nil {
		return fmt.Errorf("parse the families written: %w", err)
	}
	for name, f := range fams {
		desc := prometheus.NewDesc(name, f.GetHelp(), nil, nil)
		for _, s := range f.Metric {
			ch <- parsed{desc, s}
		}
	}
	return nil
}

// parsed is one sample read back from the text format.
type parsed struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (p parsed) Desc() *prometheus.Desc { return p.desc }

func (p parsed) Write(out *dto.Metric) error {
	out.Label, out.Gauge, out.Counter, out.Histogram, out.Untyped = p.m.Label, p.m.Gauge, p.m.Counter, p.m.Histogram, p.m.Untyped
	return nil
}
