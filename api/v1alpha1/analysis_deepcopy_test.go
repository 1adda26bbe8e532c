package v1alpha1

import (
	"reflect"
	"testing"
)

// TestBuiltinMetricDeepCopy checks the hand-written copy: every measure
// set stays set, every other stays unset, and the rest is copied.
func TestBuiltinMetricDeepCopy(t *testing.T) {
	set := &struct{}{}
	for _, in := range []*BuiltinMetric{
		{SuccessRate: set, Version: "stable", Route: "POST /login"},
		{ErrorRate: set}, {LatencyP50: set}, {LatencyP95: set}, {LatencyP99: set}, {RequestRate: set},
		{},
	} {
		out := in.DeepCopy()
		if !reflect.DeepEqual(in, out) {
			t.Errorf("DeepCopy(%+v) = %+v", in, out)
		}
	}
	var none *BuiltinMetric
	if none.DeepCopy() != nil {
		t.Error("DeepCopy of nil is not nil")
	}
	p := MetricProvider{Builtin: &BuiltinMetric{LatencyP99: set, Version: "canary"}}
	if c := p.DeepCopy(); c.Builtin == p.Builtin || !reflect.DeepEqual(c.Builtin, p.Builtin) {
		t.Errorf("MetricProvider.DeepCopy shares or changes its builtin metric: %+v", c.Builtin)
	}
}
