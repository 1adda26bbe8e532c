package prometheus

import (
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
)

// TestRegistered checks that a metric with provider.prometheus finds this
// provider: the registry's id is the field's JSON name.
func TestRegistered(t *testing.T) {
	id, err := provider.Kind(v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{}})
	if err != nil || id != ID {
		t.Fatalf("Kind = %q, %v; want %q", id, err, ID)
	}
	if _, err := provider.New(id, provider.Deps{}); err != nil {
		t.Fatal(err)
	}
}
