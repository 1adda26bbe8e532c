package main

import (
	"testing"
	"time"
)

func TestMachineBetweenWidensToWholeSamples(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := func(sec int, busy, total int64, apiserver time.Duration, api bool, writes float64) machineSample {
		return machineSample{at: t0.Add(time.Duration(sec) * time.Second), busy: busy, total: total,
			cpu: map[string]time.Duration{"kube-apiserver": apiserver}, apiOK: api, apiWrites: writes}
	}
	m := &machine{samples: []machineSample{
		s(0, 0, 0, 0, true, 0),
		s(1, 150, 200, time.Second, false, 0),
		s(2, 300, 400, 2*time.Second, false, 0),
		s(3, 450, 600, 3*time.Second, false, 0),
		s(5, 750, 1000, 5*time.Second, true, 500),
		s(4, 600, 800, 4*time.Second, false, 0), // appended late: a slow tick
	}}
	u, ok := m.between(t0.Add(1500*time.Millisecond), t0.Add(3*time.Second))
	if !ok {
		t.Fatal("no usage for a window inside the samples")
	}
	if u.span != 2*time.Second || u.busy != 0.75 || u.cores != 2 {
		t.Fatalf("span %s busy %.2f cores %.2f, want 2s 0.75 2 (samples at 1 s and 3 s)", u.span, u.busy, u.cores)
	}
	if u.cpu["kube-apiserver"] != 2*time.Second {
		t.Fatalf("kube-apiserver used %s, want 2s", u.cpu["kube-apiserver"])
	}
	if !u.apiBracketed || u.apiSpan != 5*time.Second || u.apiWrites != 500 {
		t.Fatalf("API: %v over %s, %v writes; want the scrapes at 0 s and 5 s", u.apiBracketed, u.apiSpan, u.apiWrites)
	}
	if u, _ := m.between(t0.Add(3*time.Second), t0.Add(3500*time.Millisecond)); u.span != time.Second {
		t.Fatalf("span %s, want 1s: the sample at 4 s, appended after the one at 5 s, ends the window", u.span)
	}
	if _, ok := m.between(t0.Add(4*time.Second), t0.Add(6*time.Second)); ok {
		t.Fatal("a window past the last sample has no usage")
	}
}
