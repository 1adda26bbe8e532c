package main

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantile(t *testing.T) {
	h := histogram{}
	for le, v := range map[string]float64{"0.1": 50, "0.5": 90, "1": 99, "+Inf": 100} {
		h.add(le, v)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.25, 50 * time.Millisecond}, // half-way into the first bucket, from 0
		{0.5, 100 * time.Millisecond}, // its top
		{0.7, 300 * time.Millisecond}, // half-way from 0.1 to 0.5
		{0.99, time.Second},           // the top of the last finite bucket
		{1, time.Second},              // in +Inf: the highest finite bound
	}
	for _, tt := range tests {
		if got, ok := h.quantile(tt.q); !ok || got != tt.want {
			t.Errorf("q%.2f = %s (%v), want %s", tt.q, got, ok, tt.want)
		}
	}
	before := histogram{0.1: 40, 0.5: 40, 1: 40, math.Inf(1): 40}
	if got, _ := h.since(before).quantile(0.5); got != 300*time.Millisecond {
		t.Errorf("the later 60's median = %s, want 300ms (10 under 0.1 s, 40 more under 0.5 s)", got)
	}
	if _, ok := (histogram{}).quantile(0.5); ok {
		t.Error("an empty histogram has a quantile")
	}
}
