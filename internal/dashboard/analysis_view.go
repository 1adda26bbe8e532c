package dashboard

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/run"
)

// The analysis as the page shows it: each run, each metric with where its
// value comes from, its conditions, its verdict and its measurements.

// RunView is one analysis run.
type RunView struct {
	Name      string       `json:"name"`
	Revision  string       `json:"revision,omitempty"`
	Phase     string       `json:"phase"`
	Message   string       `json:"message,omitempty"`
	Blocking  bool         `json:"blocking"`
	StartedAt *time.Time   `json:"startedAt,omitempty"`
	Metrics   []MetricView `json:"metrics"`
	// Judges are the run's statistical judges and their evidence.
	Judges []JudgeView `json:"judges"`
}

// MetricView is one metric of a run: its conditions and measurements.
type MetricView struct {
	Name             string            `json:"name"`
	Phase            string            `json:"phase"`
	Message          string            `json:"message,omitempty"`
	SuccessCondition string            `json:"successCondition,omitempty"`
	FailureCondition string            `json:"failureCondition,omitempty"`
	Provider         string            `json:"provider,omitempty"`
	Count            int32             `json:"count"`
	Successful       int32             `json:"successful"`
	Failed           int32             `json:"failed"`
	Inconclusive     int32             `json:"inconclusive"`
	Error            int32             `json:"error"`
	Measurements     []MeasurementView `json:"measurements"`
}

// MeasurementView is one measurement.
type MeasurementView struct {
	Time    *time.Time `json:"time,omitempty"`
	Value   string     `json:"value,omitempty"`
	Phase   string     `json:"phase"`
	Message string     `json:"message,omitempty"`
}

// maxMeasurements bounds the measurements shown per metric (the latest).
const maxMeasurements = 30

// runViews lists runs newest first, each metric with its conditions.
func runViews(runs []*v1alpha1.AnalysisRun) []RunView {
	out := make([]RunView, 0, len(runs))
	for _, r := range runs {
		v := RunView{
			Name: r.Name, Revision: r.Labels[run.LabelRevision], Phase: string(r.Status.Phase),
			Message: r.Status.Message, Blocking: r.Spec.Blocking, Metrics: []MetricView{},
		}
		if v.Phase == "" {
			v.Phase = string(v1alpha1.AnalysisPending)
		}
		if r.Status.StartedAt != nil {
			t := r.Status.StartedAt.Time
			v.StartedAt = &t
		}
		results := map[string]v1alpha1.MetricResult{}
		for _, mr := range r.Status.MetricResults {
			results[mr.Name] = mr
		}
		for _, m := range r.Spec.Metrics {
			v.Metrics = append(v.Metrics, metricView(m, results[m.Name]))
		}
		v.Judges = judgeViews(r, results)
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].StartedAt, out[j].StartedAt
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil // not started yet: first
		default:
			return a.After(*b)
		}
	})
	return out
}

func metricView(m v1alpha1.Metric, mr v1alpha1.MetricResult) MetricView {
	v := MetricView{
		Name: m.Name, Phase: string(mr.Phase), Message: mr.Message,
		SuccessCondition: m.SuccessCondition, FailureCondition: m.FailureCondition,
		Provider: describeProvider(m.Provider),
		Count:    mr.Count, Successful: mr.Successful, Failed: mr.Failed, Inconclusive: mr.Inconclusive, Error: mr.Error,
		Measurements: []MeasurementView{},
	}
	if v.Phase == "" {
		v.Phase = string(v1alpha1.AnalysisPending)
	}
	ms := mr.Measurements
	if len(ms) > maxMeasurements {
		ms = ms[len(ms)-maxMeasurements:]
	}
	for _, x := range ms {
		mv := MeasurementView{Value: x.Value, Phase: string(x.Phase), Message: x.Message}
		if t := x.FinishedAt; t != nil {
			mv.Time = &t.Time
		} else if t := x.StartedAt; t != nil {
			mv.Time = &t.Time
		}
		v.Measurements = append(v.Measurements, mv)
	}
	return v
}

// describeProvider says where a metric's value comes from, in a few words.
func describeProvider(p v1alpha1.MetricProvider) string {
	if b := p.Builtin; b != nil {
		return describeBuiltin(b)
	}
	// Other providers, by their JSON: the name and the fields that say
	// what is measured, never headers (they may hold credentials).
	var fields map[string]map[string]json.RawMessage
	if b, err := json.Marshal(p); err != nil || json.Unmarshal(b, &fields) != nil {
		return ""
	}
	for name, f := range fields {
		s := name
		for _, k := range []string{"address", "query", "url", "command"} {
			if v, ok := f[k]; ok {
				s += " " + string(v)
			}
		}
		if len(s) > maxProviderText {
			s = strings.ToValidUTF8(s[:maxProviderText], "") + "…"
		}
		return s
	}
	return ""
}

// maxProviderText bounds a provider's description.
const maxProviderText = 160

func describeBuiltin(b *v1alpha1.BuiltinMetric) string {
	measure := ""
	for _, m := range []struct {
		name string
		set  bool
	}{
		{"successRate", b.SuccessRate != nil}, {"errorRate", b.ErrorRate != nil},
		{"latencyP50", b.LatencyP50 != nil}, {"latencyP95", b.LatencyP95 != nil}, {"latencyP99", b.LatencyP99 != nil},
		{"requestRate", b.RequestRate != nil},
	} {
		if m.set {
			measure = m.name
		}
	}
	version := b.Version
	if version == "" {
		version = "canary"
	}
	out := "builtin " + measure + " of the " + version
	if b.Route != "" {
		out += " on " + b.Route
	}
	return out
}
