package analysis

import (
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

func TestEffectiveCount(t *testing.T) {
	tests := map[string]struct {
		metric      v1alpha1.Metric
		blocking    bool
		want        int32
		wantBounded bool
	}{
		"count set":                        {metric: metric(every(time.Second), count(5)), want: 5, wantBounded: true},
		"count set in background":          {metric: metric(every(time.Second), count(5)), blocking: false, want: 5, wantBounded: true},
		"blocking with an interval":        {metric: metric(every(time.Second)), blocking: true, want: 3, wantBounded: true},
		"blocking without an interval":     {metric: metric(), blocking: true, want: 1, wantBounded: true},
		"background with an interval":      {metric: metric(every(time.Second)), want: 0, wantBounded: false},
		"background without an interval":   {metric: metric(), want: 1, wantBounded: true},
		"blocking count beats the default": {metric: metric(every(time.Second), count(1)), blocking: true, want: 1, wantBounded: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, bounded := EffectiveCount(tc.metric, tc.blocking)
			if got != tc.want || bounded != tc.wantBounded {
				t.Errorf("EffectiveCount = %d %v, want %d %v", got, bounded, tc.want, tc.wantBounded)
			}
		})
	}
}

func TestNextMeasurement(t *testing.T) {
	running := func(phases string) v1alpha1.MetricResult {
		r := v1alpha1.MetricResult{Name: "m", Phase: v1alpha1.AnalysisRunning, Measurements: measurements(phases)}
		fold(&r)
		return r
	}
	tests := map[string]struct {
		metric v1alpha1.Metric
		result v1alpha1.MetricResult
		want   time.Duration // after t0
		wantOK bool
	}{
		"first covers a whole interval": {
			metric: metric(every(5 * time.Second)), result: running(""), want: 5 * time.Second, wantOK: true,
		},
		"first after the initial delay": {
			metric: metric(every(5*time.Second), delay(time.Minute)), result: running(""), want: time.Minute + 5*time.Second, wantOK: true,
		},
		"first without an interval is at the delay": {
			metric: metric(delay(time.Minute)), result: running(""), want: time.Minute, wantOK: true,
		},
		"first without interval nor delay is now": {metric: metric(), result: running(""), want: 0, wantOK: true},
		"an interval after the previous": {
			metric: metric(every(5 * time.Second)), result: running("SF"), want: 2*time.Second + 5*time.Second, wantOK: true,
		},
		"no interval: one value is all": {metric: metric(), result: running("S"), wantOK: false},
		"error retried within the interval": {
			metric: metric(every(3 * time.Second)), result: running("SE"), want: 2*time.Second + 3*time.Second, wantOK: true,
		},
		"error retried after ErrorRetryInterval at most": {
			metric: metric(every(time.Minute)), result: running("E"), want: time.Second + ErrorRetryInterval, wantOK: true,
		},
		"error retried without an interval": {
			metric: metric(), result: running("E"), want: time.Second + ErrorRetryInterval, wantOK: true,
		},
		"count reached": {metric: metric(every(time.Second), count(2)), result: running("SS"), wantOK: false},
		"count reached, errors aside": {
			metric: metric(every(time.Second), count(2)), result: running("SEE"), want: 3*time.Second + time.Second, wantOK: true,
		},
		"metric decided": {
			metric: metric(every(time.Second)), result: v1alpha1.MetricResult{Phase: v1alpha1.AnalysisFailed}, wantOK: false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := NextMeasurement(tc.metric, tc.result, t0)
			if ok != tc.wantOK || ok && !got.Equal(t0.Add(tc.want)) {
				t.Errorf("NextMeasurement = t0%+v %v, want t0+%v %v", got.Sub(t0), ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestWindowStart(t *testing.T) {
	r := func(phases string) v1alpha1.MetricResult {
		r := v1alpha1.MetricResult{Name: "m", Measurements: measurements(phases)}
		fold(&r)
		return r
	}
	tests := map[string]struct {
		metric v1alpha1.Metric
		result v1alpha1.MetricResult
		want   time.Duration
	}{
		"first interval starts after the delay":  {metric: metric(every(5*time.Second), delay(time.Minute)), result: r(""), want: time.Minute},
		"without an interval from the run start": {metric: metric(delay(time.Minute)), result: r(""), want: 0},
		"from the previous value":                {metric: metric(every(time.Second)), result: r("SFI"), want: 3 * time.Second},
		"errors cover nothing":                   {metric: metric(every(time.Second)), result: r("SEE"), want: time.Second},
		"only errors: from the start":            {metric: metric(every(time.Second), delay(time.Second)), result: r("EE"), want: time.Second},
		"only errors kept: from the oldest kept": {metric: metric(every(time.Second)), result: r("SEEEEEEEEEEE"), want: 3 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := WindowStart(tc.metric, tc.result, t0); !got.Equal(t0.Add(tc.want)) {
				t.Errorf("WindowStart = t0%+v, want t0+%v", got.Sub(t0), tc.want)
			}
		})
	}
}
