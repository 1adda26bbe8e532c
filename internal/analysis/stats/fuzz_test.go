package stats

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzJudge feeds any sequence of windows — empty, huge, inconsistent,
// counter resets, odd histograms — under several configs, and checks the
// judge's invariants after each: Add refuses only impossible windows and
// never panics; the state is finite JSON (no NaN or Inf anywhere) and
// restores; Decide changes nothing; a Fail is final; a Pass needs
// MinRequests; bounds are ordered.
func FuzzJudge(f *testing.F) {
	f.Add([]byte{10, 1, 190, 0, 1, 7, 10, 0, 190, 1, 0, 0}, uint8(0), uint8(0), uint8(0))
	f.Add([]byte{255, 255, 255, 255, 1, 255, 0, 0, 0, 0, 0, 0, 250, 3, 251, 2, 1, 33}, uint8(1), uint8(2), uint8(3))
	f.Add([]byte{100, 100, 1, 1, 1, 0, 100, 100, 1, 1, 1, 0, 100, 100, 1, 1, 1, 0}, uint8(3), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, tol, thr, budget uint8) {
		cfg := Config{
			MaxRelativeRisk:   []float64{1, 1.5, 0.5, 10}[tol%4],
			MaxCanaryFailures: float64(budget % 8),
			Latency: LatencyConfig{
				Threshold: []float64{0, 0.01, 1, 200}[thr%4],
				Disabled:  thr%8 == 7,
			},
		}
		j := mustNew(t, cfg)
		failed := false
		for len(data) >= 6 {
			b := data[:6]
			data = data[6:]
			w := win(count(b[0]), count(b[1]), count(b[2]), count(b[3]))
			if b[4]&1 == 1 {
				w.Canary.Buckets = spread(w.Canary.Requests, b[5], b[4]>>1)
				w.Stable.Buckets = spread(w.Stable.Requests, b[5]>>3, b[4]>>3)
			}
			before := mustJSON(t, j.State())
			if err := j.Add(w); err != nil {
				if checkWindow(w) == nil {
					t.Fatalf("Add refused a possible window: %v", err)
				}
				if mustJSON(t, j.State()) != before {
					t.Fatal("a refused window changed the state")
				}
			}
			d := j.Decide()
			if a, b := mustJSON(t, d), mustJSON(t, j.Decide()); a != b {
				t.Fatal("Decide changed the judge")
			}
			if failed && d.Verdict != Fail {
				t.Fatalf("a failed canary became %s", d.Verdict)
			}
			failed = d.Verdict == Fail
			if d.Verdict == Pass && d.Evidence.CanaryRequests < j.Config().MinRequests {
				t.Fatalf("passed on %d canary requests", d.Evidence.CanaryRequests)
			}
			checkEvidence(t, d.Evidence.Errors)
			if l := d.Evidence.Latency; l != nil {
				checkEvidence(t, l.Slow)
			}
		}
		var st State
		if err := json.Unmarshal([]byte(mustJSON(t, j.State())), &st); err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(cfg, st); err != nil {
			t.Fatalf("the state does not restore: %v", err)
		}
	})
}

// count maps a byte to a count: small values as they are, the top few to
// the edges (none, a lot, more than a window holds, a wrapped counter).
func count(b byte) uint64 {
	switch b {
	case 250:
		return 0
	case 251:
		return 1 << 20
	case 252:
		return maxWindowCount
	case 253:
		return maxWindowCount + 1
	case 254, 255:
		return math.MaxUint64 - uint64(b)
	}
	return uint64(b)
}

// spread puts n requests in a histogram: most in one bucket, some in
// another (whatever n is, the histogram may not add up to the requests).
func spread(n uint64, at, extra byte) []uint64 {
	h := make([]uint64, histLen)
	h[int(at)%histLen] = n
	h[(int(at)+int(extra))%histLen] += uint64(extra)
	return h
}

func checkEvidence(t *testing.T, e RiskEvidence) {
	t.Helper()
	lo, hi := float64(e.Lower), float64(e.Upper)
	if math.IsNaN(lo) || math.IsNaN(hi) || lo > hi || lo < 0 {
		t.Fatalf("confidence sequence [%g, %g]", lo, hi)
	}
	if math.IsNaN(e.LogLR) || math.IsInf(e.LogLR, 0) || math.IsNaN(e.PeakLogLR) {
		t.Fatalf("log likelihood ratio %g (peak %g)", e.LogLR, e.PeakLogLR)
	}
	if r := float64(e.RelativeRisk); e.CanaryEvents+e.StableEvents > 0 && (math.IsNaN(r) || r < 0) {
		t.Fatalf("relative risk %g with %d and %d events", r, e.CanaryEvents, e.StableEvents)
	}
}
