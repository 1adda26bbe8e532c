package analysis

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fledge.dev/fledge/api/v1alpha1"
)

// t0 is the start of every run in these tests.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// metricOption changes a test metric.
type metricOption func(*v1alpha1.Metric)

// metric builds a defaulted metric named m with successCondition
// `result >= 0.99`, changed by opts.
func metric(opts ...metricOption) v1alpha1.Metric {
	m := v1alpha1.Metric{
		Name:             "m",
		SuccessCondition: "result >= 0.99",
		Provider:         v1alpha1.MetricProvider{Builtin: &v1alpha1.BuiltinMetric{SuccessRate: &struct{}{}}},
	}
	for _, o := range opts {
		o(&m)
	}
	t := v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{m}}
	t.Default()
	return t.Metrics[0]
}

func named(n string) metricOption { return func(m *v1alpha1.Metric) { m.Name = n } }
func every(d time.Duration) metricOption {
	return func(m *v1alpha1.Metric) { m.Interval = &v1alpha1.Duration{Duration: d} }
}
func delay(d time.Duration) metricOption {
	return func(m *v1alpha1.Metric) { m.InitialDelay = &v1alpha1.Duration{Duration: d} }
}
func count(n int32) metricOption        { return func(m *v1alpha1.Metric) { m.Count = &n } }
func failureLimit(n int32) metricOption { return func(m *v1alpha1.Metric) { m.FailureLimit = &n } }
func inconclusiveLimit(n int32) metricOption {
	return func(m *v1alpha1.Metric) { m.InconclusiveLimit = &n }
}
func errorLimit(n int32) metricOption {
	return func(m *v1alpha1.Metric) { m.ConsecutiveErrorLimit = &n }
}
func success(expr string) metricOption { return func(m *v1alpha1.Metric) { m.SuccessCondition = expr } }
func failure(expr string) metricOption { return func(m *v1alpha1.Metric) { m.FailureCondition = expr } }

// at is a time offset from t0, as a metav1.Time.
func at(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }

// measurements builds measurements of the given phases, one a second from
// t0+1s, written S, F, I, E.
func measurements(phases string) []v1alpha1.Measurement {
	names := map[rune]v1alpha1.AnalysisPhase{
		'S': v1alpha1.AnalysisSuccessful, 'F': v1alpha1.AnalysisFailed,
		'I': v1alpha1.AnalysisInconclusive, 'E': v1alpha1.AnalysisError,
	}
	var out []v1alpha1.Measurement
	for i, p := range phases {
		d := time.Duration(i+1) * time.Second
		out = append(out, v1alpha1.Measurement{Phase: names[p], StartedAt: at(d), FinishedAt: at(d), Value: string(p)})
	}
	return out
}
