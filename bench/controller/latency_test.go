package main

import (
	"testing"
	"time"
)

// TestAnalyseMeasuresFromTheLastChange checks the reaction latency: each
// write counts from the change just before it, events before the trigger
// and after the completion are left out.
func TestAnalyseMeasuresFromTheLastChange(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tl := map[string][]event{"ns/r": {
		{at: at(0), kind: evWrite, step: true},                // setup: ignored
		{at: at(1000), kind: evTrigger},                       // image changed
		{at: at(1030), kind: evWrite, step: true},             // canary started: 30 ms
		{at: at(1500), kind: evInput},                         // canary ready
		{at: at(1520), kind: evWrite, step: true},             // weight 25: 20 ms
		{at: at(1700), kind: evWrite},                         // message only: 180 ms, not a step
		{at: at(1540), kind: evInput},                         // route moved (arrives out of order)
		{at: at(1800), kind: evWrite, step: true, done: true}, // promoted: 100 ms
		{at: at(9000), kind: evWrite, step: true},             // after: ignored
	}}
	f := analyse(tl, []revisionTimes{{created: at(1030), ready: at(1500)}, {created: at(1)}})
	if got, want := f.stepLatency, []time.Duration{30e6, 20e6, 100e6}; !equal(got, want) {
		t.Errorf("step latencies %v, want %v", got, want)
	}
	if got, want := f.writeLatency, []time.Duration{30e6, 20e6, 160e6, 100e6}; !equal(got, want) {
		t.Errorf("write latencies %v, want %v", got, want)
	}
	if len(f.canary) != 1 || f.canary[0] != 800*time.Millisecond {
		t.Errorf("canary durations %v, want [800ms]", f.canary)
	}
	if len(f.ready) != 1 || f.ready[0] != 470*time.Millisecond {
		t.Errorf("ready %v, want [470ms]: a revision never ready is left out", f.ready)
	}
	if !f.stepping.Equal(at(1500)) {
		t.Errorf("stepping from %v, want the one canary's availability", f.stepping)
	}
	if !f.first.Equal(at(1000)) || !f.last.Equal(at(1800)) {
		t.Errorf("wall from %v to %v", f.first, f.last)
	}
}

func TestQuantileNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0.5: 50, 0.99: 99, 1: 100, 0: 1} {
		if got := quantile(ds, q); got != want {
			t.Errorf("quantile %v = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
